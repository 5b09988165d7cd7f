use std::future::Future;

use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Body;
use hyper::body::Incoming;
use tokio::sync::oneshot;

use crate::incoming::Limited;
use crate::{IncomingBody, ResponseBody, error_response};

/// Learns that a counted request body went past its limit (see [`admit`]).
#[derive(Debug)]
pub struct BodyOverflow(oneshot::Receiver<()>);

impl BodyOverflow {
    /// Complete once the body went past its limit; never, if it ends within it.
    pub async fn reached(self) {
        if self.0.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A request refused before it reaches its interface: its declared body is too large.
#[derive(Debug, Clone, Copy)]
pub struct TooLarge;

/// Check a request against `max_body_size` before any of its body is read. A body whose
/// declared length (`content-length`) is beyond it is refused; one whose length is not known
/// up front (chunked, or HTTP/2 without `content-length`) is counted as it is read, and the
/// returned [`BodyOverflow`] learns when it goes beyond. A declared length is enforced by the
/// protocol layer itself (hyper and h2 never deliver more), so such bodies are not counted.
pub fn admit(
    request: Request<Incoming>,
    max_body_size: Option<u64>,
) -> Result<(Request<IncomingBody>, Option<BodyOverflow>), TooLarge> {
    let Some(limit) = max_body_size else {
        return Ok((request.map(IncomingBody::from), None));
    };
    let hint = request.body().size_hint();
    if hint.lower() > limit {
        return Err(TooLarge);
    }
    if hint.upper().is_some_and(|upper| upper <= limit) {
        return Ok((request.map(IncomingBody::from), None));
    }
    let (sender, receiver) = oneshot::channel();
    let request = request.map(|body| IncomingBody::Limited(Limited::new(body, limit, sender)));
    Ok((request, Some(BodyOverflow(receiver))))
}

/// The 413 answer; `close` asks an HTTP/1.1 client to open a new connection, since the rest of
/// the body is not read.
#[must_use]
pub fn payload_too_large(close: bool) -> Response<ResponseBody> {
    let mut response = error_response(StatusCode::PAYLOAD_TOO_LARGE);
    if close {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The interface's response, unless the request body goes past its limit before the response
/// head is ready: then 413, and the interface's future is dropped (as when a client leaves).
pub async fn within_limit<F>(response: F, overflow: Option<BodyOverflow>, close: bool) -> Response<ResponseBody>
where
    F: Future<Output = Response<ResponseBody>>,
{
    let Some(BodyOverflow(mut overflow)) = overflow else {
        return response.await;
    };
    tokio::pin!(response);
    tokio::select! {
        biased;
        reached = &mut overflow => {
            if reached.is_ok() {
                return payload_too_large(close);
            }
        }
        response = &mut response => {
            // The body may have gone past its limit in the very poll that produced this response
            // (an interface answering its own failed read at once): 413 says why.
            return if overflow.try_recv().is_ok() { payload_too_large(close) } else { response };
        }
    }
    // The body ended within its limit.
    response.await
}
