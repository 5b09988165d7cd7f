//! The PROXY protocol (`proxy-protocol.txt` of `HAProxy`, versions 1 and 2): the header a load
//! balancer writes at the start of a connection to say whose connection it relays. [`parse`]
//! reads a header from the bytes received so far (or says how many more it needs), [`read`]
//! takes one off a connection and hands back the bytes that followed it, [`take`] takes one off
//! a connection that can be peeked at ([`Peek`], a socket) and leaves what follows unread, and
//! [`encode_v1`] / [`encode_v2`] write one (for tests and tools). Only the parts a server acts on are kept:
//! the command, the client and server addresses, and the TLS, authority (SNI) and ALPN TLVs of
//! version 2. A malformed or truncated header is an [`Error`]; the caller closes the
//! connection. Whom to believe is the caller's decision: this crate only parses.

mod error;
mod header;
mod parse;
mod read;
mod take;

pub use error::Error;
pub use header::{Addresses, Command, ProxyHeader, TlsTlv};
pub use parse::{MAX_V1_LEN, Parsed, SIGNATURE_V2, encode_v1, encode_v2, parse};
pub use read::read;
pub use take::{MAX_HEADER, Peek, take};
