use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use crate::Stall;

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
    /// The client sent nothing for this long while the body was being read; the rest is not
    /// read.
    #[error("no request body bytes for {timeout:?}")]
    TimedOut {
        /// The read timeout.
        timeout: Duration,
    },
}

impl BodyError {
    /// The status that answers a request whose body ended this way before any response: 400
    /// (the client broke off or broke the framing), 413 or 408.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Transport(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TimedOut { .. } => StatusCode::REQUEST_TIMEOUT,
        }
    }
}

/// Why the server itself ended a request body early, as the protocol layer learns it (see
/// [`admit`](crate::admit)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// It went past `max_request_body_size` (413).
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// A read waited longer than the read timeout (408, or the request is cut off).
    TimedOut {
        /// The read timeout.
        timeout: Duration,
    },
}

impl From<BodyFault> for BodyError {
    fn from(fault: BodyFault) -> Self {
        match fault {
            BodyFault::TooLarge { limit } => Self::TooLarge { limit },
            BodyFault::TimedOut { timeout } => Self::TimedOut { timeout },
        }
    }
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
    /// Frames as they arrive, bounded by the protocol layer as they are read (see [`Guarded`]).
    Guarded(Guarded),
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

/// A streamed body the protocol layer bounds as it is read (see [`admit`](crate::admit)):
/// counted against a limit when its total is not known up front (a chunked HTTP/1.1 body, an
/// HTTP/2 body without `content-length`), each wait for its next frame bounded by the read
/// timeout, and a permit held until it has all arrived. A fault ends it for good: the
/// connection's body is dropped (the protocol layer then stops reading it) and the protocol
/// layer learns why, to answer 413 or 408.
///
/// The read timeout costs nothing while frames are there when asked for: its timer is armed only
/// when a read finds nothing yet (see [`Stall`]).
#[derive(Debug)]
pub struct Guarded<B = Incoming> {
    body: Option<B>,
    /// Bytes still allowed, and the limit, when the body is counted.
    count: Option<(u64, u64)>,
    stall: Option<Stall>,
    fault: Option<oneshot::Sender<BodyFault>>,
    /// Why the body was ended early: every later read fails the same way.
    failed: Option<BodyFault>,
    /// Released once the body arrived whole, failed, or was dropped.
    permit: Option<OwnedSemaphorePermit>,
}

impl<B> Guarded<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BodyError>,
{
    pub(crate) fn new(
        body: B,
        max_size: Option<u64>,
        read_timeout: Option<Duration>,
        fault: Option<oneshot::Sender<BodyFault>>,
    ) -> Self {
        Self {
            body: Some(body),
            count: max_size.map(|limit| (limit, limit)),
            stall: read_timeout.map(Stall::new),
            fault,
            failed: None,
            permit: None,
        }
    }

