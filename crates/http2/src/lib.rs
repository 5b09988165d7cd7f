//! HTTP/2 connections over cleartext (h2c with prior knowledge), and telling them apart from
//! HTTP/1.1 on a shared port by the connection preface ([`sniff`]). Knows nothing about
//! Python; interfaces plug in through [`granian_serve::Handler`].

mod conn;
mod error;
mod limits;
mod sniff;

pub use conn::serve_connection;
pub use error::Error;
pub use limits::Http2Limits;
pub use sniff::{PREFACE, Prefixed, Sniffed, classify, sniff};
