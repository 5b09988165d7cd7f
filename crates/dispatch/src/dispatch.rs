use std::sync::Arc;
use std::time::Duration;

use granian_http1::{DRAIN_LINGER, Http1Limits, NoUpgrades, Upgrades};
use granian_http2::{Http2Limits, serve_connection};
use granian_serve::{ConnInfo, Handler, IncomingBody, Phase, ResponseBody, ShutdownWatch, error_response};
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
    /// Honour HTTP/1.1 `Upgrade: h2c` (in `Auto` and `Http2`); off, such requests are served
    /// as HTTP/1.1 (or get 505 from an HTTP/2-only server), for deployments behind a proxy that
    /// forwards `Upgrade` headers it did not mean for the server.
    pub h2c_upgrade: bool,
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
    let upgrade = protocols
        .h2c_upgrade
        .then(|| H2cUpgrade::new(handler.clone(), Arc::clone(&conn), Arc::clone(&protocols.http2)));
    serve_sniffed(io, handler, conn, protocols, watch, upgrade).await;
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
/// nothing within the header read timeout is dropped, and so is one still silent when the
/// server drains or the connection's slot is reclaimed.
async fn serve_sniffed<I, H, U>(
    io: I,
    handler: H,
    conn: Arc<ConnInfo>,
    protocols: &Protocols,
    mut watch: ShutdownWatch,
    upgrades: Option<U>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
    U: Upgrades,
{
    let http1 = &protocols.http1;
    let sniffing = async {
        let sniffing = sniff(io);
        match http1.header_read_timeout {
            Some(limit) => tokio::time::timeout(limit, sniffing).await.ok(),
            None => Some(sniffing.await),
        }
    };
    tokio::pin!(sniffing);
    // A connection still silent when the server drains may have its first request on the way:
    // it gets the moment an idle HTTP/1.1 connection gets. One whose slot is reclaimed only gets
    // what already arrived read: another client waits for the slot.
    let sniffed = tokio::select! {
        sniffed = &mut sniffing => sniffed,
        () = watch.reached(Phase::Draining) => {
            let linger = if watch.is_reclaimed() { Duration::ZERO } else { DRAIN_LINGER };
            tokio::time::timeout(linger, sniffing).await.ok().flatten()
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{protocols, serve_bytes};
    use granian_http2::PREFACE;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const UPGRADE: &[u8] = b"POST /up HTTP/1.1\r\nhost: example\r\ncontent-length: 5\r\n\
connection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\nhello";

    fn client_preface() -> Vec<u8> {
        let mut bytes = PREFACE.to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // empty SETTINGS
        bytes
    }

    /// (type, flags, stream, payload) of every frame in `bytes`.
    fn frames(mut bytes: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
        let mut out = Vec::new();
        while bytes.len() >= 9 {
            let length = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
            let stream = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff;
            let end = (9 + length).min(bytes.len());
            out.push((bytes[3], bytes[4], stream, bytes[9..end].to_vec()));
            bytes = &bytes[end..];
        }
        out
    }

    #[test]
    fn upgrade_answers_the_request_on_stream_one() {
        for mode in [HttpMode::Auto, HttpMode::Http2] {
            let mut input = UPGRADE.to_vec();
            input.extend_from_slice(&client_preface());
            let out = serve_bytes(mode, &input);
            let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").expect("a 101 head") + 4;
            let head = String::from_utf8_lossy(&out[..head_end]).to_lowercase();
            assert!(head.starts_with("http/1.1 101 switching protocols\r\n"), "{head}");
            assert!(head.contains("upgrade: h2c\r\n"), "{head}");
            let frames = frames(&out[head_end..]);
            assert_eq!(frames[0].0, 4, "server preface is SETTINGS");
            let data: Vec<u8> = frames
                .iter()
                .filter(|f| f.0 == 0 && f.2 == 1)
                .flat_map(|f| f.3.clone())
                .collect();
            assert_eq!(data, b"hello", "the echoed upgrade body on stream 1");
            assert!(
                frames.iter().any(|f| f.0 == 1 && f.2 == 1),
                "response HEADERS on stream 1"
            );
        }
    }

    #[test]
    fn plain_http1_depends_on_the_mode() {
        let request = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        assert!(serve_bytes(HttpMode::Auto, request).starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(serve_bytes(HttpMode::Http1, request).starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(serve_bytes(HttpMode::Http2, request).starts_with(b"HTTP/1.1 505 "));
    }

    #[test]
    fn http1_mode_ignores_h2c_upgrades() {
        let out = serve_bytes(HttpMode::Http1, UPGRADE);
        assert!(
            out.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert!(out.ends_with(b"hello"));
    }

    #[test]
    fn invalid_settings_header_is_served_as_http1() {
        let request = String::from_utf8_lossy(UPGRADE).replace("AAMAAABkAAQCAAAAAAIAAAAA", "!!");
        let out = serve_bytes(HttpMode::Auto, request.as_bytes());
        assert!(
            out.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn upgrades_can_be_turned_off() {
        for (mode, status) in [(HttpMode::Auto, "200 OK"), (HttpMode::Http2, "505 ")] {
            let protocols = Protocols {
                h2c_upgrade: false,
                ..protocols(mode)
            };
            let out = granian_harness::drive(UPGRADE, move |server, conn, watch| async move {
                serve(server, granian_harness::Echo, conn, &protocols, watch).await;
            });
            let text = String::from_utf8_lossy(&out);
            assert!(text.starts_with(&format!("HTTP/1.1 {status}")), "{mode:?}: {text}");
        }
    }

    /// How long a connection that sends `input` and then nothing (without closing) stays open.
    async fn open_for(mode: HttpMode, input: &'static [u8]) -> std::time::Duration {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let addr = "127.0.0.1:1".parse().unwrap();
        let conn = Arc::new(ConnInfo::new(addr, addr, granian_serve::Scheme::Http));
        let shutdown = granian_serve::Shutdown::new();
        let watch = shutdown.watch();
        let start = tokio::time::Instant::now();
        let task = tokio::spawn(async move {
            serve(server, granian_harness::Echo, conn, &protocols(mode), watch).await;
        });
        client.write_all(input).await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        task.await.unwrap();
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn the_preface_has_a_deadline_on_every_path() {
        let handshake = protocols(HttpMode::Auto).http2.handshake_timeout.unwrap();
        let idle = protocols(HttpMode::Auto).http2.idle_timeout.unwrap();
        // After `Upgrade: h2c` and its 101, after the preface alone (prior knowledge): the client
        // that does not go on is dropped once the deadline passes, long before the idle timeout.
        for (mode, input) in [
            (HttpMode::Auto, UPGRADE),
            (HttpMode::Http2, UPGRADE),
            (HttpMode::Auto, &PREFACE[..]),
        ] {
            let open = open_for(mode, input).await;
            assert!(open >= handshake && open < idle, "{mode:?}: {open:?}");
        }
    }

    #[test]
    fn prior_knowledge_gets_settings() {
        for mode in [HttpMode::Auto, HttpMode::Http2] {
            let out = serve_bytes(mode, &client_preface());
            assert_eq!(frames(&out).first().map(|f| f.0), Some(4));
        }
    }
}
