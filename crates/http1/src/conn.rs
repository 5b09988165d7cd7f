use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use granian_serve::{
    BoundedWrites, ConnInfo, Handler, InFlight, InFlightGuard, IncomingBody, Phase, ResponseBody, ShutdownWatch,
    TrackedBody, WhenWoken, add_default_headers, admit, error_response, payload_too_large, within_limits,
};
use http::{HeaderValue, Request, Response, StatusCode, Version, header};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::service::service_fn;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::deadline::{Deadlines, SWITCHED, hyper_timeout};
use crate::flushed::{AbortAfterFlush, CountFlushes, Flushes};
use crate::interim::{Interim, InterimQueue};
use crate::upgrade::body_fits;
use crate::{Error, Http1Limits, Upgrades};

/// Serve HTTP/1.1 on `io` until the peer closes, the protocol breaks, or the server shuts
/// down: while draining, the request in flight finishes and the connection then closes;
/// when closing, it is dropped at once. A request that `upgrades` accepts gets `101 Switching
/// Protocols` and the connection goes on in `upgrades`, on a task of its own.
pub async fn serve_connection<I, H, U>(
    io: I,
    handler: H,
    conn: Arc<ConnInfo>,
    limits: &Http1Limits,
    mut shutdown: ShutdownWatch,
    upgrades: Option<U>,
) -> Result<(), Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
    U: Upgrades,
{
    let builder = builder(limits);
    // The connection's own count when it holds a slot, so that an idle one can be reclaimed.
    let serving = shutdown.in_flight();
    let started = Arc::new(AtomicU64::new(0));
    let lingering = serving.clone();
    let linger_started = Arc::clone(&started);
    // Only for an interface that sends informational responses: the others pay nothing for them.
    let interim = limits.informational.then(InterimQueue::default);
    let (io, flushes) = layered_io(io, &serving, &started, limits, interim.clone());
    // What every response needs on its way out, one reference count per request.
    let finishing = Arc::new(Finishing {
        interim,
        closing: AtomicBool::new(false),
        started: Arc::clone(&started),
        server: limits.server.clone(),
        alt_svc: limits.alt_svc.clone(),
        flushes,
    });
    let draining = Arc::clone(&finishing);
    let max_body_size = limits.max_body_size;
    let body_limits = limits.body_limits();
    let upgrade_watch = upgrades.is_some().then(|| shutdown.clone());
    let switch_watch = shutdown.clone();
    let service = service_fn(move |mut request: Request<Incoming>| {
        let number = started.fetch_add(1, Ordering::Relaxed);
        let guard = serving.enter();
        // A request that may take the connection over (a websocket) carries the shutdown
        // along: once switched, the connection outlives this function and its watch, and counts
        // as busy while the tunnel is open.
        if request.extensions().get::<OnUpgrade>().is_some() {
            request.extensions_mut().insert(switch_watch.busy());
        }
        let declared_too_large = max_body_size.is_some_and(|limit| request.body().size_hint().lower() > limit);
        let switch = upgrades.as_ref().and_then(|upgrades| {
            let protocol = upgrades.accept(request.headers())?;
            body_fits(request.headers()).then(|| (upgrades.clone(), protocol))
        });
        let outcome = match (switch, &upgrade_watch) {
            _ if declared_too_large => Outcome::Ready {
                response: Some(payload_too_large(true)),
            },
            (Some((upgrades, protocol)), Some(watch)) => {
                // The body that comes with the switch is read whole here, its reads bounded
                // as any request body's.
                let read_timeout = body_limits.read_timeout;
                let request = request.map(|body| IncomingBody::timed(body, read_timeout));
                Outcome::Switch {
                    response: Box::pin(switch_protocols(upgrades, protocol, request, watch.clone())),
                }
            }
            _ => {
                // RFC 9110 §15.2: no 1xx response to an HTTP/1.0 client.
                if let Some(interim) = &finishing.interim
                    && request.version() == Version::HTTP_11
                {
                    request.extensions_mut().insert(interim.open(number));
                }
                match admit(request, body_limits) {
                    Ok((request, watch)) => Outcome::Serve {
                        response: within_limits(handler.handle(request, &conn), watch, true),
                    },
                    Err(_) => Outcome::Ready {
                        response: Some(payload_too_large(true)),
                    },
                }
            }
        };
        Answer {
            outcome,
            number,
            finish: Some((Arc::clone(&finishing), guard)),
        }
    });
    let connection = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => return result.map_err(Error::from),
        // Polled only when the drain (or a reclaim) wakes it, not on every read and write.
        () = WhenWoken::new(shutdown.reached(Phase::Draining)) => draining.closing.store(true, Ordering::Relaxed),
    }
    // An idle keep-alive connection may already carry a request the client sent before it could
    // know of the drain: closing at once would lose it. Keep reading for a moment; a request
    // that arrives is answered with `Connection: close`. A connection whose slot another client
    // waits for only gets what already arrived read (one more poll), as an idle keep-alive
    // connection may be closed at any time.
    if shutdown.is_reclaimed() {
        if let Ok(result) = tokio::time::timeout(Duration::ZERO, connection.as_mut()).await {
            return result.map_err(Error::from);
        }
    } else if lingering.is_idle() {
        let seen = linger_started.load(Ordering::Relaxed);
        let deadline = tokio::time::sleep(DRAIN_LINGER);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(LINGER_TICK);
        loop {
            tokio::select! {
                result = connection.as_mut() => return result.map_err(Error::from),
                () = &mut deadline => break,
                _ = tick.tick() => {
                    if linger_started.load(Ordering::Relaxed) != seen || !lingering.is_idle() {
                        break;
                    }
                }
                () = shutdown.reached(Phase::Closing) => return Ok(()),
            }
        }
    }
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        result = connection => result.map_err(Error::from),
        () = shutdown.reached(Phase::Closing) => Ok(()),
    }
}

