use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

/// Bounds one wait on a peer, not a whole transfer: how long a read may find no bytes, or a
/// write find no room, before the peer counts as stalled (nginx's `client_body_timeout` and
/// `send_timeout` count the same way, between two successive operations).
///
/// The timer is armed only when the operation is found waiting and disarmed by any progress, so
/// an operation that never waits never reads the clock nor touches the timer wheel. Its
/// `Sleep` is allocated the first time it is armed and reset afterwards: one allocation per
/// stalled stream at most, none per read or write.
#[derive(Debug)]
pub struct Stall {
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
}

/// Beyond this (136 years) a limit is as good as none, and `Instant + Duration` cannot overflow.
pub const FOREVER: Duration = Duration::from_secs(u32::MAX as u64);

impl Stall {
    /// A wait of more than `limit` is a stall.
    #[must_use]
    pub fn new(limit: Duration) -> Self {
        Self {
            limit: limit.min(FOREVER),
            timer: None,
            armed: false,
        }
    }

    /// The longest wait.
    #[must_use]
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// The operation made progress: its next wait starts a fresh count.
    #[inline]
    pub fn progress(&mut self) {
        self.armed = false;
    }

    /// The operation is waiting: start counting if this wait just began, and tell whether it
    /// has lasted the limit. `cx` is woken when it does.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.armed {
            self.armed = true;
            let deadline = Instant::now() + self.limit;
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
        }
        self.timer
            .as_mut()
            .is_some_and(|timer| timer.as_mut().poll(cx).is_ready())
    }

    /// Wait for `operation` with this bound: `None` once a single wait of it outlasted the
    /// limit (the operation is then dropped unfinished).
    pub async fn bound<F: Future>(&mut self, operation: F) -> Option<F::Output> {
        let mut operation = std::pin::pin!(operation);
        std::future::poll_fn(|cx| match operation.as_mut().poll(cx) {
            Poll::Ready(output) => {
                self.progress();
                Poll::Ready(Some(output))
            }
            Poll::Pending if self.poll_expired(cx) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_wait_beyond_the_limit_expires() {
        let mut stall = Stall::new(Duration::from_secs(5));
        let started = Instant::now();
        let outcome = stall.bound(std::future::pending::<()>()).await;
        assert_eq!(outcome, None);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn progress_restarts_the_count() {
        let mut stall = Stall::new(Duration::from_secs(5));
        // Each wait lasts 4 s: never a stall, though the whole takes 12 s.
        for _ in 0..3 {
            let outcome = stall.bound(tokio::time::sleep(Duration::from_secs(4))).await;
            assert_eq!(outcome, Some(()));
        }
        let started = Instant::now();
        assert_eq!(stall.bound(std::future::pending::<()>()).await, None);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn an_operation_that_never_waits_never_arms_the_timer() {
        let mut stall = Stall::new(Duration::from_secs(1));
        assert_eq!(stall.bound(async { 7 }).await, Some(7));
        assert!(stall.timer.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn huge_limits_do_not_overflow() {
        let mut stall = Stall::new(Duration::MAX);
        assert_eq!(stall.limit(), FOREVER);
        let outcome = tokio::time::timeout(Duration::from_hours(1), stall.bound(std::future::pending::<()>())).await;
        assert!(outcome.is_err());
    }
}
