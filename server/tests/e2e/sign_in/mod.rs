//! Attacks on the sign-in flow, end to end (shared/reference/security-matrix.md §1.1–1.4, §1.7,
//! §2.1): a browser-like driver sends each bad request, checks the exact answer (status, error
//! code, `state` and `iss` where they belong) and then checks that nothing changed: no code
//! came out, the legitimate tokens still work, a refused sign-in left no session.
//!
//! # Layout
//! - [`driver`]: the browser (one cookie, the pages' hidden fields), the clients, the shared
//!   assertions.
//! - `redirect_uris` (§1.1), `pkce` (§1.2), `codes` (§1.3), `refresh` (§1.4), `pages` (§1.7),
//!   `session` (CSRF, fixation, `prompt`, the sign-in limit, disabled users), `endpoints` (PAR,
//!   UserInfo, logout).

pub(crate) mod driver;

mod codes;
mod endpoints;
mod pages;
mod pkce;
mod redirect_uris;
mod refresh;
mod session;
