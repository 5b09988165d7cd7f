use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};

/// Counts the requests of one connection that are not finished: a request counts from the
/// moment it reaches the handler until its response body is written out or abandoned.
///
/// A protocol layer uses it to tell an idle connection from a busy one while draining: an
/// HTTP/2 client that never answers the GOAWAY handshake must not hold the shutdown up when
/// it has no stream open.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// A counter at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Count one more request until the returned guard drops.
    #[must_use]
    pub fn enter(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(Arc::clone(&self.0))
    }

    /// Whether no request is in flight.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.0.load(Ordering::Acquire) == 0
    }
}

/// One request counted by an [`InFlight`]; dropping it ends the count.
#[derive(Debug)]
pub struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted until the body is done with.
#[derive(Debug)]
pub struct TrackedBody<B> {
    body: B,
    _guard: InFlightGuard,
}

impl<B> TrackedBody<B> {
    /// Keep `guard` alive as long as `body`.
    #[must_use]
    pub fn new(body: B, guard: InFlightGuard) -> Self {
        Self { body, _guard: guard }
    }
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResponseBody;
    use bytes::Bytes;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn counts_until_the_body_is_consumed() {
        let inflight = InFlight::new();
        assert!(inflight.is_idle());
        let body = TrackedBody::new(ResponseBody::full(Bytes::from_static(b"abc")), inflight.enter());
        assert!(!inflight.is_idle());
        assert_eq!(body.size_hint().exact(), Some(3));
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"abc"));
        assert!(inflight.is_idle());
    }

    #[test]
    fn guards_count_independently() {
        let inflight = InFlight::new();
        let a = inflight.enter();
        let b = inflight.clone().enter();
        drop(a);
        assert!(!inflight.is_idle());
        drop(b);
        assert!(inflight.is_idle());
    }
}
