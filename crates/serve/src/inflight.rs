use std::pin::Pin;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;

/// Orders the moments connections went idle, across the process: a smaller tick went idle
/// earlier. A counter rather than a clock: only the order matters.
static TICKS: AtomicU64 = AtomicU64::new(1);

fn tick() -> u64 {
    TICKS.fetch_add(1, Ordering::Relaxed)
}

#[derive(Debug)]
struct Counter {
    count: AtomicUsize,
    /// The tick at which `count` last dropped to zero (or the counter was made).
    idle_since: AtomicU64,
    /// When `count` last dropped to zero (or the counter was timed), in nanoseconds from `epoch`.
    idle_at: AtomicU64,
    /// Set by [`InFlight::time`]: from then on, `idle_at` is kept.
    epoch: OnceLock<Instant>,
}

impl Default for Counter {
    fn default() -> Self {
        Self {
            count: AtomicUsize::new(0),
            idle_since: AtomicU64::new(tick()),
            idle_at: AtomicU64::new(0),
            epoch: OnceLock::new(),
        }
    }
}

/// Nanoseconds since `epoch`.
fn since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Counts the requests of one connection that are not finished: a request counts from the
/// moment it reaches the handler until its response body is written out or abandoned, and a
/// tunnel (a websocket) for as long as it is open.
///
/// A protocol layer uses it to tell an idle connection from a busy one: while draining, an
/// HTTP/2 client that never answers the GOAWAY handshake must not hold the shutdown up when it
/// has no stream open; an idle HTTP/2 connection times out; and a worker at its connection cap
/// closes the connections that have been idle longest (see [`ConnectionSlots`](crate::ConnectionSlots)).
///
/// Counting wakes no one: a connection that wants to know how long it has been idle asks a
/// [`timed`](InFlight::time) counter when its own timer fires, rather than being told of every
/// change (a wake-up of its task for each request).
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<Counter>);

impl InFlight {
    /// A counter at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Record, from now on, when the counter goes idle (see [`InFlight::idle_at`]), at the cost
    /// of a clock read each time it does. An idle counter counts as idle from now.
    pub fn time(&self) {
        let epoch = *self.0.epoch.get_or_init(Instant::now);
        self.0.idle_at.store(since(epoch), Ordering::Release);
    }

    /// Count one more request until the returned guard drops.
    #[must_use]
    pub fn enter(&self) -> InFlightGuard {
        self.0.count.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(Arc::clone(&self.0))
    }

    /// Whether no request is in flight.
    #[must_use]
    pub fn is_idle(&self) -> bool {
        self.0.count.load(Ordering::Acquire) == 0
    }

    /// When idle, a tick ordering the moment it went idle among other counters' (smaller is
    /// earlier); `None` while busy.
    #[must_use]
    pub fn idle_since(&self) -> Option<u64> {
        let since = self.0.idle_since.load(Ordering::Acquire);
        self.is_idle().then_some(since)
    }

    /// When idle, the moment it went idle; `None` while busy, or when the counter is not
    /// [timed](InFlight::time).
    #[must_use]
    pub fn idle_at(&self) -> Option<Instant> {
        let epoch = *self.0.epoch.get()?;
        let at = self.0.idle_at.load(Ordering::Acquire);
        self.is_idle().then(|| epoch + Duration::from_nanos(at))
    }
}

/// One request counted by an [`InFlight`]; dropping it ends the count.
#[derive(Debug)]
pub struct InFlightGuard(Arc<Counter>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            // A reader may see zero a moment before the new tick (or time): the order is a
            // heuristic, and the idle timeout errs by that moment at most.
            self.0.idle_since.store(tick(), Ordering::Release);
            if let Some(epoch) = self.0.epoch.get() {
                self.0.idle_at.store(since(*epoch), Ordering::Release);
            }
        }
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

    #[test]
    fn idle_since_orders_the_counters() {
        let first = InFlight::new();
        let second = InFlight::new();
        let guard = first.enter();
        assert_eq!(first.idle_since(), None);
        drop(guard);
        // `first` went idle after `second` was made.
        assert!(first.idle_since().unwrap() > second.idle_since().unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_timed_counter_knows_when_it_went_idle() {
        let inflight = InFlight::new();
        assert_eq!(inflight.idle_at(), None);
        inflight.time();
        let made = Instant::now();
        assert_eq!(inflight.idle_at(), Some(made));
        let guard = inflight.enter();
        assert_eq!(inflight.idle_at(), None);
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(guard);
        assert_eq!(inflight.idle_at(), Some(made + Duration::from_secs(3)));
        assert_eq!(InFlight::new().idle_at(), None);
    }
}
