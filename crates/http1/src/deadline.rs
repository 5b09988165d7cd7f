//! The two waits of an HTTP/1.1 connection between responses, bounded separately: the idle
//! wait for the first byte of the next request (`keep_alive_timeout`), and the wait for the
//! rest of a request head once it started (`header_read_timeout`; for a connection's first
//! request, counted from the accept).
//!
//! hyper has a single timer for both, started as soon as the connection goes idle, so
//! [`Deadlines`] enforces them on the read side instead: while no request is being served, a
//! read that finds nothing past the deadline ends the input, which hyper takes as the client
//! closing (between requests) or as an incomplete head. hyper's own timer is kept, set
//! beyond both deadlines, because it is what makes hyper poll the connection as it goes idle.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use granian_serve::InFlight;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Accepted, no byte of the first request yet.
    First,
    /// A response went out; no byte of the next request yet.
    Idle,
    /// Part of a request head arrived.
    Head,
    /// A request is being served.
    Busy,
}

/// A connection's input, cut off when a wait between requests outlasts its deadline.
#[derive(Debug)]
pub(crate) struct Deadlines<I> {
    inner: I,
    serving: InFlight,
    started: Arc<AtomicU64>,
    seen: u64,
    header_read_timeout: Option<Duration>,
    keep_alive_timeout: Option<Duration>,
    wait: Wait,
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

/// The value of the request count once the connection switched protocols (a 101 response):
/// the input then belongs to the new protocol and no deadline applies.
pub(crate) const SWITCHED: u64 = u64::MAX;

/// hyper's own header timer, made longer than both deadlines (`None` when neither is set).
pub(crate) fn hyper_timeout(header_read: Option<Duration>, keep_alive: Option<Duration>) -> Option<Duration> {
    // More than a day: no wait between requests is meant to last that long.
    const UNBOUNDED: Duration = Duration::from_secs(100_001);
    if header_read.is_none() && keep_alive.is_none() {
        return None;
    }
    Some(header_read.unwrap_or(UNBOUNDED) + keep_alive.unwrap_or(UNBOUNDED))
}

impl<I> Deadlines<I> {
    /// `serving` counts the requests of this connection between the handler's call and the end
    /// of their response body; `started` counts every request handed to the handler, so that a
    /// request served between two reads is noticed too.
    pub(crate) fn new(
        inner: I,
        serving: InFlight,
        started: Arc<AtomicU64>,
        header_read_timeout: Option<Duration>,
        keep_alive_timeout: Option<Duration>,
    ) -> Self {
        Self {
            inner,
            serving,
            started,
            seen: 0,
            header_read_timeout,
            keep_alive_timeout,
            wait: Wait::First,
            timer: None,
            armed: false,
        }
    }

    fn limit(&self) -> Option<Duration> {
        match self.wait {
            Wait::First | Wait::Head => self.header_read_timeout,
            Wait::Idle => self.keep_alive_timeout,
            Wait::Busy => None,
        }
    }

    fn arm(&mut self) {
        self.armed = true;
        let Some(limit) = self.limit() else {
            return;
        };
        let deadline = Instant::now() + limit;
        match &mut self.timer {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
    }

    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.limit().is_some()
            && self
                .timer
                .as_mut()
                .is_some_and(|timer| timer.as_mut().poll(cx).is_ready())
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Deadlines<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.header_read_timeout.is_none() && this.keep_alive_timeout.is_none() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let started = this.started.load(Ordering::Relaxed);
        if started == SWITCHED {
            this.header_read_timeout = None;
            this.keep_alive_timeout = None;
            this.timer = None;
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        if !this.serving.is_idle() {
            this.wait = Wait::Busy;
            this.armed = false;
            this.seen = started;
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        if this.wait == Wait::Busy || this.seen != started {
            this.seen = started;
            this.wait = Wait::Idle;
            this.armed = false;
        }
        if !this.armed {
            this.arm();
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.wait == Wait::Idle && buf.filled().len() > before {
                    this.wait = Wait::Head;
                    this.arm();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            // An empty read is an end of input: hyper closes an idle connection on it, and
            // drops one whose request head is incomplete.
            Poll::Pending if this.expired(cx) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }
}

granian_serve::write_through!(Deadlines);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn hyper_timer_outlasts_both() {
        let second = Duration::from_secs(1);
        assert_eq!(hyper_timeout(None, None), None);
        assert_eq!(hyper_timeout(Some(second), Some(second)), Some(2 * second));
        assert!(hyper_timeout(Some(second), None).unwrap() > Duration::from_secs(86_399));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_wait_ends_the_input() {
        let (mut client, server) = tokio::io::duplex(1024);
        let serving = InFlight::new();
        let started = Arc::new(AtomicU64::new(0));
        let mut io = Deadlines::new(
            server,
            serving.clone(),
            Arc::clone(&started),
            Some(Duration::from_secs(10)),
            Some(Duration::from_secs(2)),
        );
        client.write_all(b"GET").await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(io.read(&mut buf).await.unwrap(), 3);
        // A request is served: no deadline however long it takes.
        started.fetch_add(1, Ordering::Relaxed);
        let guard = serving.enter();
        let start = Instant::now();
        let read = tokio::time::timeout(Duration::from_secs(61), io.read(&mut buf)).await;
        assert!(read.is_err(), "no deadline while serving");
        drop(guard);
        // Idle: the keep-alive deadline, from the first read after the response.
        let start_idle = Instant::now();
        assert_eq!(io.read(&mut buf).await.unwrap(), 0);
        assert!(start_idle.elapsed() >= Duration::from_secs(2));
        assert!(start_idle.elapsed() < Duration::from_secs(3));
        assert!(start.elapsed() >= Duration::from_secs(63));
    }

    #[tokio::test(start_paused = true)]
    async fn head_wait_restarts_at_the_first_byte() {
        let (mut client, server) = tokio::io::duplex(1024);
        let serving = InFlight::new();
        let started = Arc::new(AtomicU64::new(0));
        let mut io = Deadlines::new(
            server,
            serving.clone(),
            Arc::clone(&started),
            Some(Duration::from_secs(5)),
            Some(Duration::from_secs(2)),
        );
        // Leave the first wait, serve a request without a read in between, go idle.
        client.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(io.read(&mut buf).await.unwrap(), 1);
        started.fetch_add(1, Ordering::Relaxed);
        drop(serving.enter());
        let mut waiting = Box::pin(io.read(&mut buf));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(futures_poll_pending(&mut waiting));
        client.write_all(b"G").await.unwrap();
        assert_eq!(waiting.await.unwrap(), 1);
        // Now within a head: the header deadline (5 s), not the idle one.
        let start = Instant::now();
        assert_eq!(io.read(&mut buf).await.unwrap(), 0);
        assert!(start.elapsed() >= Duration::from_secs(5));
        assert!(start.elapsed() < Duration::from_secs(6));
    }

    fn futures_poll_pending<F: std::future::Future + Unpin>(future: &mut F) -> bool {
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        Pin::new(future).poll(&mut cx).is_pending()
    }
}