/// hyper's connection settings for `limits`.
/// The connection as hyper sees it (see [`layered_io`]).
type LayeredIo<I> = Interim<CountFlushes<Deadlines<BoundedWrites<I>>>>;

/// What hyper reads and writes through: the send timeout on writes, the request-head and
/// keep-alive deadlines, a count of flushes (so that a failing body is cut only once what went
/// before it is out, unless `pipeline_flush` skips flushes), and informational responses written
/// ahead of hyper's.
fn layered_io<I: AsyncRead + AsyncWrite + Unpin>(
    io: I,
    serving: &InFlight,
    started: &Arc<AtomicU64>,
    limits: &Http1Limits,
    interim: Option<InterimQueue>,
) -> (LayeredIo<I>, Option<Arc<Flushes>>) {
    // Writes wait for the client at most the send timeout, through protocol switches too: a
    // websocket or h2c connection taken over from this one keeps the bound.
    let io = Deadlines::new(
        BoundedWrites::new(io, limits.send_timeout),
        serving.clone(),
        Arc::clone(started),
        limits.header_read_timeout,
        limits.keep_alive_timeout,
    );
    let (io, flushes) = CountFlushes::new(io);
    // With pipeline_flush, hyper skips flushes while requests wait: a failure would wait too.
    let flushes = (!limits.pipeline_flush).then_some(flushes);
    (Interim::new(io, interim), flushes)
}

fn builder(limits: &Http1Limits) -> hyper::server::conn::http1::Builder {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .keep_alive(limits.keep_alive)
        // RFC 9112 §9.6: a client that half-closes after its request is treated as gone,
        // which is what lets an interface learn of disconnects while a response is pending.
        .half_close(false)
        .max_buf_size(limits.effective_buffer_size())
        .pipeline_flush(limits.pipeline_flush)
        .timer(TokioTimer::new())
        .header_read_timeout(hyper_timeout(limits.header_read_timeout, limits.keep_alive_timeout));
    if let Some(max_header_size) = limits.max_header_size {
        builder.max_header_size(max_header_size);
    }
    builder
}

