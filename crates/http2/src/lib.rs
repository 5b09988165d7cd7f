//! HTTP/2 connections on hyper: with prior knowledge ([`serve_connection`]), and the HTTP/2 end
//! of the HTTP/1.1 `Upgrade: h2c` path ([`serve_upgraded`]: the upgrading request re-encoded as
//! stream 1's HEADERS, [`encode_request_head`] and [`stream_one_frames`], slipped into the
//! client's opening bytes by [`Injected`]; [`is_h2c_upgrade`] and [`decode_settings`] judge the
//! request that asks). A client flooding a connection with frames that carry nothing is
//! dropped (nginx's rule, in `flood.rs`). Request bodies are bounded by
//! [`granian_serve::admit`] (size, read timeout) and by a cap on the streams of one connection
//! receiving a body at once (beyond it, `REFUSED_STREAM`); responses by a send timeout, on the
//! socket's writes and on each stream whose window the client holds at zero (see `send`). The
//! responses of a connection's streams that are ready together go out in one write (`batch`). A
//! connection is bounded in time at both ends of its life: the client's preface and SETTINGS
//! frame must arrive within a deadline, and a connection left without an open stream is closed
//! after an idle timeout. Knows nothing of HTTP/1.1 connections, which version a connection
//! speaks (`granian_dispatch` decides), nor of Python; interfaces plug in through
//! [`granian_serve::Handler`].

mod batch;
mod conn;
mod error;
mod flood;
mod h2c;
mod limits;
mod opening;
mod send;
mod stream;

pub use conn::{PREFACE, serve_connection};
pub use error::Error;
pub use h2c::{Injected, decode_settings, encode_request_head, is_h2c_upgrade, serve_upgraded, stream_one_frames};
pub use limits::Http2Limits;
