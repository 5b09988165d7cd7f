use std::sync::Arc;

use granian_http1::{Http1Limits, NoUpgrades, Upgrades};
use granian_http2::{Http2Limits, serve_connection};
use granian_serve::{ConnInfo, Handler, IncomingBody, ResponseBody, ShutdownWatch, error_response};
use http::{HeaderValue, Request, Response, StatusCode, header};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{H2cUpgrade, Sniffed, sniff};

/// Which protocols a server speaks on its port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMode {
    /// HTTP/1.1, HTTP/2 with prior knowledge (told apart by the preface), and the HTTP/1.1
    /// `Upgrade: h2c` path.
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only: with prior knowledge, or reached through `Upgrade: h2c`; any other
    /// HTTP/1.1 request gets 505.
    Http2,
}

/// Everything that decides how a connection is served.
#[derive(Debug, Clone)]
pub struct Protocols {
    /// The protocols spoken.
    pub mode: HttpMode,
    /// HTTP/1.1 limits (also bound the wait for the first bytes in `Auto` and `Http2`).
    pub http1: Http1Limits,
    /// HTTP/2 limits.
    pub http2: Arc<Http2Limits>,
}

/// Serve one accepted connection with the protocols `protocols` names. Protocol errors end
/// the connection; hyper has answered what it could by then.
pub async fn serve<I, H>(io: I, handler: H, conn: Arc<ConnInfo>, protocols: &Protocols, watch: ShutdownWatch)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    if protocols.mode == HttpMode::Http1 {
        let _ = granian_http1::serve_connection(io, handler, conn, &protocols.http1, watch, None::<NoUpgrades>).await;
        return;
    }
    let upgrade = H2cUpgrade::new(handler.clone(), Arc::clone(&conn), Arc::clone(&protocols.http2));
    serve_sniffed(io, handler, conn, protocols, watch, Some(upgrade)).await;
}

/// Serve one connection whose TLS handshake is done. The protocol agreed through ALPN decides
/// (`h2` is HTTP/2, RFC 9113 §3.3; `http/1.1` HTTP/1.1); a client that offered no protocol the
/// server speaks is told apart by its first bytes, as in cleartext. `Upgrade: h2c` is not
/// honoured over TLS (RFC 9113 §3.2 defines it for cleartext only).
pub async fn serve_tls<I, H>(
    io: I,
    handler: H,
    conn: Arc<ConnInfo>,
    protocols: &Protocols,
    watch: ShutdownWatch,
    alpn: Option<&[u8]>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let http1 = &protocols.http1;
    match alpn {
        Some(b"h2") if protocols.mode != HttpMode::Http1 => {
            let _ = serve_connection(io, handler, conn, &protocols.http2, watch).await;
        }
        Some(_) | None if protocols.mode == HttpMode::Http1 => {
            let _ = granian_http1::serve_connection(io, handler, conn, http1, watch, None::<NoUpgrades>).await;
        }
        Some(_) if protocols.mode == HttpMode::Auto => {
            let _ = granian_http1::serve_connection(io, handler, conn, http1, watch, None::<NoUpgrades>).await;
        }
        Some(_) => {
            let refuse = VersionNotSupported;
            let _ = granian_http1::serve_connection(io, refuse, conn, http1, watch, None::<NoUpgrades>).await;
        }
        None => serve_sniffed(io, handler, conn, protocols, watch, None::<NoUpgrades>).await,
    }
}

/// Serve a connection that may speak either version (`protocols.mode` is not `Http1`), told
/// apart by its first bytes: HTTP/2 with prior knowledge, or HTTP/1.1 with `upgrades` (which
/// an HTTP/2-only server still honours, answering other requests with 505). A peer that sends
/// nothing within the header read timeout is dropped.
async fn serve_sniffed<I, H, U>(
    io: I,
    handler: H,
    conn: Arc<ConnInfo>,
    protocols: &Protocols,
    watch: ShutdownWatch,
    upgrades: Option<U>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
    U: Upgrades,
{
    let http1 = &protocols.http1;
    let sniffing = sniff(io);
    let sniffed = match http1.header_read_timeout {
        Some(limit) => tokio::time::timeout(limit, sniffing).await.ok(),
        None => Some(sniffing.await),
    };
    match sniffed {
        Some(Ok((Sniffed::Http2, io))) => {
            let _ = serve_connection(io, handler, conn, &protocols.http2, watch).await;
        }
        Some(Ok((Sniffed::Http1, io))) if protocols.mode == HttpMode::Auto => {
            let _ = granian_http1::serve_connection(io, handler, conn, http1, watch, upgrades).await;
        }
        Some(Ok((Sniffed::Http1, io))) => {
            let refuse = VersionNotSupported;
            let _ = granian_http1::serve_connection(io, refuse, conn, http1, watch, upgrades).await;
        }
        Some(Err(_)) | None => {}
    }
}

/// Answers every HTTP/1.1 request that did not upgrade on an HTTP/2-only server.
#[derive(Debug, Clone, Copy)]
struct VersionNotSupported;

impl Handler for VersionNotSupported {
    fn handle(
        &self,
        _request: Request<IncomingBody>,
        _conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
        let mut response = error_response(StatusCode::HTTP_VERSION_NOT_SUPPORTED);
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        std::future::ready(response)
    }
}
