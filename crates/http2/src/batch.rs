//! Responses of many streams, written together. Each stream's task hands its response to h2 and
//! wakes the connection's task; tokio runs a task woken that way next (its "LIFO slot"), so the
//! connection would write each response as soon as it is queued, one system call per response,
//! although the responses of other streams of the same connection are ready to go too (an
//! asyncio application hands back a batch of them at once).
//!
//! [`Batched`] makes the first write of each burst wait until the runtime has run what else
//! was ready (tokio's `yield_now`, which defers the task's wake-up until then; on a runtime
//! that is never idle, until its next maintenance, every 61 tasks): by then the other streams
//! have queued their responses, and h2 writes them all at once. A burst ends with a flush.
//! When nothing else is ready, the write goes out on the runtime's next turn, without a system
//! call or a timer of its own.

use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection's byte stream whose writes go out in bursts.
#[derive(Debug)]
pub(crate) struct Batched<I> {
    inner: I,
    /// The current burst waited its turn already; cleared by a flush.
    waited: bool,
}

impl<I> Batched<I> {
    pub(crate) fn new(inner: I) -> Self {
        Self { inner, waited: false }
    }

    /// `true` when a write may go out now; otherwise the task is woken once the runtime has
    /// run its other ready tasks.
    fn may_write(&mut self, cx: &mut Context<'_>) -> bool {
        if self.waited {
            return true;
        }
        self.waited = true;
        // A fresh `yield_now` defers the task's wake-up on its first poll (outside a runtime,
        // it wakes the task at once); the future is done with after that.
        let _ = pin!(tokio::task::yield_now()).poll(cx);
        false
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Batched<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Batched<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if !self.may_write(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if !self.may_write(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.inner).poll_flush(cx);
        if flushed.is_ready() {
            self.waited = false;
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::AsyncWriteExt;

    use super::*;

    /// Records each write it is handed, as a socket's system calls would be.
    #[derive(Debug, Default, Clone)]
    struct Calls(Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

    impl AsyncWrite for Calls {
        fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            self.0.lock().unwrap().push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_burst_waits_for_the_tasks_already_ready() {
        let calls = Calls::default();
        let mut batched = Batched::new(calls.clone());
        let others_ran = Arc::new(AtomicUsize::new(0));
        let spawn = |count: usize| {
            for _ in 0..count {
                let ran = Arc::clone(&others_ran);
                tokio::spawn(async move {
                    ran.fetch_add(1, Ordering::Relaxed);
                });
            }
        };
        spawn(3);
        batched.write_all(b"one").await.unwrap();
        // The write waited its turn: the tasks spawned before it ran first.
        assert_eq!(others_ran.load(Ordering::Relaxed), 3);
        // The rest of the burst goes out without waiting again...
        spawn(2);
        batched.write_all(b"two").await.unwrap();
        assert_eq!(others_ran.load(Ordering::Relaxed), 3);
        // ...until a flush ends it: the next write starts a burst, which waits.
        batched.flush().await.unwrap();
        batched.write_all(b"three").await.unwrap();
        assert_eq!(others_ran.load(Ordering::Relaxed), 5);
        assert_eq!(
            *calls.0.lock().unwrap(),
            [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_write_with_nothing_else_ready_goes_out_on_the_next_turn() {
        let calls = Calls::default();
        let mut batched = Batched::new(calls.clone());
        let written = tokio::time::timeout(std::time::Duration::from_secs(5), batched.write_all(b"alone")).await;
        assert!(written.is_ok_and(|result| result.is_ok()));
        assert_eq!(calls.0.lock().unwrap().len(), 1);
    }
}
