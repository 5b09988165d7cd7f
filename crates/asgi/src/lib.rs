//! The ASGI 3 interface (spec 2.4): http requests become `app(scope, receive, send)` calls on an
//! asyncio loop, with request bodies streamed to `receive`, responses streamed from `send` with
//! backpressure, and `http.disconnect` when the client goes away. Responses may use the extensions
//! `http.response.pathsend` (a file sent from the runtime), `http.response.trailers` and, when the
//! protocol can send informational responses, `http.response.early_hint`. Websocket requests (when
//! enabled) get a `websocket` scope, with the denial response extension. Knows nothing about HTTP
//! versions: it serves whatever [`granian_serve::Handler`] requests a protocol hands it. Lifespan
//! runs in Python, before the server starts.

mod error;
mod handler;
mod receive;
mod scope;
mod send;
mod websocket;

use pyo3::prelude::*;

pub use error::{ClientDisconnected, Error};
pub use handler::{AsgiHandler, AsgiOptions};

/// Add the interface's Python-visible names to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ClientDisconnected", m.py().get_type::<ClientDisconnected>())?;
    m.add_class::<receive::AsgiReceive>()?;
    m.add_class::<send::AsgiSend>()?;
    m.add_class::<websocket::AsgiWebsocketReceive>()?;
    m.add_class::<websocket::AsgiWebsocketSend>()
}
