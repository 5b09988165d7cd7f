//! The layers every request passes through before its interface, outermost first:
//!
//! 1. health and readiness probes, answered here: not counted, metered nor logged (with
//!    `health_access_log` they are answered at step 5 instead, and so are all three);
//! 2. the request count (`max_requests`);
//! 3. metrics;
//! 4. proxy headers and the URL path prefix;
//! 5. the access log;
//! 6. response compression;
//! 7. static files, answered without reaching the interface.
//!
//! Each layer is a [`Handler`] wrapping the next one; a layer that is switched off passes
//! requests straight through, and a server with none switched on skips them all (only counting
//! its requests). The `Server` header is not a layer: the protocol crates put it on every
//! response they send.

use std::sync::Arc;

use granian_health::{Health, HealthPaths};
use granian_serve::{Counted, Handler, RequestCount};

use crate::config::ServerConfig;

/// Whether `config` asks for any layer but the request count; without one, a server skips
/// [`compose`].
pub(crate) fn any(config: &ServerConfig) -> bool {
    let settings = &config.settings;
    config.metrics.is_some()
        || settings.static_files.is_some()
        || settings.compression.is_some()
        || settings.access_log.is_some()
        || !settings.proxy.is_off()
        || settings.probes.is_some()
}

/// Wrap `interface` in the layers `config` asks for, counting requests in `requests`.
pub(crate) fn compose<H: Handler>(
    interface: H,
    config: &ServerConfig,
    requests: RequestCount,
) -> impl Handler + use<H> {
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
    // Probes that are to be logged.
    let handler = Health::new(handler, probe_paths(config, true), Arc::clone(&config.readiness));
    // Access log.
    let handler = granian_accesslog::AccessLog::new(handler, settings.access_log.clone());
    // Proxy headers and the URL path prefix.
    let handler = granian_proxy::ProxyHeaders::new(handler, settings.proxy.clone());
    // Metrics.
    let handler = granian_metrics::Metered::new(handler, config.metrics.clone());
    // And once more here: the protocol layers move what the layers above the interface keep
    // per request (their own state, a few hundred bytes each) as a pointer.
    let handler = Counted::new(granian_serve::Boxed::new(handler), requests);
    // Probes, before anything else.
    Health::new(handler, probe_paths(config, false), Arc::clone(&config.readiness))
}

/// The probe paths answered at the layer whose `logged` is given, if any.
fn probe_paths(config: &ServerConfig, logged: bool) -> Option<HealthPaths> {
    let probes = config.settings.probes.as_ref()?;
    (probes.logged == logged).then(|| probes.paths.clone())
}
