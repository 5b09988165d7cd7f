use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::sync::oneshot;

/// Why a request body could not be read to its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The client went away, broke the framing, or the connection failed.
    #[error(transparent)]
    Transport(#[from] hyper::Error),
    /// The body grew beyond the server's `max_request_body_size`; the rest is not read.
    #[error("request body exceeds {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
}

/// A request body as an interface receives it: streamed from the connection, or already read
/// whole (the body of an HTTP/1.1 request that upgraded its connection to HTTP/2, which
/// arrived before the switch).
#[derive(Debug)]
pub enum IncomingBody {
    /// Frames as they arrive on the connection.
    Incoming(Incoming),
    /// A body read in full; `None` once it was handed out.
    Full(Option<Bytes>),
    /// Frames as they arrive, counted against a limit because their total is not known up
    /// front (a chunked HTTP/1.1 body, an HTTP/2 body without `content-length`).
    Limited(Limited),
    /// Another body in front of one of the above (a layer counting or transforming it).
    Boxed(BoxedBody),
}

/// The body behind [`IncomingBody::boxed`].
pub struct BoxedBody(Pin<Box<dyn Body<Data = Bytes, Error = BodyError> + Send + Sync>>);

impl std::fmt::Debug for BoxedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoxedBody")
    }
}

/// A streamed body counted against a limit: past it, the connection's body is dropped (the
/// protocol layer then stops reading it) and the protocol layer learns of it to answer 413.
#[derive(Debug)]
pub struct Limited {
    body: Option<Incoming>,
    remaining: u64,
    limit: u64,
    overflow: Option<oneshot::Sender<()>>,
}

impl Limited {
    pub(crate) fn new(body: Incoming, limit: u64, overflow: oneshot::Sender<()>) -> Self {
        Self {
            body: Some(body),
            remaining: limit,
            limit,
            overflow: Some(overflow),
        }
    }

    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(Some(Err(BodyError::TooLarge { limit: self.limit })));
        };
        let frame = match Pin::new(body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other.map(|frame| frame.map(|result| result.map_err(BodyError::from))),
        };
        if let Some(data) = frame.data_ref() {
            let size = data.len() as u64;
            if size > self.remaining {
                self.body = None;
                if let Some(overflow) = self.overflow.take() {
                    let _ = overflow.send(());
                }
                return Poll::Ready(Some(Err(BodyError::TooLarge { limit: self.limit })));
            }
            self.remaining -= size;
        }
        Poll::Ready(Some(Ok(frame)))
    }
}

impl IncomingBody {
    /// A body already read whole.
    #[must_use]
    pub fn full(bytes: Bytes) -> Self {
        Self::Full((!bytes.is_empty()).then_some(bytes))
    }

    /// Put `body` in front of the request body, e.g. a layer counting its bytes.
    #[must_use]
    pub fn boxed(body: impl Body<Data = Bytes, Error = BodyError> + Send + Sync + 'static) -> Self {
        Self::Boxed(BoxedBody(Box::pin(body)))
    }
}

impl From<Incoming> for IncomingBody {
    fn from(body: Incoming) -> Self {
        Self::Incoming(body)
    }
}

impl Body for IncomingBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut *self {
            Self::Incoming(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|frame| frame.map(|result| result.map_err(BodyError::from))),
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Limited(limited) => limited.poll_frame(cx),
            Self::Boxed(BoxedBody(body)) => body.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Incoming(body) => body.is_end_stream(),
            Self::Full(bytes) => bytes.is_none(),
            Self::Limited(limited) => limited.body.as_ref().is_some_and(Body::is_end_stream),
            Self::Boxed(BoxedBody(body)) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Incoming(body) => body.size_hint(),
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Limited(limited) => limited.body.as_ref().map(Body::size_hint).unwrap_or_default(),
            Self::Boxed(BoxedBody(body)) => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn full_body_yields_its_bytes_once() {
        let body = IncomingBody::full(Bytes::from_static(b"hello"));
        assert!(!body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(5));
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"hello"));
    }

    #[tokio::test]
    async fn boxed_body_passes_through() {
        let body = IncomingBody::boxed(IncomingBody::full(Bytes::from_static(b"inner")));
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(!body.is_end_stream());
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"inner"));
    }

    #[test]
    fn empty_full_body_is_ended() {
        let body = IncomingBody::full(Bytes::new());
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
    }
}
