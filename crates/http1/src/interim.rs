//! Informational (1xx) responses on an HTTP/1.1 connection, which hyper's server cannot send: an
//! interface queues a head through the request's [`Informational`], and [`Interim`], the
//! connection's output, writes what is queued before any byte of hyper's own, so a 1xx head always
//! precedes the final response (RFC 9110 §15.2). A head is accepted only while the request it
//! belongs to has not handed its response to hyper yet.
//!
//! hyper flushes the connection's output on every pass of its dispatcher, also when it has
//! nothing of its own to write, so [`Interim`] registers the connection task there and a queued
//! head wakes it: the head goes out as soon as it is queued, not with the final response.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker, ready};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use granian_serve::{Informational, InformationalSink};
use http::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Debug, Default)]
struct Pending {
    /// Encoded heads not yet written.
    bytes: BytesMut,
    /// The request that may still send informational responses: the one being served whose
    /// response hyper does not have yet.
    open: Option<u64>,
    /// The connection's task, woken when a head is queued.
    waker: Option<Waker>,
}

#[derive(Debug)]
struct Shared {
    pending: Mutex<Pending>,
    /// Whether the output must look under the lock: a head is queued, or no task is registered
    /// to be woken by the next one. Clear, a write costs one atomic load.
    check: AtomicBool,
}

/// The informational responses queued on one connection.
#[derive(Debug, Clone)]
pub(crate) struct InterimQueue(Arc<Shared>);

impl Default for InterimQueue {
    fn default() -> Self {
        Self(Arc::new(Shared {
            pending: Mutex::default(),
            check: AtomicBool::new(true),
        }))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl InformationalSink for Shared {
    fn send(&self, request: u64, head: Response<()>) -> bool {
        let mut pending = self.lock();
        if pending.open != Some(request) {
            return false;
        }
        encode_head(&head, &mut pending.bytes);
        self.check.store(true, Ordering::Release);
        if let Some(waker) = pending.waker.take() {
            waker.wake();
        }
        true
    }
}

impl InterimQueue {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.0.lock()
    }

    /// Request `request` (a number unique on the connection) is being served: its
    /// [`Informational`], which queues heads until [`InterimQueue::close`].
    pub(crate) fn open(&self, request: u64) -> Informational {
        self.lock().open = Some(request);
        Informational::new(self.0.clone(), request)
    }

    /// Request `request` has its final response: no more informational responses for it.
    pub(crate) fn close(&self, request: u64) {
        let mut pending = self.lock();
        if pending.open == Some(request) {
            pending.open = None;
        }
    }
}

/// `HTTP/1.1 1xx Reason`, the headers and the blank line that ends a head.
fn encode_head(head: &Response<()>, out: &mut BytesMut) {
    let status = head.status();
    out.put_slice(b"HTTP/1.1 ");
    out.put_slice(status.as_str().as_bytes());
    out.put_u8(b' ');
    out.put_slice(status.canonical_reason().unwrap_or("Informational").as_bytes());
    out.put_slice(b"\r\n");
    for (name, value) in head.headers() {
        out.put_slice(name.as_str().as_bytes());
        out.put_slice(b": ");
        out.put_slice(value.as_bytes());
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
}

/// A connection's I/O whose output starts with the queued informational responses; without a
/// queue (an interface that sends none), it only passes through.
///
/// The task registered to be woken by a queued head is the one that last polled the output: the
/// connection's own. Once the connection is handed over (a protocol switch), no request is open
/// and no head is queued.
#[derive(Debug)]
pub(crate) struct Interim<I> {
    inner: I,
    queue: Option<InterimQueue>,
    /// Queued bytes taken from the queue and partly written.
    writing: Bytes,
}

impl<I: AsyncWrite + Unpin> Interim<I> {
    pub(crate) fn new(inner: I, queue: Option<InterimQueue>) -> Self {
        Self {
            inner,
            queue,
            writing: Bytes::new(),
        }
    }

    /// Write every queued head; registers the task to be woken by the next one.
    fn poll_queued(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.writing.is_empty() {
                let Some(queue) = &self.queue else {
                    return Poll::Ready(Ok(()));
                };
                if !queue.0.check.load(Ordering::Acquire) {
                    return Poll::Ready(Ok(()));
                }
                let mut pending = queue.lock();
                if !pending.waker.as_ref().is_some_and(|waker| waker.will_wake(cx.waker())) {
                    pending.waker = Some(cx.waker().clone());
                }
                if pending.bytes.is_empty() {
                    queue.0.check.store(false, Ordering::Release);
                    return Poll::Ready(Ok(()));
                }
                self.writing = pending.bytes.split().freeze();
            }
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.writing))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.writing.advance(written);
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Interim<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Interim<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_queued(cx))?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_queued(cx))?;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_queued(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A connection that ends has no final response to announce.
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use http::header::LINK;
    use tokio::io::AsyncWriteExt;

    fn hint(link: &'static str) -> Response<()> {
        let mut head = Response::new(());
        *head.status_mut() = StatusCode::EARLY_HINTS;
        head.headers_mut().append(LINK, http::HeaderValue::from_static(link));
        head
    }

    #[tokio::test]
    async fn queued_heads_go_out_before_the_next_write() {
        let queue = InterimQueue::default();
        let mut io = Interim::new(Vec::new(), Some(queue.clone()));
        let informational = queue.open(1);
        assert!(informational.send(hint("</a.css>; rel=preload")));
        assert!(informational.send(hint("</b.js>; rel=preload")));
        io.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        assert_eq!(
            String::from_utf8(io.inner).unwrap(),
            "HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n\
             HTTP/1.1 103 Early Hints\r\nlink: </b.js>; rel=preload\r\n\r\n\
             HTTP/1.1 200 OK\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn a_flush_writes_what_is_queued() {
        let queue = InterimQueue::default();
        let mut io = Interim::new(Vec::new(), Some(queue.clone()));
        assert!(queue.open(7).send(hint("</x>")));
        io.flush().await.unwrap();
        assert_eq!(io.inner, b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n");
    }

    #[test]
    fn only_the_open_request_may_send() {
        let queue = InterimQueue::default();
        let first = queue.open(1);
        queue.close(1);
        assert!(!first.send(hint("</late>")));
        let second = queue.open(2);
        // A stale handle of an earlier request does not reach the next one.
        assert!(!first.send(hint("</stale>")));
        assert!(second.send(hint("</ok>")));
        // Closing another request leaves the open one open.
        queue.close(1);
        assert!(second.send(hint("</still>")));
        assert!(queue.lock().bytes.ends_with(b"link: </still>\r\n\r\n"));
    }
}
