//! Websockets, the protocol half: recognising a websocket handshake (RFC 6455 §4.2.1 over an
//! HTTP/1.1 `Upgrade`, RFC 8441 extended CONNECT over HTTP/2), answering it (`101` with
//! `Sec-WebSocket-Accept`, or `200` on an HTTP/2 stream), negotiating permessage-deflate
//! (RFC 7692) when the client offers it, turning the upgraded stream into a yawc `WebSocket`,
//! and driving it: message size limits (close 1009, counted after decompression), server pings
//! with a timeout that drops dead peers, the closing handshake, and a close (1001) when the
//! server drains. Knows nothing about Python nor about application interfaces: an interface gets
//! a [`Handshake`], decides, and exchanges [`Message`]s through a [`Command`] channel and an
//! [`Inbox`] of its own.
//!
//! permessage-deflate is accepted for the first offer the server can honour (see
//! [`PerMessageDeflate::negotiate`]) unless [`WebsocketLimits::deflate`] is off; the server
//! compresses with a 15-bit window, so an offer asking for a smaller server window is declined.

mod deflate;
mod driver;
mod error;
#[cfg(fuzzing)]
pub mod fuzzing; // reaches internals for fuzz targets only
mod handshake;
mod limits;
mod message;
#[cfg(any(test, fuzzing))]
mod testing;

pub use deflate::PerMessageDeflate;
pub use driver::{Inbox, Pending};
pub use error::Error;
pub use handshake::{Handshake, accept_key, handshake, is_valid_key};
pub use limits::WebsocketLimits;
pub use message::{CLOSE_ABNORMAL, CLOSE_NO_STATUS, CLOSE_NORMAL, Command, Message, Utf8Bytes, is_sendable_close_code};
