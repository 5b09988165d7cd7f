//! What granian's protocol crates (`http1`, `http2`) and interface crates (`asgi`, ...) share:
//! the [`Handler`] an interface implements and a protocol drives, the [`ResponseBody`] it
//! answers with (a trailer section included), the [`Informational`] responses a protocol may let
//! an interface send ahead of it, the per-connection [`ConnInfo`] (with its [`TlsInfo`] on TLS),
//! the accept loop over a listening socket (TCP or Unix, [`Listener`]) and the [`Runtimes`] it
//! runs on (one multi-threaded runtime, or a single-threaded one per thread), the request body
//! limit ([`admit`]), the [`Shutdown`] phases every connection follows and the [`InFlight`] count
//! that tells an idle connection from a busy one, the [`ConnectionSlots`] that cap a worker's
//! connections (closing the idle ones first when they run short), the [`RequestCount`] a worker
//! checks against its `max_requests`, and small pieces more than one protocol needs ([`lists_token`],
//! [`add_server_header`], [`write_through!`]). Knows nothing about Python nor about any
//! particular HTTP version.

mod body;
mod conn;
mod counted;
mod error;
mod headers;
mod incoming;
mod inflight;
mod informational;
mod limit;
mod listener;
mod origin;
mod runtimes;
mod shutdown;
mod slots;
mod tally;
mod write_through;

pub use body::{BodyAborted, ResponseBody, StreamSender};
pub use conn::{Boxed, ConnInfo, Handler, Scheme, TlsInfo, error_response, only_get_or_head};
pub use counted::{Counted, RequestCount};
pub use error::Error;
pub use headers::{add_server_header, lists_token};
pub use incoming::{BodyError, IncomingBody, Limited};
pub use inflight::{InFlight, InFlightGuard, TrackedBody};
pub use informational::{Informational, is_informational};
pub use limit::{BodyOverflow, TooLarge, admit, payload_too_large, within_limit};
pub use listener::{AcceptFailure, Listener, Stream, accept_loop, listener_from_fd};
pub use origin::{ClientAddr, RequestOrigin};
pub use runtimes::{RUNTIME_THREAD_NAME, RuntimeMode, RuntimeSettings, Runtimes};
pub use shutdown::{Phase, Shutdown, ShutdownWatch};
pub use slots::{ConnectionSlots, Room, Slot};
pub use tally::Tallied;
