use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Body;
use hyper::body::Incoming;
use tokio::sync::oneshot;

use crate::incoming::{BodyFault, Guarded};
use crate::{IncomingBody, ResponseBody, error_response};

/// What a protocol layer bounds request bodies by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyLimits {
    /// The largest body, in bytes: 413 beyond it.
    pub max_size: Option<u64>,
    /// The longest a read of the body may wait for the client's next bytes: beyond it the
    /// request ends, with 408 if its response has not started.
    pub read_timeout: Option<Duration>,
}

/// Learns why the server ended a request body early (see [`admit`]).
#[derive(Debug)]
pub struct BodyWatch(oneshot::Receiver<BodyFault>);

impl BodyWatch {
    /// Complete once the body went past its limit or timed out; never, if it ends within them.
    pub async fn fault(self) -> BodyFault {
        match self.0.await {
            Ok(fault) => fault,
            Err(_) => std::future::pending().await,
        }
    }
}

/// A request refused before it reaches its interface: its declared body is too large.
#[derive(Debug, Clone, Copy)]
pub struct TooLarge;

/// Check a request against `limits` before any of its body is read. A body whose declared
/// length (`content-length`) is beyond `max_size` is refused. Any other body is handed on
/// bounded: counted as it is read when its length is not known up front (chunked, or HTTP/2
/// without `content-length`; a declared length is enforced by the protocol layer itself, hyper
/// and h2 never deliver more), and each wait for more of it bounded by `read_timeout`. The
/// returned [`BodyWatch`] learns when either ends it; a request without a body gets none and
/// costs nothing.
pub fn admit(
    request: Request<Incoming>,
    limits: BodyLimits,
) -> Result<(Request<IncomingBody>, Option<BodyWatch>), TooLarge> {
    let hint = request.body().size_hint();
    let count = match limits.max_size {
        Some(limit) if hint.lower() > limit => return Err(TooLarge),
        Some(limit) if hint.upper().is_none_or(|upper| upper > limit) => Some(limit),
        _ => None,
    };
    if is_empty(request.body()) {
        // Nothing to read: the interface gets an empty body it can ask about without a lock
        // (an HTTP/2 stream's `is_end_stream` takes the connection's).
        return Ok((request.map(|_| IncomingBody::full(Bytes::new())), None));
    }
    if count.is_none() && limits.read_timeout.is_none() {
        return Ok((request.map(IncomingBody::from), None));
    }
    let (sender, receiver) = oneshot::channel();
    let request =
        request.map(|body| IncomingBody::Guarded(Guarded::new(body, count, limits.read_timeout, Some(sender))));
    Ok((request, Some(BodyWatch(receiver))))
}

/// Whether `body` has nothing to read: its declared length is zero (which an HTTP/2 request that
/// ends with its headers also gets), or, with no length declared, it has ended. A declared length
/// answers without asking the stream, which takes the HTTP/2 connection's lock: a request that
/// declares bytes and ends without them is malformed, and the protocol layer never hands it on.
#[must_use]
pub fn is_empty(body: &Incoming) -> bool {
    match body.size_hint().exact() {
        Some(length) => length == 0,
        None => body.is_end_stream(),
    }
}

/// The 413 answer; `close` asks an HTTP/1.1 client to open a new connection, since the rest of
/// the body is not read.
#[must_use]
pub fn payload_too_large(close: bool) -> Response<ResponseBody> {
    refusal(StatusCode::PAYLOAD_TOO_LARGE, close)
}

/// The 408 answer to a request whose body stopped coming; `close` as for [`payload_too_large`].
#[must_use]
pub fn request_timeout(close: bool) -> Response<ResponseBody> {
    refusal(StatusCode::REQUEST_TIMEOUT, close)
}

