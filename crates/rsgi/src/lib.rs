//! The RSGI interface (spec 1.6, HTTP): each request becomes an `app(scope, protocol)` call on
//! an asyncio loop. The scope is an object whose attributes are computed when read; the
//! protocol reads the request body (whole, or as an async iterator, streamed with
//! backpressure) and sends one response: empty, `str`, `bytes`, a file or a range of one (read
//! in bounded chunks), or a stream whose sends wait for the client. Misuse raises
//! `RSGIProtocolError`; using a protocol whose client left or whose response is complete raises
//! `RSGIProtocolClosed`. Knows nothing about HTTP versions: it serves whatever
//! [`granian_serve::Handler`] requests a protocol hands it. Websocket requests (when enabled)
//! get a `ws` scope and a websocket protocol: `accept()` gives a transport that receives and
//! sends messages, `close(status)` refuses (before the accept) or closes (after it).

mod error;
mod handler;
mod headers;
mod protocol;
mod response;
mod scope;
mod websocket;

use pyo3::prelude::*;

pub use error::{Error, RSGIProtocolClosed, RSGIProtocolError};
pub use handler::{RsgiHandler, RsgiOptions};
pub use headers::{RsgiHeaders, header_text};
pub use response::response_head;
pub use scope::{RSGI_VERSION, RsgiScope, decode_path, http_version};

/// Add the interface's Python-visible names to the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("RSGIProtocolError", py.get_type::<RSGIProtocolError>())?;
    m.add("RSGIProtocolClosed", py.get_type::<RSGIProtocolClosed>())?;
    m.add_class::<RsgiHeaders>()?;
    m.add_class::<RsgiScope>()?;
    m.add_class::<protocol::RsgiProtocol>()?;
    m.add_class::<protocol::RsgiTransport>()?;
    m.add_class::<websocket::RsgiWebsocketProtocol>()?;
    m.add_class::<websocket::RsgiWebsocketTransport>()?;
    m.add_class::<websocket::RsgiWebsocketMessage>()
}
