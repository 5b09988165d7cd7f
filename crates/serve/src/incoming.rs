use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

/// A request body as an interface receives it: streamed from the connection, or already read
/// whole (the body of an HTTP/1.1 request that upgraded its connection to HTTP/2, which
/// arrived before the switch).
#[derive(Debug)]
pub enum IncomingBody {
    /// Frames as they arrive on the connection.
    Incoming(Incoming),
    /// A body read in full; `None` once it was handed out.
    Full(Option<Bytes>),
}

impl IncomingBody {
    /// A body already read whole.
    #[must_use]
    pub fn full(bytes: Bytes) -> Self {
        Self::Full((!bytes.is_empty()).then_some(bytes))
    }
}

impl From<Incoming> for IncomingBody {
    fn from(body: Incoming) -> Self {
        Self::Incoming(body)
    }
}

impl Body for IncomingBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match &mut *self {
            Self::Incoming(body) => Pin::new(body).poll_frame(cx),
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Incoming(body) => body.is_end_stream(),
            Self::Full(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Incoming(body) => body.size_hint(),
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
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

    #[test]
    fn empty_full_body_is_ended() {
        let body = IncomingBody::full(Bytes::new());
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
    }
}
