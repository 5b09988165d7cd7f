//! Websockets, the protocol half: recognising a websocket handshake (RFC 6455 §4.2.1 over an
//! HTTP/1.1 `Upgrade`, RFC 8441 extended CONNECT over HTTP/2), answering it (`101` with
//! `Sec-WebSocket-Accept`, or `200` on an HTTP/2 stream), turning the upgraded stream into a
//! tokio-tungstenite `WebSocketStream`, and driving it: message size limits (close 1009), server
//! pings with a timeout that drops dead peers, the closing handshake, and a close (1001) when the
//! server drains. Knows nothing about Python nor about application interfaces: an interface gets
//! a [`Handshake`], decides, and exchanges [`Message`]s through a [`Command`] channel and an
//! [`Inbox`] of its own.
//!
//! permessage-deflate (RFC 7692) is not negotiated: tungstenite has no support for it, so the
//! `Sec-WebSocket-Extensions` a client offers are declined by leaving them out of the answer.

mod driver;
mod error;
mod handshake;
mod limits;
mod message;

pub use driver::{Inbox, Pending};
pub use error::Error;
pub use handshake::{Handshake, accept_key, handshake, is_valid_key};
pub use limits::WebsocketLimits;
pub use message::{CLOSE_ABNORMAL, CLOSE_NO_STATUS, CLOSE_NORMAL, Command, Message, Utf8Bytes, is_sendable_close_code};
