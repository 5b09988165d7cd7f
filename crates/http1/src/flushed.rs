//! A response body that fails (the application raised mid-stream) ends its message without the
//! last chunk, so the client can tell it was cut short. hyper then drops the connection at once,
//! and with it whatever it had buffered but not yet written: chunks the application did produce,
//! up to a buffer's worth when the client reads slowly. [`AbortAfterFlush`] holds the failure
//! back until hyper's write buffer has gone out: hyper flushes the connection itself
//! ([`CountFlushes`]) only once that buffer is empty.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How many times the connection was flushed, and the body waiting for the next flush.
#[derive(Debug, Default)]
pub(crate) struct Flushes {
    count: AtomicU64,
    /// Whether a body waits (its waker is in `waiting`): a flush takes the lock only then.
    armed: AtomicBool,
    waiting: Mutex<Option<Waker>>,
}

impl Flushes {
    fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    fn flushed(&self) {
        // Sequentially consistent with `wait`: either the waiting body sees this flush's count,
        // or this flush sees it armed.
        self.count.fetch_add(1, Ordering::SeqCst);
        if !self.armed.load(Ordering::SeqCst) {
            return;
        }
        let waiting = {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            self.armed.store(false, Ordering::SeqCst);
            waiting.take()
        };
        if let Some(waker) = waiting {
            waker.wake();
        }
    }

    fn wait(&self, cx: &Context<'_>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        *waiting = Some(cx.waker().clone());
        self.armed.store(true, Ordering::SeqCst);
    }
}

/// The connection, counting the flushes that succeed into [`Flushes`].
#[derive(Debug)]
pub(crate) struct CountFlushes<I> {
    inner: I,
    flushes: Arc<Flushes>,
}

impl<I> CountFlushes<I> {
    pub(crate) fn new(inner: I) -> (Self, Arc<Flushes>) {
        let flushes = Arc::new(Flushes::default());
        let io = Self {
            inner,
            flushes: Arc::clone(&flushes),
        };
        (io, flushes)
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for CountFlushes<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for CountFlushes<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.inner).poll_flush(cx);
        if matches!(flushed, Poll::Ready(Ok(()))) {
            self.flushes.flushed();
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A response body whose failure waits for the connection's next flush (`None`: no waiting).
///
/// Not used with hyper's `pipeline_flush`, which skips flushes while further requests wait in
/// its read buffer: the failure would wait for ever.
#[derive(Debug)]
pub(crate) struct AbortAfterFlush<B: Body> {
    body: B,
    flushes: Option<Arc<Flushes>>,
    /// The failure, and the flush count when it came.
    held: Option<(B::Error, u64)>,
}

impl<B: Body> AbortAfterFlush<B> {
    pub(crate) fn new(body: B, flushes: Option<Arc<Flushes>>) -> Self {
        Self {
            body,
            flushes,
            held: None,
        }
    }
}

impl<B: Body + Unpin> Body for AbortAfterFlush<B>
where
    B::Error: Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        let Some(flushes) = &this.flushes else {
            return Pin::new(&mut this.body).poll_frame(cx);
        };
        if this.held.is_none() {
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Err(err))) => this.held = Some((err, flushes.count())),
                other => return other,
            }
        }
        // Registered before the count is read, so that a flush in between is not missed.
        flushes.wait(cx);
        match this.held.take() {
            Some((err, at)) if flushes.count() > at => Poll::Ready(Some(Err(err))),
            held => {
                this.held = held;
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.held.is_none() && self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use granian_serve::ResponseBody;
    use http_body_util::BodyExt;
    use std::future::poll_fn;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_failure_waits_for_the_next_flush() {
        let (tx, body) = ResponseBody::channel(4);
        tx.try_send(Bytes::from_static(b"chunk")).unwrap();
        tx.abort();
        let (mut io, flushes) = CountFlushes::new(Vec::new());
        let mut body = AbortAfterFlush::new(body, Some(flushes));
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "chunk");
        // Not until the connection is flushed.
        for _ in 0..3 {
            assert!(poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx).is_pending())).await);
        }
        io.write_all(b"chunk").await.unwrap();
        io.flush().await.unwrap();
        assert!(body.frame().await.unwrap().is_err());
    }

    #[tokio::test]
    async fn without_flushes_a_failure_passes_at_once() {
        let (tx, body) = ResponseBody::channel(4);
        tx.abort();
        let mut body = AbortAfterFlush::new(body, None);
        assert!(body.frame().await.unwrap().is_err());
        let mut clean = AbortAfterFlush::new(ResponseBody::full(Bytes::from_static(b"x")), None);
        assert_eq!(clean.frame().await.unwrap().unwrap().into_data().unwrap(), "x");
        assert!(clean.frame().await.is_none());
    }
}
