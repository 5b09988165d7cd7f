//! Which HTTP version a connection speaks, and the protocol crates composed accordingly: the
//! [`HttpMode`] a server runs in, the connection preface that tells HTTP/2 with prior knowledge
//! from HTTP/1.1 on a shared port ([`sniff`]), the protocol a TLS handshake agreed on (ALPN),
//! and the HTTP/1.1 `Upgrade: h2c` path ([`H2cUpgrade`], `granian_http1` switching the
//! connection over to `granian_http2`). [`serve`] and [`serve_tls`] take an accepted connection
//! to the right protocol; an HTTP/2-only server answers other HTTP/1.1 requests with 505.
//! Neither protocol crate knows of the other: they meet here. Knows nothing about Python;
//! interfaces plug in through [`granian_serve::Handler`].

mod dispatch;
#[cfg(fuzzing)]
pub mod fuzzing; // reaches internals for fuzz targets only
mod h2c;
mod sniff;
#[cfg(any(test, fuzzing))]
mod testing;

pub use dispatch::{HttpMode, Protocols, serve, serve_tls};
pub use h2c::H2cUpgrade;
pub use sniff::{Prefixed, Sniffed, classify, sniff};
