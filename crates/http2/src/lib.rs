//! HTTP/2 connections over cleartext: with prior knowledge, told apart from HTTP/1.1 on a
//! shared port by the connection preface ([`sniff`]), and reached from HTTP/1.1 through
//! `Upgrade: h2c` ([`H2cUpgrade`]). [`serve`] picks among them for a [`HttpMode`]; [`serve_tls`]
//! picks by the protocol a TLS handshake agreed on (ALPN). Knows
//! nothing about Python; interfaces plug in through [`granian_serve::Handler`].

mod conn;
mod dispatch;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod h2c;
mod limits;
mod sniff;

pub use conn::serve_connection;
pub use dispatch::{HttpMode, Protocols, serve, serve_tls};
pub use error::Error;
pub use h2c::{
    FirstBody, H2cUpgrade, Injected, decode_settings, encode_request_head, is_h2c_upgrade, stream_one_frames,
};
pub use limits::Http2Limits;
pub use sniff::{PREFACE, Prefixed, Sniffed, classify, sniff};
