//! The `granian._native` Python module: composes the protocol crates (`http1`, `http2`, joined
//! by `dispatch`) and the interface crates (`asgi`, `rsgi`, `wsgi`) into servers the Python
//! package drives. Nothing here speaks a protocol or an interface itself.

mod access_log;
mod config;
mod health;
mod http3;
mod layers;
mod metrics;
mod proxy_protocol;
mod server;

use pyo3::prelude::*;

/// Rust allocations (request and response heads, tasks, buffers) come from mimalloc: fewer
/// cycles per request than glibc's malloc with a loop thread and runtime threads freeing each
/// other's memory. `no_thp` keeps it from asking for huge pages, which would add megabytes of
/// resident memory to an idle worker; `local_dynamic_tls` because the module is loaded with
/// `dlopen`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
