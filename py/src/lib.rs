//! The `granian._native` Python module: composes the protocol crates (`http1`, `http2`) and
//! the interface crates (`asgi`, `rsgi`, `wsgi`) into servers the Python package drives. Nothing here speaks
//! a protocol or an interface itself.

mod access_log;
mod config;
mod layers;
mod metrics;
mod server;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<config::ServerConfig>()?;
    m.add_class::<access_log::AccessLogQueue>()?;
    m.add_class::<metrics::MetricsRegion>()?;
    m.add_class::<server::AsgiServer>()?;
    m.add_class::<server::RsgiServer>()?;
    m.add_class::<server::WsgiServer>()?;
    m.add("ProtocolError", m.py().get_type::<server::ProtocolError>())?;
    m.add("TlsError", m.py().get_type::<server::TlsError>())?;
    granian_asgi::register(m)?;
    granian_rsgi::register(m)?;
    granian_wsgi::register(m)
}
