//! Plays the client of one in-memory connection for the protocol crates' tests and fuzz
//! targets: [`drive`] writes raw bytes to a server end, reads everything the server answers
//! until it closes, and panics on a hang; [`Echo`] answers every request with its own body,
//! [`Big`] with a large one of its own, without reading the request's.
//! Knows no protocol: the caller says what serves the server end. Never part of a server.
//!
//! Time is tokio's paused clock: whenever both ends wait, the clock jumps to the next timer,
//! so the client's quiet period, the server's timeouts and the hang deadline all pass in
//! virtual time. An input costs what serving it costs, never a real wait, and the outcome
//! does not depend on how busy the machine is.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use granian_serve::{ConnInfo, Handler, IncomingBody, ResponseBody, Scheme, Shutdown, ShutdownWatch};
use http::{Request, Response};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

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

/// Answers every request with this many bytes in one buffer, without reading its body: a
/// response larger than what a stalled client takes.
#[derive(Clone, Copy, Debug)]
pub struct Big(pub usize);

impl Handler for Big {
    fn handle(
        &self,
        _request: Request<IncomingBody>,
        _conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
        std::future::ready(Response::new(ResponseBody::full(Bytes::from(vec![b'x'; self.0]))))
    }
}

/// How long one connection may take, in virtual time, before it counts as a hang: longer
/// than any deadline a server under test keeps once its client has closed.
const DEADLINE: Duration = Duration::from_mins(1);

/// How long the server may stay silent after the input is written before the client closes
/// its side. A client that half-closes at once would be taken as gone (`half_close(false)`)
/// before its requests are answered. On the paused clock this passes only once the server
/// has done all it can with the input, and it is shorter than the server's own timeouts.
const QUIET: Duration = Duration::from_millis(50);

/// Play the client: write `input`, read what the server answers, close the write side once
/// the server has been quiet for a moment, and read on until the server closes.
async fn exchange<S: AsyncRead + AsyncWrite>(client: S, input: Bytes) -> Vec<u8> {
    let (mut reader, mut writer) = tokio::io::split(client);
    let mut output = Vec::new();
    let write = async move {
        let _ = writer.write_all(&input).await;
        writer
    };
    tokio::pin!(write);
    let mut written = None;
    loop {
        tokio::select! {
            writer = &mut write, if written.is_none() => written = Some(writer),
            read = tokio::time::timeout(QUIET, reader.read_buf(&mut output)) => match read {
                Ok(Ok(0) | Err(_)) => return output,
                Ok(Ok(_)) => {}
                Err(_) => {
                    if let Some(writer) = written.as_mut() {
                        let _ = writer.shutdown().await;
                        break;
                    }
                }
            },
        }
    }
    // Whatever the server still has to say comes before it closes.
    let _ = reader.read_to_end(&mut output).await;
    output
}

/// Run `serve` on the server end of an in-memory connection, play the client with `input`
/// (written at once, the write side closed once the server is quiet for a moment) and return
/// every byte the server wrote. Panics when either side takes longer than a minute of
/// virtual time.
pub fn drive<F, Fut>(input: &[u8], serve: F) -> Vec<u8>
where
    F: FnOnce(DuplexStream, Arc<ConnInfo>, ShutdownWatch) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    // No I/O driver: both ends are in memory.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
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
