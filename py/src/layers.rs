//! The layers every request passes through before its interface, outermost first:
//!
//! 1. the request count (`max_requests`), in `server.rs`;
//! 2. metrics;
//! 3. proxy headers and the URL path prefix;
//! 4. the access log;
//! 5. response headers (`Server`) and response compression;
//! 6. static files, answered without reaching the interface.
//!
//! Each layer is a [`Handler`] wrapping the next one; a layer that is switched off passes
//! requests straight through.

use granian_serve::Handler;

use crate::config::ServerConfig;

/// Wrap `interface` in the layers `config` asks for.
#[allow(clippy::let_and_return, clippy::redundant_locals, reason = "one binding per layer")]
pub(crate) fn compose<H: Handler>(interface: H, config: &ServerConfig) -> impl Handler + use<H> {
    let _ = config;
    let handler = interface;
    // -- static files: layer
    let handler = handler;
    // -- response headers and compression: layer
    let handler = handler;
    // -- access log: layer
    let handler = handler;
    // -- proxy headers and url path prefix: layer
    let handler = handler;
    // -- metrics: layer
    let handler = handler;
    handler
}
