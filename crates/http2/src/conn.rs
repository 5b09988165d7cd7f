use std::sync::Arc;
use std::time::Duration;

use granian_serve::{
    BodyLimits, BoundedWrites, ConnInfo, FOREVER, Handler, Phase, ShutdownWatch, WhenWoken, admit, is_empty,
    payload_too_large, within_limits,
};
use http::{Method, Request};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::batch::Batched;
use crate::flood::FloodGuard;
use crate::opening::Opening;
use crate::send::{StreamExecutor, TunnelSlot};
use crate::stream::{DefaultHeaders, StreamResponse};
use crate::{Error, Http2Limits};

/// RFC 9113 §3.4: every HTTP/2 connection opens with these 24 octets.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// While draining, how often a connection that has not closed after its GOAWAY checks whether
/// it still has a request in flight. A client that never completes the GOAWAY handshake (it
/// stopped reading) is dropped at the first check that finds it idle.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// How long a connection whose slot was reclaimed gets to write its GOAWAY before it is dropped.
const GOAWAY_GRACE: Duration = Duration::from_millis(20);

/// Serve HTTP/2 on `io` (the client's preface not yet consumed) until the peer closes, the
/// protocol breaks, the client floods the connection with frames that carry nothing (see
/// `flood.rs`: it is then dropped), or the server shuts down: while draining, GOAWAY is sent
/// and open streams finish (an idle connection whose client does not close it is dropped);
/// when closing, the connection is dropped at once.
///
/// A client whose preface and SETTINGS frame have not arrived within
/// [`Http2Limits::handshake_timeout`] is dropped; a connection without an open stream for
/// [`Http2Limits::idle_timeout`] gets GOAWAY and closes, as it does when its slot among the
/// worker's connections is reclaimed (see [`granian_serve::ConnectionSlots`]).
///
/// A write that waits on the client longer than the send timeout closes the connection (see
/// also `send` for streams held by flow control).
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
    let builder = builder(limits);
    // The connection's own count when it holds a slot, so that an idle one can be reclaimed.
    let inflight = shutdown.in_flight();
    let counter = inflight.clone();
    let body_limits = limits.body_limits();
    // A stream counts while its request body is arriving: one connection cannot hold more of
    // the server's request slots with bodies that do not come.
    let receiving = Arc::new(Semaphore::new(limits.max_receiving_streams.max(1)));
    let headers = DefaultHeaders {
        server: limits.server.clone(),
        alt_svc: limits.alt_svc.clone(),
    };
    let send_timeout = limits.send_timeout;
    let switch_watch = shutdown.clone();
    let service = service_fn(move |mut request: Request<Incoming>| {
        let guard = counter.enter();
        let tunnel_slot = prepare_tunnel(&mut request, &switch_watch, send_timeout);
        let tunnel = request.method() == Method::CONNECT;
        let limits = if tunnel { BodyLimits::default() } else { body_limits };
        let permit = if tunnel || is_empty(request.body()) {
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
        let headers = headers.clone();
        match admitted {
            Ok(Ok(response)) => StreamResponse::new(response, guard, tunnel_slot, headers),
            Ok(Err(_)) => StreamResponse::early(Ok(payload_too_large(false)), guard, headers),
            // RFC 9113 §8.7: a refused stream was not processed; the client may retry it.
            Err(_) => StreamResponse::early(Err(h2::Error::from(h2::Reason::REFUSED_STREAM)), guard, headers),
        }
    });
    let (io, opened) = Opening::new(FloodGuard::new(Batched::new(io)));
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::pin!(opened);
    let mut opening = true;
    let opening_deadline = limits.handshake_timeout.map(|limit| Instant::now() + limit);
    // The idle timeout has one timer, reset only when it fires: streams that come and go touch
    // no timer and wake no one, the count only reads the clock when the connection goes idle.
    if limits.idle_timeout.is_some() {
        inflight.time();
    }
    // Both polled only when woken, not on every wake-up of the connection (see `WhenWoken`).
    let mut idle_timer = WhenWoken::new(tokio::time::sleep(limits.idle_timeout.unwrap_or(FOREVER)));
    let mut drain = WhenWoken::new(shutdown.reached(Phase::Draining));
    loop {
        tokio::select! {
            result = connection.as_mut() => return result.map_err(Error::from),
            () = &mut drain => break,
            received = &mut opened, if opening => {
                opening = false;
                if received.is_err() {
                    // hyper dropped the input: the connection is ending.
                    return connection.await.map_err(Error::from);
                }
            }
            () = sleep_until(opening_deadline), if opening && opening_deadline.is_some() => {
                // No preface and SETTINGS in time: nothing to say to such a client.
                return Ok(());
            }
            () = &mut idle_timer, if limits.idle_timeout.is_some() => {
                let limit = limits.idle_timeout.unwrap_or(FOREVER);
                match inflight.idle_at() {
                    Some(since) if since.elapsed() >= limit => break,
                    Some(since) => idle_timer.get_mut().reset(since + limit),
                    // Busy: an idle stretch starts after now at the earliest.
                    None => idle_timer.get_mut().reset(Instant::now() + limit),
                }
            }
        }
    }
    drop(drain);
    connection.as_mut().graceful_shutdown();
    // A reclaimed slot is wanted by another client: an idle connection goes once its GOAWAY had
    // a moment to leave.
    let first_check = if shutdown.is_reclaimed() {
        GOAWAY_GRACE
    } else {
        IDLE_CHECK
    };
    let mut check = tokio::time::interval_at(Instant::now() + first_check, IDLE_CHECK);
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

/// An extended CONNECT (a websocket) turns its stream into a tunnel that lives on after the
/// response: it carries the shutdown along (keeping the connection busy) and, with a send
/// timeout, the lease that bounds its writes; the slot the stream's watch hands over to it.
/// Its body is the tunnel, not a request body.
fn prepare_tunnel(
    request: &mut Request<Incoming>,
    watch: &ShutdownWatch,
    send_timeout: Option<Duration>,
) -> Option<Arc<TunnelSlot>> {
    request.extensions().get::<OnUpgrade>()?;
    request.extensions_mut().insert(watch.busy());
    send_timeout.map(|limit| {
        let (slot, lease) = TunnelSlot::lease(limit);
        request.extensions_mut().insert(lease);
        slot
    })
}

/// hyper's HTTP/2 server as `limits` set it up, its streams run by a [`StreamExecutor`].
fn builder(limits: &Http2Limits) -> hyper::server::conn::http2::Builder<StreamExecutor> {
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
    builder
}

/// Sleep until `deadline`; for ever without one (the caller's guard keeps that from happening).
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use granian_harness::{Big, Echo};
    use granian_serve::{ConnectionSlots, IncomingBody, ResponseBody, Scheme, Shutdown};
    use http::{Response, StatusCode};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    const HANDSHAKE: Duration = Duration::from_secs(3);
    const IDLE: Duration = Duration::from_secs(10);

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
            handshake_timeout: Some(HANDSHAKE),
            idle_timeout: Some(IDLE),
            max_body_size: None,
            body_read_timeout: Some(Duration::from_secs(10)),
            send_timeout: Some(Duration::from_secs(10)),
            max_receiving_streams: 2,
            server: None,
            alt_svc: None,
        }
    }

    /// Never answers: its request keeps a stream open.
    #[derive(Clone)]
    struct Stall;

    impl Handler for Stall {
        fn handle(
            &self,
            _request: Request<IncomingBody>,
            _conn: &Arc<ConnInfo>,
        ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
            std::future::pending()
        }
    }

    /// The preface and an empty SETTINGS frame.
    fn opening() -> Vec<u8> {
        let mut bytes = PREFACE.to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        bytes
    }

    /// `GET /` on stream 1, its whole request in one HEADERS frame (static table entries only).
    const GET: [u8; 12] = [0, 0, 3, 1, 0x5, 0, 0, 0, 1, 0x82, 0x86, 0x84];

    /// Serve a connection with `handler` and `watch`; the client's end and the server's task.
    fn connect<H: Handler>(handler: H, watch: ShutdownWatch) -> (DuplexStream, tokio::task::JoinHandle<()>) {
        let (client, server) = tokio::io::duplex(1 << 16);
        let addr = "127.0.0.1:1".parse().unwrap();
        let conn = Arc::new(ConnInfo::new(addr, addr, Scheme::Http));
        let task = tokio::spawn(async move {
            let _ = serve_connection(server, handler, conn, &limits(), watch).await;
        });
        (client, task)
    }

    /// Every byte until the server closes; the frame types in them.
    async fn frame_types(client: &mut DuplexStream) -> Vec<u8> {
        let mut bytes = Vec::new();
        client.read_to_end(&mut bytes).await.unwrap();
        let mut types = Vec::new();
        let mut rest = &bytes[..];
        while rest.len() >= 9 {
            let length = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
            types.push(rest[3]);
            rest = &rest[(9 + length).min(rest.len())..];
        }
        types
    }

    #[tokio::test(start_paused = true)]
    async fn a_preface_without_settings_is_dropped_at_the_deadline() {
        let shutdown = Shutdown::new();
        let (mut client, task) = connect(Echo, shutdown.watch());
        let start = Instant::now();
        client.write_all(PREFACE).await.unwrap();
        let types = frame_types(&mut client).await;
        task.await.unwrap();
        assert!(
            start.elapsed() >= HANDSHAKE && start.elapsed() < HANDSHAKE + IDLE_CHECK,
            "{:?}",
            start.elapsed()
        );
        // The server's SETTINGS went out (and the WINDOW_UPDATE of a connection window above
        // the default); no GOAWAY for a client that never opened.
        assert_eq!(types.first(), Some(&4), "{types:?}");
        assert!(types.iter().all(|kind| [4, 8].contains(kind)), "{types:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_without_streams_closes_after_the_idle_timeout() {
        let shutdown = Shutdown::new();
        let (mut client, task) = connect(Echo, shutdown.watch());
        let start = Instant::now();
        client.write_all(&opening()).await.unwrap();
        client.write_all(&GET).await.unwrap();
        let types = frame_types(&mut client).await;
        task.await.unwrap();
        // Served, then idle from the end of the response: GOAWAY once the timeout passed.
        assert!(types.contains(&1) && types.contains(&7), "{types:?}");
        assert!(
            start.elapsed() >= IDLE && start.elapsed() < IDLE + HANDSHAKE,
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_stream_holds_the_connection() {
        let shutdown = Shutdown::new();
        let (mut client, task) = connect(Stall, shutdown.watch());
        client.write_all(&opening()).await.unwrap();
        client.write_all(&GET).await.unwrap();
        let mut buf = vec![0; 1024];
        let waited = tokio::time::timeout(IDLE * 5, async {
            loop {
                if client.read(&mut buf).await.unwrap() == 0 {
                    break;
                }
            }
        })
        .await;
        assert!(waited.is_err(), "closed with a stream open");
        assert!(!task.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn a_reclaimed_slot_sends_goaway() {
        let shutdown = Shutdown::new();
        let slots = ConnectionSlots::new(4);
        let (mut client, task) = connect(Echo, shutdown.watch_slot(slots.assign(slots.acquire().await)));
        client.write_all(&opening()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let start = Instant::now();
        assert_eq!(slots.reclaim(1), 1);
        let types = frame_types(&mut client).await;
        task.await.unwrap();
        assert!(types.contains(&7), "{types:?}");
        assert!(start.elapsed() < IDLE, "{:?}", start.elapsed());
        assert_eq!(slots.open(), 0);
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
