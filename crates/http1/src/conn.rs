use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;

use granian_serve::{ConnInfo, Handler, IncomingBody, Phase, ResponseBody, ShutdownWatch, error_response};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

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
    let upgrade_watch = upgrades.is_some().then(|| shutdown.clone());
    let service = service_fn(move |request: Request<Incoming>| {
        let switch = upgrades.as_ref().and_then(|upgrades| {
            let protocol = upgrades.accept(request.headers())?;
            body_fits(request.headers()).then(|| (upgrades.clone(), protocol))
        });
        let outcome = match (switch, &upgrade_watch) {
            (Some((upgrades, protocol)), Some(watch)) => {
                Outcome::Switch(Box::pin(switch_protocols(upgrades, protocol, request, watch.clone())))
            }
            _ => Outcome::Serve(handler.handle(request.map(IncomingBody::from), &conn)),
        };
        async move {
            Ok::<_, Infallible>(match outcome {
                Outcome::Serve(response) => response.await,
                Outcome::Switch(response) => response.await,
            })
        }
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

type Switching = Pin<Box<dyn Future<Output = Response<ResponseBody>> + Send>>;

/// What one request turns into: an ordinary response, or a protocol switch.
enum Outcome<F> {
    Serve(F),
    Switch(Switching),
}

/// Read the upgrading request's body, answer 101, and hand the connection to `upgrades` once
/// hyper has written the 101 and released it.
async fn switch_protocols<U: Upgrades>(
    upgrades: U,
    protocol: HeaderValue,
    mut request: Request<Incoming>,
    watch: ShutdownWatch,
) -> Response<ResponseBody> {
    let on_upgrade = hyper::upgrade::on(&mut request);
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await else {
        return error_response(StatusCode::BAD_REQUEST);
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
