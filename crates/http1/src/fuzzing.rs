//! Drives one connection from raw bytes, for fuzz targets and property tests: whatever the
//! input, the outcome is a response, a close, or both, within a bounded time.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use granian_serve::{ConnInfo, Handler, IncomingBody, ResponseBody, Scheme, Shutdown, ShutdownWatch};
use http::{Request, Response};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

use crate::{Http1Limits, NoUpgrades, serve_connection};

/// Answers every request with its own body.
#[derive(Clone, Copy, Debug)]
pub struct Echo;

impl Handler for Echo {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        _conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
        async move {
            match request.into_body().collect().await {
                Ok(body) => Response::new(ResponseBody::full(body.to_bytes())),
                Err(_) => granian_serve::error_response(http::StatusCode::BAD_REQUEST),
            }
        }
    }
}

/// How long one connection may take before it counts as a hang.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// How long the server may stay silent after the input is written before the client closes
/// its side. A client that half-closes at once would be taken as gone (`half_close(false)`)
/// before its requests are answered.
const QUIET: Duration = Duration::from_millis(50);

/// Play the client: write `input`, read what the server answers, close the write side once
/// the server has been quiet for a moment, and read on until the server closes.
pub async fn exchange<S: AsyncRead + AsyncWrite>(client: S, input: Bytes) -> Vec<u8> {
    let (mut reader, mut writer) = tokio::io::split(client);
    let mut output = Vec::new();
    let write = async move {
        let _ = writer.write_all(&input).await;
        writer
    };
    tokio::pin!(write);
    let mut written = None;
    let mut closed_write = false;
    loop {
        tokio::select! {
            writer = &mut write, if written.is_none() && !closed_write => written = Some(writer),
            read = tokio::time::timeout(QUIET, reader.read_buf(&mut output)) => match read {
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(_)) => {}
                Err(_) => {
                    if let Some(mut writer) = written.take() {
                        let _ = writer.shutdown().await;
                        closed_write = true;
                    }
                }
            },
        }
    }
    output
}

/// Limits that make a fuzzed connection give up quickly.
#[must_use]
pub fn limits() -> Http1Limits {
    Http1Limits {
        header_read_timeout: Some(Duration::from_secs(1)),
        buffer_size: 16 * 1024,
        ..Http1Limits::default()
    }
}

/// Run `serve` on the server end of an in-memory connection, play the client with `input`
/// (see [`exchange`]) and return every byte the server wrote. Panics on a hang.
pub fn drive<F, Fut>(input: &[u8], serve: F) -> Vec<u8>
where
    F: FnOnce(DuplexStream, Arc<ConnInfo>, ShutdownWatch) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    runtime.block_on(async {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let shutdown = Shutdown::new();
        let addr = "127.0.0.1:9".parse().expect("a literal address parses");
        let conn = Arc::new(ConnInfo::new(addr, addr, Scheme::Http));
        let server_task = tokio::spawn(serve(server, conn, shutdown.watch()));
        let exchange = exchange(client, Bytes::copy_from_slice(input));
        let output = tokio::time::timeout(DEADLINE, exchange)
            .await
            .expect("the connection hung");
        let _ = tokio::time::timeout(DEADLINE, server_task)
            .await
            .expect("the server task hung");
        output
    })
}

/// Feed `input` to a fresh HTTP/1.1 connection served by [`Echo`] and return every byte the
/// server wrote before closing. Panics on a hang.
#[must_use]
pub fn serve_bytes(input: &[u8]) -> Vec<u8> {
    drive(input, |server, conn, watch| async move {
        let _ = serve_connection(server, Echo, conn, &limits(), watch, None::<NoUpgrades>).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_a_plain_request() {
        let out = serve_bytes(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc");
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\nabc"), "{text}");
    }

    #[test]
    fn garbage_gets_400() {
        let out = serve_bytes(b"\x00\x01 nonsense\r\n\r\n");
        assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 400"));
    }

    #[test]
    fn oversized_head_gets_431() {
        let mut input = b"GET / HTTP/1.1\r\nx-big: ".to_vec();
        input.extend(std::iter::repeat_n(b'a', 64 * 1024));
        input.extend_from_slice(b"\r\n\r\n");
        let out = serve_bytes(&input);
        assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 431"));
    }

    #[test]
    fn empty_input_just_closes() {
        assert!(serve_bytes(b"").is_empty());
    }
}
