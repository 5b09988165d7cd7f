//! The WSGI interface (PEP 3333): requests parsed on the runtime are handed to a pool of
//! blocking Python threads, each of which builds the environ, calls `app(environ,
//! start_response)` and streams the response body back through a bounded channel. The pool
//! starts one thread and grows when a request finds none free, up to its limit; a thread beyond
//! the last that stays idle for the idle timeout exits. A request reaches a thread once its body
//! arrived, or its first 64 KiB; the rest is read from the connection as `wsgi.input` is read.
//! Every wait for the client happens without the GIL, is bounded by the protocol layer's
//! timeouts, and lets another thread take the waiting one's place in the pool: slow or stalled
//! clients never hold the pool. Knows nothing about HTTP versions:
//! it serves whatever [`granian_serve::Handler`] requests a protocol hands it.

mod environ;
mod error;
mod file;
mod handler;
mod input;
mod log;
mod pool;
mod response;

use pyo3::prelude::*;

pub use environ::{cgi_headers, path_info, server_protocol};
pub use error::Error;
pub use handler::{WsgiHandler, WsgiOptions};
pub use response::parse_status;

/// Add the interface's Python-visible names to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<file::FileWrapper>()?;
    m.add_class::<input::WsgiInput>()?;
    m.add_class::<log::WsgiErrors>()?;
    m.add_class::<response::StartResponse>()?;
    m.add_class::<response::WsgiWrite>()
}
