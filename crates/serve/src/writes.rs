use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Stall;

/// A connection whose writes may each wait for the peer at most a bound: a write (or flush, or
/// shutdown) that finds no room for longer fails with [`io::ErrorKind::TimedOut`], which ends the
/// connection. This is the send timeout of a peer that stopped reading: the protocol on top (or
/// the websocket over it) is told the connection broke and drops what it was sending, so the
/// application's next send reports a disconnect. A slow peer that keeps taking bytes is not cut
/// off: every write that goes through restarts the count. Reads pass through untouched.
#[derive(Debug)]
pub struct BoundedWrites<I> {
    inner: I,
    stall: Option<Stall>,
}

impl<I> BoundedWrites<I> {
    /// Bound each wait of a write on `inner` to `limit`; `None` leaves writes unbounded.
    pub fn new(inner: I, limit: Option<Duration>) -> Self {
        Self {
            inner,
            stall: limit.map(Stall::new),
        }
    }

    /// The connection itself.
    pub fn get_ref(&self) -> &I {
        &self.inner
    }

    fn bound<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        let Some(stall) = &mut self.stall else {
            return polled;
        };
        match polled {
            Poll::Pending if stall.poll_expired(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the peer took nothing for {:?}", stall.limit()),
            ))),
            Poll::Pending => Poll::Pending,
            ready @ Poll::Ready(_) => {
                stall.progress();
                ready
            }
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for BoundedWrites<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for BoundedWrites<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.bound(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.bound(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.bound(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.bound(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_stops_reading_times_the_write_out() {
        let (client, server) = tokio::io::duplex(1024);
        let mut bounded = BoundedWrites::new(server, Some(Duration::from_secs(10)));
        let started = Instant::now();
        let err = bounded.write_all(&[0u8; 4096]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_not_cut_off() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut bounded = BoundedWrites::new(server, Some(Duration::from_secs(10)));
        let reader = tokio::spawn(async move {
            let mut total = 0;
            let mut buf = [0u8; 512];
            // 512 bytes every 8 s: each write waits less than the bound, the whole takes minutes.
            loop {
                tokio::time::sleep(Duration::from_secs(8)).await;
                match client.read(&mut buf).await.unwrap() {
                    0 => return total,
                    read => total += read,
                }
            }
        });
        let started = Instant::now();
        bounded.write_all(&[1u8; 16 * 1024]).await.unwrap();
        bounded.shutdown().await.unwrap();
        assert!(started.elapsed() > Duration::from_mins(1));
        drop(bounded);
        assert_eq!(reader.await.unwrap(), 16 * 1024);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_bound_writes_wait() {
        let (_client, server) = tokio::io::duplex(1024);
        let mut unbounded = BoundedWrites::new(server, None);
        let write = tokio::time::timeout(Duration::from_hours(1), unbounded.write_all(&[0u8; 4096])).await;
        assert!(write.is_err());
    }
}
