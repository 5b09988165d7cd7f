//! The bridge between tokio threads and one asyncio event loop.
//!
//! # Design
//!
//! A request crosses threads twice: the tokio thread that parsed it hands it to the loop
//! thread that runs the application, and the application's answer goes back. The usual
//! bridge (`loop.call_soon_threadsafe` per event) takes the GIL on the tokio thread for
//! every hand-over and wakes the loop once per event, so under load the tokio threads and
//! the loop thread fight over the GIL and the loop's self-pipe is written per request.
//!
//! This bridge never takes the GIL off the loop thread:
//!
//! - Tokio → loop: [`LoopHandle::schedule`] pushes a Rust closure onto a mutex-guarded
//!   queue. Only the push that finds the queue empty writes to an `eventfd` the loop watches
//!   (`loop.add_reader`), so a burst of ready requests costs one wake-up and one read, and
//!   the loop then runs the whole batch in one callback, with the GIL it already holds.
//! - Loop → tokio: the application's calls (`send`, `receive`) run on the loop thread and
//!   talk to tokio through channels (oneshot, bounded mpsc, `Notify`), which need no GIL.
//! - Awaitables: a result known at once is returned as an awaitable that completes on its
//!   first step ([`Done`], [`Ready`]) instead of a future that costs a loop iteration; only
//!   a result that must wait (a body chunk not yet arrived, a full response channel) gets
//!   an asyncio future, resolved later by a scheduled closure via [`resolve`].
//!
//! Jobs dropped without running (the loop closed) drop what they captured, so channels they
//! held close and the tokio side sees it.
//!
//! # What asyncio interfaces share
//!
//! Every interface that runs its application on the loop (ASGI, RSGI) serves a request the
//! same way, so that lives here once: [`serve_request`] takes the request from the protocol
//! layer (small bodies read whole first, then a backpressure permit) and hands it to the
//! interface on the loop thread; [`launch`] starts the application on it (the call, the task,
//! the done-callback, an answer in its place when it fails), whatever the interface's
//! [`Responder`]; [`RequestBody`] feeds the rest of the body to the application with a bounded
//! queue; [`LoopContext`] holds the loop's methods, the error logger and the backpressured
//! [`LoopContext::send_chunk`] for streamed responses; [`respond_with_file`] answers with a file the
//! application names (RSGI `response_file`, ASGI `http.response.pathsend`), read on the runtime in
//! bounded chunks, never through Python. Websockets go the same way: [`serve_websocket`]
//! hands the request to the interface and waits for its decision, [`launch`] starts the
//! application, and a [`WebsocketSession`] carries messages both ways with a bound.

mod awaitable;
mod context;
mod file;
mod handle;
mod launch;
mod request;
mod websocket;

pub use awaitable::{Done, Ready, resolve};
pub use context::{LoopContext, TaskOutcome, reject};
pub use file::{FileBody, respond_with_file};
pub use handle::{Job, LoopHandle};
pub use launch::{Responder, launch, must_fail};
pub use request::{BodyEvent, Deliver, Read, RequestBody, RequestStart, serve_request};
pub use websocket::{
    WebsocketDecision, WebsocketDeliver, WebsocketEvent, WebsocketRead, WebsocketSession, WebsocketStart,
    serve_websocket,
};
