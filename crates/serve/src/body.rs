use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::{mpsc, oneshot};

use crate::BodyFault;

/// The error a streamed body ends with when its producer gave up mid-response (the
/// application raised): the protocol layer aborts the message instead of ending it cleanly,
/// so the client can tell a truncated body from a complete one.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("response body aborted by the application")]
pub struct BodyAborted;

/// What travels through a streamed body's channel.
#[derive(Debug)]
enum Item {
    Data(Bytes),
    /// The trailer section, after the last data; the body ends with it.
    Trailers(HeaderMap),
    Abort,
}

/// A response body: nothing, one buffer, or chunks streamed through a bounded channel (with, at
/// their end, a trailer section when the producer sends one).
#[derive(Debug)]
pub struct ResponseBody {
    kind: Kind,
    on_drop: Option<OnDrop>,
    /// Ends the body as aborted when its request's body times out (see `within_limits`).
    cut: Option<oneshot::Receiver<BodyFault>>,
}

/// Runs a closure when the body is dropped: once the protocol layer has written it all, or
/// gave up on it because the connection went away.
struct OnDrop(Option<Box<dyn FnOnce() + Send>>);

impl std::fmt::Debug for OnDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnDrop")
    }
}

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(callback) = self.0.take() {
            callback();
        }
    }
}

#[derive(Debug)]
enum Kind {
    Empty,
    Full(Option<Bytes>),
    /// `aborting` is set once the abort was received and held back for one poll.
    Stream {
        rx: mpsc::Receiver<Item>,
        aborting: bool,
    },
    /// Any other body, e.g. one re-encoding another on its way out.
    Boxed(Wrapped),
}

/// The body behind [`ResponseBody::wrap`].
struct Wrapped(Pin<Box<dyn Body<Data = Bytes, Error = BodyAborted> + Send>>);

impl std::fmt::Debug for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wrapped")
    }
}

impl ResponseBody {
    /// A body with no bytes.
    #[must_use]
    pub fn empty() -> Self {
        Self {
            kind: Kind::Empty,
            on_drop: None,
            cut: None,
        }
    }

    /// A body of one buffer; its length becomes the `content-length`.
    #[must_use]
    pub fn full(bytes: Bytes) -> Self {
        if bytes.is_empty() {
            return Self::empty();
        }
        Self {
            kind: Kind::Full(Some(bytes)),
            on_drop: None,
            cut: None,
        }
    }

