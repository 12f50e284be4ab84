//! Storage for Gatehouse: implementations of `gatehouse-core`'s storage traits.
//!
//! # Layout
//! - [`embedded`]: [`EmbeddedStore`], one redb file in the data directory, one module per
//!   aggregate; the default for a single node. ACID, fsync on every commit, so a write is durable
//!   before the response that made it. It passes the one store suite of
//!   `gatehouse_core::testing::suite`, as every backend must.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod embedded;

pub use embedded::{EmbeddedStore, OpenError};
