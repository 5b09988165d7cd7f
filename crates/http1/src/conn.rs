use std::convert::Infallible;
use std::sync::Arc;

use granian_serve::{ConnInfo, Handler, Phase, ShutdownWatch};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{Error, Http1Limits};

/// Serve HTTP/1.1 on `io` until the peer closes, the protocol breaks, or the server shuts
/// down: while draining, the request in flight finishes and the connection then closes;
/// when closing, it is dropped at once.
pub async fn serve_connection<I, H>(
    io: I,
    handler: H,
    conn: Arc<ConnInfo>,
    limits: &Http1Limits,
    mut shutdown: ShutdownWatch,
) -> Result<(), Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .keep_alive(limits.keep_alive)
        // RFC 9112 §9.6: a client that half-closes after its request is treated as gone,
        // which is what lets an interface learn of disconnects while a response is pending.
        .half_close(false)
        .max_buf_size(limits.effective_buffer_size())
        .pipeline_flush(limits.pipeline_flush)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let service = service_fn(move |request| {
        let response = handler.handle(request, &conn);
        async move { Ok::<_, Infallible>(response.await) }
    });
    let connection = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => return result.map_err(Error::from),
        () = shutdown.reached(Phase::Draining) => connection.as_mut().graceful_shutdown(),
    }
    tokio::select! {
        result = connection => result.map_err(Error::from),
        () = shutdown.reached(Phase::Closing) => Ok(()),
    }
}
