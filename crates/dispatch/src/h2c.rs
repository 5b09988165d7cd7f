use std::sync::Arc;

use bytes::Bytes;
use granian_http1::Upgrades;
use granian_http2::{Http2Limits, is_h2c_upgrade, serve_upgraded};
use granian_serve::{ConnInfo, Handler, ShutdownWatch};
use http::{HeaderMap, HeaderValue, Request};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;

/// Switches the HTTP/1.1 connections that ask for it (RFC 7540 §3.2, see
/// [`is_h2c_upgrade`]) to HTTP/2, served with the handler.
#[derive(Clone)]
pub struct H2cUpgrade<H> {
    handler: H,
    conn: Arc<ConnInfo>,
    limits: Arc<Http2Limits>,
}

impl<H> H2cUpgrade<H> {
    /// Upgrades for one connection.
    pub fn new(handler: H, conn: Arc<ConnInfo>, limits: Arc<Http2Limits>) -> Self {
        Self { handler, conn, limits }
    }
}

impl<H: Handler> Upgrades for H2cUpgrade<H> {
    fn accept(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        is_h2c_upgrade(headers).then_some(HeaderValue::from_static("h2c"))
    }

    fn serve(
        &self,
        request: Request<Bytes>,
        io: TokioIo<Upgraded>,
        watch: ShutdownWatch,
    ) -> impl Future<Output = ()> + Send + 'static {
        let handler = self.handler.clone();
        let conn = Arc::clone(&self.conn);
        let limits = Arc::clone(&self.limits);
        async move {
            // Errors end the connection; hyper already sent GOAWAY where it could.
            let _ = serve_upgraded(io, request, handler, conn, &limits, watch).await;
        }
    }
}
