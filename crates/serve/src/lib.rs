//! What granian's protocol crates (`http1`, `http2`) and interface crates (`asgi`, ...) share:
//! the [`Handler`] an interface implements and a protocol drives, the [`ResponseBody`] it
//! answers with (a trailer section included), the [`Informational`] responses a protocol may let
//! an interface send ahead of it, the per-connection [`ConnInfo`] (with its [`TlsInfo`] on TLS),
//! the accept loop over a listening socket (TCP or Unix, [`Listener`]) and the [`Runtimes`] it
//! runs on (one multi-threaded runtime, or a single-threaded one per thread), the request body
//! limits ([`admit`], [`within_limits`]), the [`Shutdown`] phases every connection follows and the [`InFlight`] count
//! that tells an idle connection from a busy one, the [`ConnectionSlots`] that cap a worker's
//! connections (closing the idle ones first when they run short), the [`RequestCount`] a worker
//! checks against its `max_requests`, and small pieces more than one protocol needs ([`lists_token`],
//! [`add_default_headers`], [`write_through!`]). Knows nothing about Python nor about any
//! particular HTTP version.
//!
//! # Slow clients
//!
//! A client that stops sending a request body, or stops taking a response, must not hold a
//! request slot, a thread or a worker. Both waits are bounded here, once, for every protocol and
//! interface, by a [`Stall`]: a timer that bounds one wait on the peer (not a whole transfer, as
//! nginx's `client_body_timeout` and `send_timeout`), armed only when the operation is found
//! waiting and disarmed by any progress.
//!
//! - Reading: [`admit`] hands a request body on as a [`Guarded`] body whose reads each wait at
//!   most the read timeout. A read past it fails ([`BodyError::TimedOut`]), which the interface
//!   reports to the application as a disconnect, and the protocol layer learns of it through a
//!   [`BodyWatch`]: [`within_limits`] answers `408` if the response has not started and cuts the
//!   response off otherwise.
//! - Writing: [`BoundedWrites`] wraps a connection (and a websocket's upgraded stream) so that a
//!   write the peer does not take within the send timeout fails, which ends the connection and,
//!   with it, the response body the application feeds. HTTP/2 streams held by flow control are
//!   bounded by the `http2` crate on the same principle.
//!
//! On the hot path, a request without a body costs nothing; one with a body costs one small
//! allocation (the [`BodyWatch`] channel) and a branch per frame. A timer is allocated the first
//! time a read or a write of that body or connection has to wait, and merely reset afterwards:
//! no allocation nor timer per frame, and no clock read while the peer keeps up.
//!
//! # The request path
//!
//! Every layer between a connection and its interface is paid on every request, so each one is
//! free when it is not in use, and cheap when it is:
//!
//! - A future that wraps the interface's request future ([`within_limits`], the protocol layers'
//!   own) is a struct with a pinned field, not an `async` block. A block that awaits a future it
//!   was given keeps room for it twice, and the whole request future is copied each time it
//!   moves (into an HTTP/2 stream's task, say): 8 KiB instead of 1 KiB per stream, measured.
//! - What a connection waits on besides its I/O (the server draining, its slot reclaimed, the
//!   HTTP/2 idle timer) is polled only when it was woken ([`WhenWoken`]): those wait on a
//!   `Notify`, whose every poll takes a lock, and the connection's task wakes several times per
//!   request.
//! - Counting requests in flight ([`InFlight`]) wakes no one; a connection that needs to know
//!   since when it is idle asks when its own timer fires.
//! - Informational responses are offered only to an interface that sends them
//!   ([`Handler::INFORMATIONAL`]).

mod body;
mod conn;
mod counted;
mod error;
mod headers;
mod incoming;
mod inflight;
mod informational;
mod lease;
mod limit;
mod listener;
mod origin;
mod runtimes;
mod shutdown;
mod slots;
mod stall;
mod tally;
mod woken;
mod write_through;
mod writes;

pub use body::{BodyAborted, ResponseBody, StreamSender};
pub use conn::{Boxed, ConnInfo, Handler, Scheme, TlsInfo, error_response, only_get_or_head};
pub use counted::{Counted, RequestCount};
pub use error::Error;
pub use headers::{add_default_headers, lists_token};
pub use incoming::{BodyError, BodyFault, Guarded, IncomingBody};
pub use inflight::{InFlight, InFlightGuard, TrackedBody};
pub use informational::{Informational, InformationalSink, is_informational};
pub use lease::TunnelLease;
pub use limit::{
    BodyLimits, BodyWatch, TooLarge, WithinLimits, admit, is_empty, payload_too_large, request_timeout, within_limits,
};
pub use listener::{AcceptFailure, Listener, Stream, accept_loop, listener_from_fd};
pub use origin::{ClientAddr, RequestOrigin};
pub use runtimes::{RUNTIME_THREAD_NAME, RuntimeMode, RuntimeSettings, Runtimes, drives_current_thread_runtime};
pub use shutdown::{Phase, Shutdown, ShutdownWatch};
pub use slots::{ConnectionSlots, Room, Slot};
pub use stall::{FOREVER, Stall};
pub use tally::Tallied;
pub use woken::WhenWoken;
pub use writes::BoundedWrites;