    fn fail(&mut self, fault: BodyFault) -> BodyError {
        self.body = None;
        self.permit = None;
        self.failed = Some(fault);
        if let Some(sender) = self.fault.take() {
            let _ = sender.send(fault);
        }
        fault.into()
    }

    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(self.failed.map(|fault| Err(fault.into())));
        };
        let frame = match Pin::new(&mut *body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Pending => {
                if let Some(stall) = &mut self.stall
                    && stall.poll_expired(cx)
                {
                    let timeout = stall.limit();
                    return Poll::Ready(Some(Err(self.fail(BodyFault::TimedOut { timeout }))));
                }
                return Poll::Pending;
            }
            ended @ Poll::Ready(_) => {
                // The end, or a transport error: nothing more will arrive.
                self.permit = None;
                self.fault = None;
                return ended.map(|frame| frame.map(|result| result.map_err(Into::into)));
            }
        };
        if let Some(stall) = &mut self.stall {
            stall.progress();
        }
        if let Some(data) = frame.data_ref()
            && let Some((remaining, limit)) = &mut self.count
        {
            let size = data.len() as u64;
            if size > *remaining {
                let limit = *limit;
                return Poll::Ready(Some(Err(self.fail(BodyFault::TooLarge { limit }))));
            }
            *remaining -= size;
        }
        if body.is_end_stream() {
            self.permit = None;
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

    /// `body`, each read of which waits for the client at most `read_timeout` (a read past it
    /// fails with [`BodyError::TimedOut`]): for a body a protocol layer reads itself.
    #[must_use]
    pub fn timed(body: Incoming, read_timeout: Option<Duration>) -> Self {
        match read_timeout {
            Some(_) if !body.is_end_stream() => Self::Guarded(Guarded::new(body, None, read_timeout, None)),
            _ => Self::Incoming(body),
        }
    }

    /// Keep `permit` until the body has arrived whole, failed, or is dropped: how a protocol
    /// layer counts the bodies a connection is sending at once. For a body that is not empty
    /// (see [`crate::is_empty`]): it is not asked again, since asking an HTTP/2 stream takes its
    /// connection's lock. A body already whole releases the permit at once; so does a boxed one,
    /// which no protocol layer produces.
    #[must_use]
    pub fn hold(self, permit: OwnedSemaphorePermit) -> Self {
        match self {
            Self::Incoming(body) => {
                let mut guarded = Guarded::new(body, None, None, None);
                guarded.permit = Some(permit);
                Self::Guarded(guarded)
            }
            Self::Guarded(mut guarded) if guarded.body.is_some() => {
                guarded.permit = Some(permit);
                Self::Guarded(guarded)
            }
            other => other,
        }
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
            Self::Guarded(guarded) => guarded.poll_frame(cx),
            Self::Boxed(BoxedBody(body)) => body.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Incoming(body) => body.is_end_stream(),
            Self::Full(bytes) => bytes.is_none(),
            Self::Guarded(guarded) => guarded.body.as_ref().is_some_and(Body::is_end_stream),
            Self::Boxed(BoxedBody(body)) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Incoming(body) => body.size_hint(),
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Guarded(guarded) => guarded.body.as_ref().map(Body::size_hint).unwrap_or_default(),
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

    /// A body fed through a channel: data as it is sent, the end once the sender is dropped.
    struct Fed(tokio::sync::mpsc::Receiver<Bytes>);

    impl Body for Fed {
        type Data = Bytes;
        type Error = BodyError;

        fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
            self.0.poll_recv(cx).map(|data| data.map(|data| Ok(Frame::data(data))))
        }
    }

    fn fed(
        max_size: Option<u64>,
        read_timeout: Option<Duration>,
    ) -> (
        tokio::sync::mpsc::Sender<Bytes>,
        Guarded<Fed>,
        oneshot::Receiver<BodyFault>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let (fault, faulted) = oneshot::channel();
        (tx, Guarded::new(Fed(rx), max_size, read_timeout, Some(fault)), faulted)
    }

    async fn next(guarded: &mut Guarded<Fed>) -> Option<Result<Frame<Bytes>, BodyError>> {
        std::future::poll_fn(|cx| guarded.poll_frame(cx)).await
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_that_waits_past_the_timeout_fails_and_says_so() {
        let (tx, mut guarded, mut faulted) = fed(None, Some(Duration::from_mins(1)));
        tx.send(Bytes::from_static(b"first")).await.unwrap();
        assert!(next(&mut guarded).await.unwrap().is_ok());
        let started = tokio::time::Instant::now();
        let err = next(&mut guarded).await.unwrap().unwrap_err();
        assert!(matches!(err, BodyError::TimedOut { timeout } if timeout == Duration::from_mins(1)));
        assert_eq!(err.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(started.elapsed(), Duration::from_mins(1));
        assert_eq!(
            faulted.try_recv(),
            Ok(BodyFault::TimedOut {
                timeout: Duration::from_mins(1)
            })
        );
        // Later reads fail the same way; what the client sends now is not read.
        let _ = tx.send(Bytes::from_static(b"late")).await;
        assert!(matches!(
            next(&mut guarded).await,
            Some(Err(BodyError::TimedOut { .. }))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeout_bounds_each_wait_not_the_whole_body() {
        let (tx, mut guarded, mut faulted) = fed(None, Some(Duration::from_secs(5)));
        let sender = tokio::spawn(async move {
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                tx.send(Bytes::from_static(b"x")).await.unwrap();
            }
        });
        let mut received = 0;
        while let Some(frame) = next(&mut guarded).await {
            received += frame.unwrap().into_data().unwrap().len();
        }
        sender.await.unwrap();
        assert_eq!(received, 10);
        // The body ended: the protocol layer learns no fault.
        assert!(faulted.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_nobody_reads_never_times_out() {
        let (_tx, guarded, mut faulted) = fed(None, Some(Duration::from_secs(5)));
        tokio::time::sleep(Duration::from_hours(1)).await;
        assert_eq!(faulted.try_recv(), Err(oneshot::error::TryRecvError::Empty));
        drop(guarded);
    }

    #[tokio::test]
    async fn a_counted_body_past_its_limit_fails() {
        let (tx, mut guarded, mut faulted) = fed(Some(4), None);
        tx.send(Bytes::from_static(b"abc")).await.unwrap();
        tx.send(Bytes::from_static(b"de")).await.unwrap();
        assert!(next(&mut guarded).await.unwrap().is_ok());
        let err = next(&mut guarded).await.unwrap().unwrap_err();
        assert!(matches!(err, BodyError::TooLarge { limit: 4 }));
        assert_eq!(faulted.try_recv(), Ok(BodyFault::TooLarge { limit: 4 }));
    }

    #[tokio::test]
    async fn the_permit_is_held_until_the_body_ends() {
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(1));
        let (tx, mut guarded, _faulted) = fed(None, None);
        guarded.permit = Some(permits.clone().try_acquire_owned().unwrap());
        tx.send(Bytes::from_static(b"abc")).await.unwrap();
        assert!(next(&mut guarded).await.unwrap().is_ok());
        assert_eq!(permits.available_permits(), 0);
        drop(tx);
        assert!(next(&mut guarded).await.is_none());
        assert_eq!(permits.available_permits(), 1);
    }

    #[test]
    fn errors_map_to_statuses() {
        let too_large = BodyError::from(BodyFault::TooLarge { limit: 1 });
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_large.to_string(), "request body exceeds 1 bytes");
    }

    #[test]
    fn empty_full_body_is_ended() {
        let body = IncomingBody::full(Bytes::new());
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
    }
}
