//! `gatehouse-fetch` end to end, through an injected resolver and connector: the resolver says
//! what a name resolves to, the connector records the address it is asked for and, at most,
//! connects to a local server on 127.0.0.1. No test sends a packet beyond loopback, and none asks
//! a DNS server anything.

mod addresses;
mod answers;
mod documents;
mod rebinding;
mod support;
mod tls;
mod urls;
