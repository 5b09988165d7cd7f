//! HTTP/1.1 connections: from an accepted socket to requests handed to an interface, with
//! keep-alive, pipelining, chunked bodies, `Expect: 100-continue`, a header read timeout and an
//! idle keep-alive timeout (see `deadline`), and informational responses such as `103 Early
//! Hints` ahead of the final one (see `interim`: each HTTP/1.1 request carries a
//! [`granian_serve::Informational`] when [`Http1Limits::informational`] is set, for an interface
//! that sends them). Malformed heads get 400, oversized heads 431, oversized
//! bodies 413 (see [`granian_serve::admit`]), and the connection closes. A response body that
//! fails is cut short once what was written of it has gone out (see `flushed`). A request may
//! switch the connection to another protocol through [`Upgrades`] (RFC 9110 §7.8). Knows nothing
//! about Python; interfaces plug in through [`granian_serve::Handler`].

mod conn;
mod deadline;
mod error;
mod flushed;
#[cfg(fuzzing)]
pub mod fuzzing; // reaches internals for fuzz targets only
mod interim;
mod limits;
#[cfg(any(test, fuzzing))]
mod testing;
mod upgrade;

pub use conn::{DRAIN_LINGER, serve_connection};
pub use error::Error;
pub use limits::Http1Limits;
pub use upgrade::{NoUpgrades, UPGRADE_BODY_LIMIT, Upgrades};
