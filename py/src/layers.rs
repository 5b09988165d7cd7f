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
    let settings = &config.settings;
    config.metrics.is_some()
        || settings.static_files.is_some()
        || settings.compression.is_some()
        || settings.access_log.is_some()
        || !settings.proxy.is_off()
}

/// Wrap `interface` in the layers `config` asks for.
pub(crate) fn compose<H: Handler>(interface: H, config: &ServerConfig) -> impl Handler + use<H> {
    let settings = &config.settings;
    // Metrics: stage markers (how far a request went, to count static files apart).
    let metered = config.metrics.is_some();
    // The interface's request future is large: boxed once here, the layers below move a pointer.
    let handler = granian_serve::Boxed::new(interface);
    let handler = granian_metrics::Reached::new(handler, granian_metrics::Stage::Application, metered);
    // Static files.
    let handler = granian_staticfiles::StaticFiles::new(handler, settings.static_files.clone());
    let handler = granian_metrics::Reached::new(handler, granian_metrics::Stage::StaticFiles, metered);
    // Response compression (the `Server` header is the protocol layers').
    let handler = granian_compress::ResponseLayer::new(handler, settings.compression.clone());
    // Access log.
    let handler = granian_accesslog::AccessLog::new(handler, settings.access_log.clone());
    // Proxy headers and the URL path prefix.
    let handler = granian_proxy::ProxyHeaders::new(handler, settings.proxy.clone());
    // Metrics.
    let handler = granian_metrics::Metered::new(handler, config.metrics.clone());
    // And once more here: the protocol layers move what the layers above the interface keep
    // per request (their own state, a few hundred bytes each) as a pointer.
    granian_serve::Boxed::new(handler)
}
