//! The access log: one line per request, written once its response body ended so the
//! duration and byte count are final. The [`AccessLog`] layer sees every request in front of
//! the interfaces (static files and websocket upgrades included), renders the line with a
//! [`Format`] compiled once from a Python %-style template (or as JSON), and pushes it into a
//! bounded [`LineQueue`] that a logging thread drains; serving never waits on logging.
//! Knows nothing about Python.

mod clock;
mod error;
mod layer;
mod queue;
mod template;

pub use error::Error;
pub use layer::{AccessLog, AccessLogSink};
pub use queue::LineQueue;
pub use template::{Format, Record};
