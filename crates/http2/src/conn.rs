use std::sync::Arc;
use std::time::Duration;

use granian_serve::{
    BodyLimits, BoundedWrites, ConnInfo, Handler, InFlight, Phase, ShutdownWatch, TrackedBody, add_server_header,
    admit, payload_too_large, within_limits,
};
use http::{Method, Request};
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;

use crate::send::{Outgoing, StreamExecutor, TunnelSlot, current_stream};
use crate::{Error, Http2Limits};

/// RFC 9113 §3.4: every HTTP/2 connection opens with these 24 octets.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// While draining, how often a connection that has not closed after its GOAWAY checks whether
/// it still has a request in flight. A client that never completes the GOAWAY handshake (it
/// stopped reading) is dropped at the first check that finds it idle.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// Serve HTTP/2 on `io` (the client's preface not yet consumed) until the peer closes, the
/// protocol breaks, or the server shuts down: while draining, GOAWAY is sent and open streams
/// finish (an idle connection whose client does not close it is dropped); when closing, the
/// connection is dropped at once. A write that waits on the client longer than the send timeout
/// closes the connection (see also `send` for streams held by flow control).
pub async fn serve_connection<I, H>(
    io: I,
    handler: H,
    conn: Arc<ConnInfo>,
    limits: &Http2Limits,
    shutdown: ShutdownWatch,
) -> Result<(), Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    serve_bounded(
        BoundedWrites::new(io, limits.send_timeout),
        handler,
        conn,
        limits,
        shutdown,
    )
    .await
}