    /// A streamed body and the sender feeding it. At most `capacity` chunks wait in between,
    /// so a slow client pushes back on the producer instead of growing a buffer.
    #[must_use]
    pub fn channel(capacity: usize) -> (StreamSender, Self) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            StreamSender { tx },
            Self {
                kind: Kind::Stream { rx, aborting: false },
                on_drop: None,
                cut: None,
            },
        )
    }

    /// A body produced by any other [`Body`] (a layer transforming a response's body, say).
    /// Its size hint and end are its own.
    #[must_use]
    pub fn wrap(body: impl Body<Data = Bytes, Error = BodyAborted> + Send + 'static) -> Self {
        Self {
            kind: Kind::Boxed(Wrapped(Box::pin(body))),
            on_drop: None,
            cut: None,
        }
    }

    /// Call `callback` when this body is dropped: written out, or abandoned with its
    /// connection. Replaces any earlier callback, which then runs at once.
    #[must_use]
    pub fn on_drop(mut self, callback: impl FnOnce() + Send + 'static) -> Self {
        self.on_drop = Some(OnDrop(Some(Box::new(callback))));
        self
    }

    /// End the body as aborted if `fault` reports that the request's body timed out: the
    /// request is over, so is its response.
    pub(crate) fn cut_off_by(mut self, fault: oneshot::Receiver<BodyFault>) -> Self {
        self.cut = Some(fault);
        self
    }

    fn poll_cut(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(cut) = &mut self.cut else {
            return false;
        };
        match Pin::new(cut).poll(cx) {
            Poll::Pending => false,
            Poll::Ready(fault) => {
                self.cut = None;
                matches!(fault, Ok(BodyFault::TimedOut { .. }))
            }
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BodyAborted;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyAborted>>> {
        if self.poll_cut(cx) {
            self.kind = Kind::Empty;
            return Poll::Ready(Some(Err(BodyAborted)));
        }
        match &mut self.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream { aborting: true, .. } => Poll::Ready(Some(Err(BodyAborted))),
            Kind::Stream { rx, aborting } => match rx.poll_recv(cx) {
                // The abort may arrive in the same pass as the chunks before it: yield once so
                // the connection writes those out (with the head) before it tears the message
                // down, and the client sees a truncated response rather than a bare close.
                Poll::Ready(Some(Item::Abort)) => {
                    *aborting = true;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                Poll::Ready(Some(Item::Data(chunk))) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
                Poll::Ready(Some(Item::Trailers(trailers))) => {
                    // Nothing may follow the trailer section.
                    rx.close();
                    Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
            Kind::Boxed(Wrapped(body)) => body.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty | Kind::Full(None) => true,
            Kind::Full(Some(_)) | Kind::Stream { .. } => false,
            Kind::Boxed(Wrapped(body)) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty | Kind::Full(None) => SizeHint::with_exact(0),
            Kind::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Kind::Stream { .. } => SizeHint::default(),
            Kind::Boxed(Wrapped(body)) => body.size_hint(),
        }
    }
}

/// Feeds a streamed [`ResponseBody`]. Dropping it ends the body cleanly; [`StreamSender::abort`]
/// ends it with [`BodyAborted`], [`StreamSender::finish`] with a trailer section.
#[derive(Debug, Clone)]
pub struct StreamSender {
    tx: mpsc::Sender<Item>,
}

impl StreamSender {
    /// Queue a chunk if there is room. `Err(Some(chunk))` hands the chunk back when the
    /// channel is full; `Err(None)` means the client is gone.
    pub fn try_send(&self, chunk: Bytes) -> Result<(), Option<Bytes>> {
        match self.tx.try_send(Item::Data(chunk)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(Item::Data(chunk))) => Err(Some(chunk)),
            Err(_) => Err(None),
        }
    }

    /// Queue a chunk, waiting for room. `false` when the client is gone.
    pub async fn send(&self, chunk: Bytes) -> bool {
        self.tx.send(Item::Data(chunk)).await.is_ok()
    }

    /// End the body as truncated.
    pub fn abort(&self) {
        self.queue_last(Item::Abort);
    }

    /// End the body with `trailers`, the trailer section (RFC 9110 §6.5); nothing may be sent
    /// after it. Whether the client gets them is the protocol's business: HTTP/1.1 sends only
    /// the fields a `Trailer` header announced, to a client that sent `TE: trailers`, on a
    /// chunked response.
    pub fn finish(&self, trailers: HeaderMap) {
        self.queue_last(Item::Trailers(trailers));
    }

    /// Queue the item that ends the body; a full channel still gets it, from a task of the
    /// runtime, and the receiver sees it once it drained what came before. Needs a runtime
    /// context when the channel is full.
    fn queue_last(&self, item: Item) {
        let tx = self.tx.clone();
        if let Err(mpsc::error::TrySendError::Full(item)) = tx.try_send(item) {
            tokio::spawn(async move {
                let _ = tx.send(item).await;
            });
        }
    }

    /// Whether the receiving side (the connection) is gone.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn full_body_reports_exact_size() {
        let body = ResponseBody::full(Bytes::from_static(b"hello"));
        assert_eq!(body.size_hint().exact(), Some(5));
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"hello"));
    }

    #[tokio::test]
    async fn empty_full_body_is_empty() {
        let body = ResponseBody::full(Bytes::new());
        assert!(body.is_end_stream());
    }

    #[tokio::test]
    async fn stream_delivers_in_order_then_ends() {
        let (tx, body) = ResponseBody::channel(2);
        assert!(tx.try_send(Bytes::from_static(b"a")).is_ok());
        assert!(tx.try_send(Bytes::from_static(b"b")).is_ok());
        assert!(matches!(tx.try_send(Bytes::from_static(b"c")), Err(Some(_))));
        let producer = tokio::spawn(async move {
            assert!(tx.send(Bytes::from_static(b"c")).await);
        });
        let collected = body.collect().await.unwrap().to_bytes();
        producer.await.unwrap();
        assert_eq!(collected, Bytes::from_static(b"abc"));
    }

    #[tokio::test]
    async fn aborted_stream_errors() {
        let (tx, body) = ResponseBody::channel(1);
        tx.abort();
        drop(tx);
        assert!(body.collect().await.is_err());
    }

    #[tokio::test]
    async fn trailers_end_the_stream() {
        let (tx, body) = ResponseBody::channel(1);
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", http::HeaderValue::from_static("abc"));
        let producer = tokio::spawn(async move {
            assert!(tx.send(Bytes::from_static(b"data")).await);
            // The channel is full: the trailers wait on a task for room.
            tx.finish(trailers);
            // Nothing is taken after the trailer section.
            tokio::task::yield_now().await;
            tx
        });
        let collected = body.collect().await.unwrap();
        let tx = producer.await.unwrap();
        assert!(tx.is_closed());
        assert_eq!(collected.trailers().unwrap()["x-checksum"], "abc");
        assert_eq!(collected.to_bytes(), Bytes::from_static(b"data"));
    }

    #[tokio::test]
    async fn on_drop_runs_once_the_body_is_consumed() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let body = ResponseBody::full(Bytes::from_static(b"x")).on_drop(move || {
            let _ = tx.send(());
        });
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"x"));
        assert!(rx.await.is_ok());
    }

    #[tokio::test]
    async fn wrapped_body_passes_through() {
        let body = ResponseBody::wrap(ResponseBody::full(Bytes::from_static(b"inner")));
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(!body.is_end_stream());
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"inner"));
    }

    #[tokio::test]
    async fn dropped_receiver_closes_sender() {
        let (tx, body) = ResponseBody::channel(1);
        drop(body);
        assert!(tx.is_closed());
        assert!(matches!(tx.try_send(Bytes::from_static(b"x")), Err(None)));
    }
}
