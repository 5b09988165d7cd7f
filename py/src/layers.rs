//! The layers every request passes through before its interface, outermost first:
//!
//! 1. the request count (`max_requests`), in `server.rs`;
//! 2. metrics;
//! 3. proxy headers and the URL path prefix;
//! 4. the access log;
//! 5. response compression;
//! 6. static files, answered without reaching the interface.
//!
//! Each layer is a [`Handler`] wrapping the next one; a layer that is switched off passes
//! requests straight through, and a server with none switched on skips them all. The `Server`
//! header is not a layer: the protocol crates put it on every response they send.

use granian_serve::Handler;

use crate::config::ServerConfig;

/// Whether `config` asks for any layer; without one, a server skips [`compose`].
pub(crate) fn any(config: &ServerConfig) -> bool {
    config.metrics().is_some()
        || config.static_files().is_some()
        || config.compression().is_some()
        || config.access_log_sink().is_some()
        || !config.proxy.is_off()
}

/// Wrap `interface` in the layers `config` asks for.
pub(crate) fn compose<H: Handler>(interface: H, config: &ServerConfig) -> impl Handler + use<H> {
    // Metrics: stage markers (how far a request went, to count static files apart).
    let metered = config.metrics().is_some();
    // The interface's request future is large: boxed once here, the layers below move a pointer.
    let handler = granian_serve::Boxed::new(interface);
    let handler = granian_metrics::Reached::new(handler, granian_metrics::Stage::Application, metered);
    // Static files.
    let handler = granian_staticfiles::StaticFiles::new(handler, config.static_files());
    let handler = granian_metrics::Reached::new(handler, granian_metrics::Stage::StaticFiles, metered);
    // Response compression (the `Server` header is the protocol layers').
    let handler = granian_compress::ResponseLayer::new(handler, config.compression());
    // Access log.
    let handler = granian_accesslog::AccessLog::new(handler, config.access_log_sink());
    // Proxy headers and the URL path prefix.
    let handler = granian_proxy::ProxyHeaders::new(handler, config.proxy.clone());
    // Metrics.
    let handler = granian_metrics::Metered::new(handler, config.metrics().cloned());
    // And once more here: the protocol layers move what the layers above the interface keep
    // per request (their own state, a few hundred bytes each) as a pointer.
    granian_serve::Boxed::new(handler)
}