fn refusal(status: StatusCode, close: bool) -> Response<ResponseBody> {
    let mut response = error_response(status);
    if close {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

impl BodyFault {
    fn response(self, close: bool) -> Response<ResponseBody> {
        match self {
            Self::TooLarge { .. } => payload_too_large(close),
            Self::TimedOut { .. } => request_timeout(close),
        }
    }
}

/// The interface's response, unless the server ends the request body first (see [`admit`]).
/// Before the response head is ready, a body past its limit is answered 413 and one that timed
/// out 408, and the interface's future is dropped (as when a client leaves). After it, a body
/// that times out cuts the response off (the protocol layer resets the stream or closes the
/// connection): the request is over. `close` asks an HTTP/1.1 client to reconnect after a 413 or
/// 408, since the rest of the body is not read.
///
/// A future of its own rather than an `async fn`: one holds the interface's future once, where
/// an `async fn` keeps room for it twice (the argument and the pinned local), and every move of
/// the request's future (into the stream's task, say) copies all of it.
pub fn within_limits<F>(response: F, watch: Option<BodyWatch>, close: bool) -> WithinLimits<F>
where
    F: Future<Output = Response<ResponseBody>>,
{
    WithinLimits {
        response,
        fault: watch.map(|BodyWatch(fault)| fault),
        close,
    }
}

pin_project_lite::pin_project! {
    /// The future of [`within_limits`].
    #[must_use = "futures do nothing unless polled"]
    pub struct WithinLimits<F> {
        #[pin]
        response: F,
        // Until the body ends within its limits.
        fault: Option<oneshot::Receiver<BodyFault>>,
        close: bool,
    }
}

impl<F> Future for WithinLimits<F>
where
    F: Future<Output = Response<ResponseBody>>,
{
    type Output = Response<ResponseBody>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The body's fault first: once it came, the interface's answer no longer counts.
        if let Some(fault) = this.fault {
            match Pin::new(fault).poll(cx) {
                Poll::Ready(Ok(fault)) => return Poll::Ready(fault.response(*this.close)),
                // The body ended within its limits.
                Poll::Ready(Err(_)) => *this.fault = None,
                Poll::Pending => {}
            }
        }
        let response = ready!(this.response.poll(cx));
        let Some(mut fault) = this.fault.take() else {
            return Poll::Ready(response);
        };
        // The body may have failed in the very poll that produced this response (an interface
        // answering its own failed read at once): the status says why.
        Poll::Ready(match fault.try_recv() {
            Ok(fault) => fault.response(*this.close),
            Err(oneshot::error::TryRecvError::Closed) => response,
            Err(oneshot::error::TryRecvError::Empty) => response.map(|body| body.cut_off_by(fault)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::BodyExt;

    fn ok() -> Response<ResponseBody> {
        Response::new(ResponseBody::full(Bytes::from_static(b"ok")))
    }

    #[tokio::test]
    async fn a_fault_before_the_response_answers_for_it() {
        let (sender, receiver) = oneshot::channel();
        sender
            .send(BodyFault::TimedOut {
                timeout: Duration::from_secs(1),
            })
            .unwrap();
        let response = within_limits(std::future::pending(), Some(BodyWatch(receiver)), true).await;
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(response.headers()[header::CONNECTION], "close");
        let (sender, receiver) = oneshot::channel();
        sender.send(BodyFault::TooLarge { limit: 1 }).unwrap();
        let response = within_limits(async { ok() }, Some(BodyWatch(receiver)), false).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!response.headers().contains_key(header::CONNECTION));
    }

    #[tokio::test]
    async fn a_body_that_ended_leaves_the_response_alone() {
        let (sender, receiver) = oneshot::channel::<BodyFault>();
        drop(sender);
        let response = within_limits(async { ok() }, Some(BodyWatch(receiver)), true).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "ok");
    }

    #[tokio::test]
    async fn a_timeout_after_the_head_cuts_the_response_off() {
        let (sender, receiver) = oneshot::channel();
        let (chunks, body) = ResponseBody::channel(4);
        let response = within_limits(async { Response::new(body) }, Some(BodyWatch(receiver)), true).await;
        assert_eq!(response.status(), StatusCode::OK);
        let mut body = response.into_body();
        assert!(chunks.try_send(Bytes::from_static(b"a")).is_ok());
        assert_eq!(body.frame().await.unwrap().unwrap().into_data().unwrap(), "a");
        sender
            .send(BodyFault::TimedOut {
                timeout: Duration::from_secs(1),
            })
            .unwrap();
        assert!(body.frame().await.unwrap().is_err());
        // The producer learns the client is gone.
        assert!(!chunks.send(Bytes::from_static(b"b")).await);
    }

    #[tokio::test]
    async fn a_size_fault_after_the_head_lets_the_response_finish() {
        let (sender, receiver) = oneshot::channel();
        let (chunks, body) = ResponseBody::channel(4);
        let response = within_limits(async { Response::new(body) }, Some(BodyWatch(receiver)), true).await;
        sender.send(BodyFault::TooLarge { limit: 1 }).unwrap();
        assert!(chunks.try_send(Bytes::from_static(b"rest")).is_ok());
        drop(chunks);
        assert_eq!(response.into_body().collect().await.unwrap().to_bytes(), "rest");
    }
}
