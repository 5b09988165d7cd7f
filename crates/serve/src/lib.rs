//! What granian's protocol crates (`http1`, `http2`) and interface crates (`asgi`, ...) share:
//! the [`Handler`] an interface implements and a protocol drives, the [`ResponseBody`] it
//! answers with, the per-connection [`ConnInfo`], the accept loop over a listening socket,
//! the [`Shutdown`] phases every connection follows and the [`InFlight`] count that tells an idle
//! connection from a busy one. Knows nothing about Python nor about
//! any particular HTTP version.

mod body;
mod conn;
mod error;
mod incoming;
mod inflight;
mod listener;
mod shutdown;

pub use body::{BodyAborted, ResponseBody, StreamSender};
pub use conn::{ConnInfo, Handler, Scheme, error_response};
pub use error::Error;
pub use incoming::IncomingBody;
pub use inflight::{InFlight, InFlightGuard, TrackedBody};
pub use listener::{accept_loop, listener_from_fd, runtime};
pub use shutdown::{Phase, Shutdown, ShutdownWatch};
