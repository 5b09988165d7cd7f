//! What granian's protocol crates (`http1`, `http2`) and interface crates (`asgi`, ...) share:
//! the [`Handler`] an interface implements and a protocol drives, the [`ResponseBody`] it
//! answers with, the per-connection [`ConnInfo`], the accept loop over a listening socket and
//! the [`Shutdown`] phases every connection follows. Knows nothing about Python nor about
//! any particular HTTP version.

mod body;
mod conn;
mod error;
mod listener;
mod shutdown;

pub use body::{BodyAborted, ResponseBody, StreamSender};
pub use conn::{ConnInfo, Handler, Scheme, error_response};
pub use error::Error;
pub use listener::{accept_loop, listener_from_fd, runtime};
pub use shutdown::{Phase, Shutdown, ShutdownWatch};