/// What every response gets on its way out: the `Server` header (and `Alt-Svc` on a final one),
/// `Connection: close` once the server drains, and no more deadlines between requests after a
/// protocol switch.
fn finish(response: &mut Response<ResponseBody>, finishing: &Finishing) {
    let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
    let alt_svc = finishing.alt_svc.as_ref().filter(|_| !switching);
    add_default_headers(response.headers_mut(), finishing.server.as_ref(), alt_svc);
    if switching {
        // The connection is no longer HTTP/1.1.
        finishing.started.store(SWITCHED, Ordering::Relaxed);
    } else if finishing.closing.load(Ordering::Relaxed) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

/// How long a connection idle when the server starts draining stays open for a request already
/// on its way.
pub const DRAIN_LINGER: Duration = Duration::from_millis(500);

/// How often a lingering connection checks whether a request has arrived.
const LINGER_TICK: Duration = Duration::from_millis(5);

type Switching = Pin<Box<dyn Future<Output = Response<ResponseBody>> + Send>>;

pin_project_lite::pin_project! {
    /// What one request turns into: an ordinary response, a protocol switch, or an answer the
    /// server gives itself.
    #[project = OutcomeProj]
    enum Outcome<F> {
        Serve { #[pin] response: F },
        Switch { response: Switching },
        Ready { response: Option<Response<ResponseBody>> },
    }
}

/// What the responses of a connection need on their way to hyper (see [`Answer`]).
struct Finishing {
    interim: Option<InterimQueue>,
    /// Set once the server drains: responses then tell the client the connection closes.
    closing: AtomicBool,
    started: Arc<AtomicU64>,
    server: Option<HeaderValue>,
    alt_svc: Option<HeaderValue>,
    flushes: Option<Arc<Flushes>>,
}

pin_project_lite::pin_project! {
    /// The response hyper gets for request `number`: the outcome's, finished (see [`finish`]) and
    /// counted in flight until its body is done. A struct rather than an `async` block, which
    /// would keep room for the interface's future twice.
    struct Answer<F> {
        #[pin]
        outcome: Outcome<F>,
        number: u64,
        finish: Option<(Arc<Finishing>, InFlightGuard)>,
    }
}

/// The body hyper writes.
type AnswerBody = TrackedBody<AbortAfterFlush<ResponseBody>>;

impl<F: Future<Output = Response<ResponseBody>>> Future for Answer<F> {
    type Output = Result<Response<AnswerBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = match this.outcome.project() {
            OutcomeProj::Serve { response } => ready!(response.poll(cx)),
            OutcomeProj::Switch { response } => ready!(response.as_mut().poll(cx)),
            OutcomeProj::Ready { response } => match response.take() {
                Some(response) => response,
                None => return Poll::Pending,
            },
        };
        let Some((finishing, guard)) = this.finish.take() else {
            return Poll::Pending;
        };
        // The final response goes to hyper now: an informational one after it would be read as
        // the next response.
        if let Some(interim) = &finishing.interim {
            interim.close(*this.number);
        }
        finish(&mut response, &finishing);
        let flushes = finishing.flushes.clone();
        Poll::Ready(Ok(
            response.map(|body| TrackedBody::new(AbortAfterFlush::new(body, flushes), guard))
        ))
    }
}

/// Read the upgrading request's body, answer 101, and hand the connection to `upgrades` once
/// hyper has written the 101 and released it.
async fn switch_protocols<U: Upgrades>(
    upgrades: U,
    protocol: HeaderValue,
    mut request: Request<IncomingBody>,
    watch: ShutdownWatch,
) -> Response<ResponseBody> {
    let on_upgrade = hyper::upgrade::on(&mut request);
    let (mut parts, body) = request.into_parts();
    // The protocol switched to counts its own requests: the tunnel's busy watch goes.
    parts.extensions.remove::<ShutdownWatch>();
    let body = match body.collect().await {
        Ok(body) => body,
        Err(err) => return error_response(err.status()),
    };
    let request = Request::from_parts(parts, body.to_bytes());
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            upgrades.serve(request, TokioIo::new(upgraded), watch).await;
        }
    });
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    response.headers_mut().insert(header::UPGRADE, protocol);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoUpgrades;
    use crate::testing::{limits, serve_bytes};
    use granian_harness::{Big, Echo, drive};
    use proptest::collection::vec;
    use proptest::prelude::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn serve_with(input: &[u8], limits: Http1Limits) -> String {
        let output = drive(input, move |io, conn, watch| async move {
            let _ = serve_connection(io, Echo, conn, &limits, watch, None::<NoUpgrades>).await;
        });
        String::from_utf8_lossy(&output).into_owned()
    }

    fn limited() -> Http1Limits {
        Http1Limits {
            max_body_size: Some(10),
            max_header_size: Some(200),
            ..limits()
        }
    }

    #[test]
    fn declared_body_beyond_the_limit_gets_413_and_close() {
        let output = serve_with(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", limited());
        assert!(output.starts_with("HTTP/1.1 413 "), "{output}");
        assert!(output.contains("connection: close"), "{output}");
    }

    #[test]
    fn counted_body_beyond_the_limit_gets_413() {
        let input =
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n6\r\n6789ab\r\n0\r\n\r\n";
        let output = serve_with(input, limited());
        assert!(output.starts_with("HTTP/1.1 413 "), "{output}");
        assert_eq!(output.matches("HTTP/1.1").count(), 1, "{output}");
    }

    #[test]
    fn bodies_within_the_limit_are_served() {
        let input = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789\
            POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n";
        let output = serve_with(input, limited());
        assert_eq!(output.matches("HTTP/1.1 200 OK").count(), 2, "{output}");
        assert!(output.ends_with("0123456789"), "{output}");
    }

    #[test]
    fn head_beyond_max_header_size_gets_431() {
        let input = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "v".repeat(300));
        let output = serve_with(input.as_bytes(), limited());
        assert!(output.starts_with("HTTP/1.1 431 "), "{output}");
    }

    /// Drain an idle keep-alive connection, then send a request `delay` later: what comes back.
    fn drain_then_request(delay: Duration) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (client, server) = tokio::io::duplex(64 * 1024);
            let shutdown = granian_serve::Shutdown::new();
            let watch = shutdown.watch();
            let conn = Arc::new(ConnInfo::with_addresses(None, None, granian_serve::Scheme::Http));
            let task = tokio::spawn(async move {
                let _ = serve_connection(server, Echo, conn, &limits(), watch, None::<NoUpgrades>).await;
            });
            let (mut reader, mut writer) = tokio::io::split(client);
            let request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
            writer.write_all(request).await.unwrap();
            let mut output = vec![0; 4096];
            let first = reader.read(&mut output).await.unwrap();
            assert!(output[..first].starts_with(b"HTTP/1.1 200 "));
            shutdown.advance(granian_serve::Phase::Draining);
            tokio::time::sleep(delay).await;
            let _ = writer.write_all(request).await;
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut rest)).await;
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
            String::from_utf8_lossy(&rest).into_owned()
        })
    }

    #[test]
    fn a_request_arriving_just_after_the_drain_is_answered_with_close() {
        let output = drain_then_request(Duration::from_millis(50));
        assert!(output.starts_with("HTTP/1.1 200 "), "{output}");
        assert!(output.contains("connection: close"), "{output}");
        assert!(output.ends_with("hi"), "{output}");
    }

    #[test]
    fn an_idle_connection_closes_after_the_linger() {
        let output = drain_then_request(DRAIN_LINGER + Duration::from_millis(300));
        assert_eq!(output, "");
    }

    /// Sends a `103` with one link ahead of its answer, which it gives once `go` fires (at once
    /// without one); the body says whether the hint could be sent.
    #[derive(Clone)]
    struct Hinting(Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>>);

    impl Handler for Hinting {
        fn handle(
            &self,
            request: Request<granian_serve::IncomingBody>,
            _conn: &Arc<ConnInfo>,
        ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
            let informational = request.extensions().get::<granian_serve::Informational>().cloned();
            let go = self.0.lock().unwrap().take();
            async move {
                let mut hint = Response::new(());
                *hint.status_mut() = StatusCode::EARLY_HINTS;
                hint.headers_mut()
                    .append(header::LINK, HeaderValue::from_static("</style.css>; rel=preload"));
                let sent = informational.is_some_and(|informational| informational.send(hint));
                if let Some(go) = go {
                    let _ = go.await;
                }
                Response::new(ResponseBody::full(if sent { "hinted" } else { "plain" }.into()))
            }
        }
    }

    #[test]
    fn early_hints_precede_the_response() {
        let input = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.0\r\nHost: x\r\n\r\n";
        let output = drive(input, |io, conn, watch| async move {
            let handler = Hinting(Arc::default());
            let _ = serve_connection(io, handler, conn, &limits(), watch, None::<NoUpgrades>).await;
        });
        let output = String::from_utf8_lossy(&output);
        let (first, second) = output.split_once("hinted").unwrap();
        assert!(
            first.starts_with("HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n"),
            "{output}"
        );
        // RFC 9110 §15.2: an HTTP/1.0 client gets no 1xx response.
        assert!(
            second.starts_with("HTTP/1.0 200 OK\r\n") && second.ends_with("plain"),
            "{output}"
        );
        assert_eq!(output.matches(" 103 ").count(), 1, "{output}");
    }

    #[test]
    fn without_informational_responses_no_hint_is_offered() {
        let input = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let output = drive(input, |io, conn, watch| async move {
            let handler = Hinting(Arc::default());
            let limits = Http1Limits {
                informational: false,
                ..limits()
            };
            let _ = serve_connection(io, handler, conn, &limits, watch, None::<NoUpgrades>).await;
        });
        let output = String::from_utf8_lossy(&output);
        assert!(
            output.starts_with("HTTP/1.1 200 OK\r\n") && output.ends_with("plain"),
            "{output}"
        );
    }

    #[test]
    fn an_early_hint_goes_out_while_the_response_is_pending() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (client, server) = tokio::io::duplex(64 * 1024);
            let shutdown = granian_serve::Shutdown::new();
            let watch = shutdown.watch();
            let conn = Arc::new(ConnInfo::with_addresses(None, None, granian_serve::Scheme::Http));
            let (go, wait) = tokio::sync::oneshot::channel();
            let handler = Hinting(Arc::new(std::sync::Mutex::new(Some(wait))));
            let task = tokio::spawn(async move {
                let _ = serve_connection(server, handler, conn, &limits(), watch, None::<NoUpgrades>).await;
            });
            let (mut reader, mut writer) = tokio::io::split(client);
            writer.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
            // The handler holds its response back until the hint has been read.
            let mut hint = vec![0; 4096];
            let read = tokio::time::timeout(Duration::from_secs(5), reader.read(&mut hint))
                .await
                .expect("the hint waited for the response")
                .unwrap();
            assert!(hint[..read].starts_with(b"HTTP/1.1 103 Early Hints\r\n"));
            assert!(hint[..read].ends_with(b"\r\n\r\n"));
            go.send(()).unwrap();
            let mut rest = vec![0; 4096];
            let read = reader.read(&mut rest).await.unwrap();
            assert!(rest[..read].starts_with(b"HTTP/1.1 200 OK\r\n"));
            drop(writer);
            drop(reader);
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        });
    }

    /// A chunked answer that announces `x-checksum` and ends with it as a trailer field.
    #[derive(Clone)]
    struct Trailing;

    impl Handler for Trailing {
        fn handle(
            &self,
            _request: Request<granian_serve::IncomingBody>,
            _conn: &Arc<ConnInfo>,
        ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
            async move {
                let (sender, body) = ResponseBody::channel(4);
                let _ = sender.try_send(bytes::Bytes::from_static(b"data"));
                let mut trailers = http::HeaderMap::new();
                trailers.insert("x-checksum", HeaderValue::from_static("abc"));
                trailers.insert("x-unannounced", HeaderValue::from_static("dropped"));
                sender.finish(trailers);
                let mut response = Response::new(body);
                response
                    .headers_mut()
                    .insert(header::TRAILER, HeaderValue::from_static("x-checksum"));
                response
            }
        }
    }

    #[test]
    fn trailers_need_te_and_an_announcement() {
        let serve = |input: &'static [u8]| {
            let output = drive(input, |io, conn, watch| async move {
                let _ = serve_connection(io, Trailing, conn, &limits(), watch, None::<NoUpgrades>).await;
            });
            String::from_utf8_lossy(&output).into_owned()
        };
        // hyper sends the fields the `Trailer` header announced, to a client that accepts them.
        let accepted = serve(b"GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n");
        assert!(accepted.contains("transfer-encoding: chunked\r\n"), "{accepted}");
        assert!(
            accepted.ends_with("4\r\ndata\r\n0\r\nx-checksum: abc\r\n\r\n"),
            "{accepted}"
        );
        // Without `TE: trailers` the body still ends cleanly, with no trailer section.
        let plain = serve(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(plain.ends_with("4\r\ndata\r\n0\r\n\r\n"), "{plain}");
    }

    /// Answers at once with a streamed body that echoes the request body as it arrives.
    #[derive(Clone)]
    struct StreamEcho;

    impl Handler for StreamEcho {
        fn handle(
            &self,
            request: Request<IncomingBody>,
            _conn: &Arc<ConnInfo>,
        ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
            let (chunks, body) = ResponseBody::channel(4);
            tokio::spawn(async move {
                let mut incoming = request.into_body();
                while let Some(Ok(frame)) = incoming.frame().await {
                    if let Ok(data) = frame.into_data()
                        && !chunks.send(data).await
                    {
                        return;
                    }
                }
            });
            std::future::ready(Response::new(body))
        }
    }

    /// Serve one connection with `handler` on a paused clock; the client writes `input`, keeps
    /// its side open and reads only if `read`. Returns what it read until the server closed,
    /// and how long the server took to end the connection.
    fn stalled<H: Handler>(handler: H, input: &'static [u8], read: bool) -> (String, Duration) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (client, server) = tokio::io::duplex(16 * 1024);
            let shutdown = granian_serve::Shutdown::new();
            let watch = shutdown.watch();
            let conn = Arc::new(ConnInfo::with_addresses(None, None, granian_serve::Scheme::Http));
            let started = tokio::time::Instant::now();
            let task = tokio::spawn(async move {
                let _ = serve_connection(server, handler, conn, &limits(), watch, None::<NoUpgrades>).await;
                started.elapsed()
            });
            let (mut reader, mut writer) = tokio::io::split(client);
            writer.write_all(input).await.unwrap();
            let mut output = Vec::new();
            if read {
                let _ = tokio::time::timeout(Duration::from_mins(1), reader.read_to_end(&mut output)).await;
            }
            let took = tokio::time::timeout(Duration::from_mins(1), task)
                .await
                .unwrap()
                .unwrap();
            drop(writer);
            (String::from_utf8_lossy(&output).into_owned(), took)
        })
    }

    #[test]
    fn a_body_that_stops_coming_gets_408_and_close() {
        let input = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc";
        let (output, took) = stalled(Echo, input, true);
        assert!(output.starts_with("HTTP/1.1 408 "), "{output}");
        assert!(output.contains("connection: close"), "{output}");
        // The read timeout of the test limits: 1 s.
        assert_eq!(took, Duration::from_secs(1));
    }

    #[test]
    fn a_body_that_stops_coming_after_the_response_started_cuts_it_off() {
        let input = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
        let (output, took) = stalled(StreamEcho, input, true);
        assert!(output.starts_with("HTTP/1.1 200 "), "{output}");
        assert!(output.contains("\r\n3\r\nabc\r\n"), "{output}");
        // No last chunk: the client can tell the response is incomplete.
        assert!(!output.ends_with("0\r\n\r\n"), "{output}");
        assert_eq!(took, Duration::from_secs(1));
    }

    #[test]
    fn a_client_that_stops_reading_is_dropped_after_the_send_timeout() {
        let (output, took) = stalled(Big(1 << 20), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false);
        assert_eq!(output, "");
        // The send timeout of the test limits: 1 s from the moment the socket stopped taking.
        assert_eq!(took, Duration::from_secs(1));
    }

    #[test]
    fn no_limit_means_no_413() {
        let body = "x".repeat(5000);
        let input = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{body}");
        let output = serve_with(input.as_bytes(), limits());
        assert!(output.starts_with("HTTP/1.1 200 "), "{output}");
    }

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

    /// A connection holding a slot among `slots`, served by [`Echo`] on a task (which runs once
    /// the caller yields): the client's end and the task.
    async fn in_slot(
        slots: &granian_serve::ConnectionSlots,
        shutdown: &granian_serve::Shutdown,
    ) -> (tokio::io::DuplexStream, tokio::task::JoinHandle<()>) {
        let watch = shutdown.watch_slot(slots.assign(slots.acquire().await));
        let (client, server) = tokio::io::duplex(4096);
        let addr = "127.0.0.1:1".parse().unwrap();
        let conn = Arc::new(ConnInfo::new(addr, addr, granian_serve::Scheme::Http));
        let task = tokio::spawn(async move {
            let _ = serve_connection(server, Echo, conn, &limits(), watch, None::<NoUpgrades>).await;
        });
        (client, task)
    }

    #[tokio::test(start_paused = true)]
    async fn only_an_idle_connection_gives_its_slot_up() {
        let shutdown = granian_serve::Shutdown::new();
        let slots = granian_serve::ConnectionSlots::new(4);
        let (mut client, task) = in_slot(&slots, &shutdown).await;
        // Mid-body, a request is in flight: the connection is not reusable.
        client
            .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nab")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(slots.reclaim(1), 0);
        client.write_all(b"cd").await.unwrap();
        let mut buf = vec![0; 1024];
        let read = client.read(&mut buf).await.unwrap();
        assert!(buf[..read].ends_with(b"abcd"));
        // Answered, and idle between requests: reclaimed, it closes at once.
        let start = tokio::time::Instant::now();
        assert_eq!(slots.reclaim(1), 1);
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        task.await.unwrap();
        assert!(rest.is_empty());
        assert!(start.elapsed() < DRAIN_LINGER, "{:?}", start.elapsed());
        assert_eq!(slots.open(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_already_received_survives_the_reclaim() {
        let shutdown = granian_serve::Shutdown::new();
        let slots = granian_serve::ConnectionSlots::new(4);
        let (mut client, task) = in_slot(&slots, &shutdown).await;
        // The request is there before the server read anything (its task has not run yet):
        // reclaimed as idle, it is served.
        client
            .write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nhi")
            .await
            .unwrap();
        assert_eq!(slots.reclaim(1), 1);
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        task.await.unwrap();
        // Answered (with `Connection: close` when the drain was noticed first), then closed.
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("HTTP/1.1 200 ") && text.ends_with("hi"), "{text}");
        assert_eq!(slots.open(), 0);
    }

    // Round trips through a real connection: what goes in as a request body comes back as the
    // response body, however it was framed.

    fn encode_chunked(body: &[u8], size: usize) -> Vec<u8> {
        let mut wire = Vec::new();
        for chunk in body.chunks(size) {
            wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            wire.extend_from_slice(chunk);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
        wire
    }

    /// The body of the first response in `wire`, framed by its content-length.
    fn first_body(wire: &[u8]) -> Option<Vec<u8>> {
        let head_end = wire.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = std::str::from_utf8(&wire[..head_end]).ok()?;
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))?
            .trim()
            .parse()
            .ok()?;
        wire.get(head_end..head_end + length).map(<[u8]>::to_vec)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn chunked_round_trips(body in vec(any::<u8>(), 0..4096), size in 1usize..512) {
            let mut request = b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
            request.extend(encode_chunked(&body, size));
            let response = serve_bytes(&request);
            prop_assert_eq!(first_body(&response), Some(body));
        }

        #[test]
        fn content_length_round_trips(body in vec(any::<u8>(), 0..4096)) {
            let head = format!("POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\r\n", body.len());
            let mut request = head.into_bytes();
            request.extend_from_slice(&body);
            let response = serve_bytes(&request);
            prop_assert_eq!(first_body(&response), Some(body));
        }

        #[test]
        fn pipelined_requests_answered_in_order(bodies in vec(vec(any::<u8>(), 1..64), 1..6)) {
            let mut request = Vec::new();
            for body in &bodies {
                let head = format!("POST / HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\r\n", body.len());
                request.extend(head.into_bytes());
                request.extend_from_slice(body);
            }
            let mut response = serve_bytes(&request);
            for body in &bodies {
                let got = first_body(&response);
                prop_assert_eq!(got.as_ref(), Some(body));
                let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                response.drain(..head_end + body.len());
            }
            prop_assert!(response.is_empty());
        }

        #[test]
        fn arbitrary_bytes_never_panic(input in vec(any::<u8>(), 0..2048)) {
            let response = serve_bytes(&input);
            prop_assert!(response.is_empty() || response.starts_with(b"HTTP/1.1 "));
        }
    }
}
