use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use granian_serve::{
    ConnInfo, Handler, InFlight, Phase, ShutdownWatch, TrackedBody, add_server_header, admit, payload_too_large,
    within_limit,
};
use http::{Method, Request};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::flood::FloodGuard;
use crate::{Error, Http2Limits};

/// RFC 9113 §3.4: every HTTP/2 connection opens with these 24 octets.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// While draining, how often a connection that has not closed after its GOAWAY checks whether
/// it still has a request in flight. A client that never completes the GOAWAY handshake (it
/// stopped reading) is dropped at the first check that finds it idle.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// Serve HTTP/2 on `io` (the client's preface not yet consumed) until the peer closes, the
/// protocol breaks, the client floods the connection with frames that carry nothing (see
/// `flood.rs`: it is then dropped), or the server shuts down: while draining, GOAWAY is sent
/// and open streams finish (an idle connection whose client does not close it is dropped);
/// when closing, the connection is dropped at once.
pub async fn serve_connection<I, H>(
    io: I,
    handler: H,
    conn: Arc<ConnInfo>,
    limits: &Http2Limits,
    mut shutdown: ShutdownWatch,
) -> Result<(), Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .initial_connection_window_size(limits.initial_connection_window_size)
        .initial_stream_window_size(limits.initial_stream_window_size)
        .max_frame_size(limits.max_frame_size)
        .max_header_list_size(limits.max_headers_size)
        .max_send_buf_size(limits.max_send_buffer_size)
        .adaptive_window(limits.adaptive_window)
        .keep_alive_interval(limits.keep_alive_interval)
        .keep_alive_timeout(limits.keep_alive_timeout)
        // RFC 8441: extended CONNECT, which carries websockets over HTTP/2 streams.
        .enable_connect_protocol();
    let inflight = InFlight::new();
    let counter = inflight.clone();
    let max_body_size = limits.max_body_size;
    let server = limits.server.clone();
    let switch_watch = shutdown.clone();
    let service = service_fn(move |mut request: Request<Incoming>| {
        // An extended CONNECT (a websocket) turns its stream into a tunnel that lives on after
        // the response: it carries the shutdown along.
        if request.extensions().get::<OnUpgrade>().is_some() {
            request.extensions_mut().insert(switch_watch.clone());
        }
        let guard = counter.enter();
        // An extended CONNECT's body is the tunnel, not a request body.
        let limit = if request.method() == Method::CONNECT {
            None
        } else {
            max_body_size
        };
        // The handler's future is boxed already (`granian_serve::Boxed`) when it is large.
        let admitted = admit(request, limit)
            .map(|(request, overflow)| within_limit(handler.handle(request, &conn), overflow, false));
        let server = server.clone();
        async move {
            let mut response = match admitted {
                Ok(response) => response.await,
                Err(_) => payload_too_large(false),
            };
            add_server_header(response.headers_mut(), server.as_ref());
            Ok::<_, Infallible>(response.map(|body| TrackedBody::new(body, guard)))
        }
    });
    let connection = builder.serve_connection(TokioIo::new(FloodGuard::new(io)), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => return result.map_err(Error::from),
        () = shutdown.reached(Phase::Draining) => connection.as_mut().graceful_shutdown(),
    }
    let mut check = tokio::time::interval(IDLE_CHECK);
    check.reset();
    loop {
        tokio::select! {
            result = connection.as_mut() => return result.map_err(Error::from),
            () = shutdown.reached(Phase::Closing) => return Ok(()),
            _ = check.tick() => {
                if inflight.is_idle() {
                    return Ok(());
                }
            }
        }
    }
}