/// [`serve_connection`] on a connection whose writes are bounded already (by the HTTP/1.1
/// connection it was upgraded from, say).
pub(crate) async fn serve_bounded<I, H>(
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
    let mut builder = hyper::server::conn::http2::Builder::new(StreamExecutor::new(limits.send_timeout));
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
    let body_limits = limits.body_limits();
    // A stream counts while its request body is arriving: one connection cannot hold more of
    // the server's request slots with bodies that do not come.
    let receiving = Arc::new(Semaphore::new(limits.max_receiving_streams.max(1)));
    let server = limits.server.clone();
    let send_timeout = limits.send_timeout;
    let switch_watch = shutdown.clone();
    let service = service_fn(move |mut request: Request<Incoming>| {
        let guard = counter.enter();
        // An extended CONNECT (a websocket) turns its stream into a tunnel that lives on after
        // the response: it carries the shutdown along. Its body is the tunnel, not a request body.
        let tunnel_slot = if request.extensions().get::<OnUpgrade>().is_some() {
            request.extensions_mut().insert(switch_watch.clone());
            send_timeout.map(|limit| {
                let (slot, lease) = TunnelSlot::lease(limit);
                request.extensions_mut().insert(lease);
                slot
            })
        } else {
            None
        };
        let tunnel = request.method() == Method::CONNECT;
        let limits = if tunnel { BodyLimits::default() } else { body_limits };
        let permit = if tunnel || request.body().is_end_stream() {
            Ok(None)
        } else {
            Arc::clone(&receiving).try_acquire_owned().map(Some)
        };
        // The handler's future is boxed already (`granian_serve::Boxed`) when it is large.
        let admitted = permit.map(|permit| {
            admit(request, limits).map(|(request, watch)| {
                let request = match permit {
                    Some(permit) => request.map(|body| body.hold(permit)),
                    None => request,
                };
                within_limits(handler.handle(request, &conn), watch, false)
            })
        });
        let server = server.clone();
        async move {
            // First thing on the stream's task: the watch its response reports to.
            let watch = current_stream();
            if let (Some(watch), Some(slot)) = (&watch, tunnel_slot) {
                watch.tunnel_into(slot);
            }
            let mut response = match admitted {
                Ok(Ok(response)) => response.await,
                Ok(Err(_)) => payload_too_large(false),
                // RFC 9113 §8.7: a refused stream was not processed; the client may retry it.
                Err(_) => return Err(h2::Error::from(h2::Reason::REFUSED_STREAM)),
            };
            add_server_header(response.headers_mut(), server.as_ref());
            Ok(response.map(|body| Outgoing::new(TrackedBody::new(body, guard), watch)))
        }
    });
    let connection = builder.serve_connection(TokioIo::new(io), service);
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

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use granian_harness::{Big, Echo};
    use granian_serve::{Scheme, Shutdown};
    use http::StatusCode;

    fn limits() -> Http2Limits {
        Http2Limits {
            max_concurrent_streams: 100,
            initial_connection_window_size: 1 << 20,
            initial_stream_window_size: 1 << 20,
            max_frame_size: 1 << 14,
            max_headers_size: 1 << 14,
            max_send_buffer_size: 1 << 16,
            adaptive_window: false,
            keep_alive_interval: None,
            keep_alive_timeout: Duration::from_secs(20),
            max_body_size: None,
            body_read_timeout: Some(Duration::from_secs(10)),
            send_timeout: Some(Duration::from_secs(10)),
            max_receiving_streams: 2,
            server: None,
        }
    }

    /// Run `test` with an h2 client (built by `client`) of a connection served by `handler`, on
    /// a paused clock.
    fn with_client<H, F, Fut>(handler: H, client: h2::client::Builder, test: F)
    where
        H: Handler,
        F: FnOnce(h2::client::SendRequest<Bytes>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (client_io, server_io) = tokio::io::duplex(1 << 20);
            let shutdown = Shutdown::new();
            let conn = Arc::new(ConnInfo::with_addresses(None, None, Scheme::Http));
            let watch = shutdown.watch();
            tokio::spawn(async move { serve_connection(server_io, handler, conn, &limits(), watch).await });
            let (send, connection) = client.handshake(client_io).await.unwrap();
            tokio::spawn(connection);
            test(send).await;
        });
    }

    fn post(body_length: usize) -> Request<()> {
        Request::post("http://x/")
            .header("content-length", body_length)
            .body(())
            .unwrap()
    }

    #[test]
    fn a_body_that_stops_coming_gets_408() {
        with_client(Echo, h2::client::Builder::new(), |mut send| async move {
            let started = tokio::time::Instant::now();
            let (response, mut body) = send.send_request(post(10), false).unwrap();
            body.send_data(Bytes::from_static(b"abc"), false).unwrap();
            let response = response.await.unwrap();
            assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
            assert_eq!(started.elapsed(), Duration::from_secs(10));
        });
    }

    #[test]
    fn streams_beyond_the_receiving_cap_are_refused() {
        with_client(Echo, h2::client::Builder::new(), |mut send| async move {
            // Two streams wait for their bodies; the third is refused at once.
            let mut waiting = Vec::new();
            for _ in 0..2 {
                waiting.push(send.send_request(post(10), false).unwrap());
            }
            let (refused, _body) = send.send_request(post(10), false).unwrap();
            let err = refused.await.unwrap_err();
            assert_eq!(err.reason(), Some(h2::Reason::REFUSED_STREAM));
            // A request without a body is not counted.
            let (plain, _) = send
                .send_request(Request::get("http://x/").body(()).unwrap(), true)
                .unwrap();
            assert_eq!(plain.await.unwrap().status(), StatusCode::OK);
            // Once a body has arrived, its stream no longer counts.
            let (first, mut first_body) = waiting.remove(0);
            first_body.send_data(Bytes::from_static(b"0123456789"), true).unwrap();
            assert_eq!(first.await.unwrap().status(), StatusCode::OK);
            let (again, mut again_body) = send.send_request(post(1), false).unwrap();
            again_body.send_data(Bytes::from_static(b"!"), true).unwrap();
            let mut again = again.await.unwrap().into_body();
            assert_eq!(again.data().await.unwrap().unwrap(), "!");
        });
    }

    #[test]
    fn a_response_held_at_a_zero_window_is_reset_after_the_send_timeout() {
        let mut client = h2::client::Builder::new();
        client.initial_window_size(0);
        with_client(Big(200_000), client, |mut send| async move {
            let started = tokio::time::Instant::now();
            let (response, _) = send
                .send_request(Request::get("http://x/").body(()).unwrap(), true)
                .unwrap();
            let mut body = response.await.unwrap().into_body();
            let err = body.data().await.unwrap().unwrap_err();
            assert_eq!(err.reason(), Some(h2::Reason::CANCEL));
            assert_eq!(started.elapsed(), Duration::from_secs(10));
            // The connection serves on.
            let (other, _) = send
                .send_request(Request::get("http://x/").body(()).unwrap(), true)
                .unwrap();
            assert_eq!(other.await.unwrap().status(), StatusCode::OK);
        });
    }
}
