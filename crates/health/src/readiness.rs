use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// An application-level readiness check: whether the application can serve (its database is
/// reachable, its caches are warm...). Implemented by the interface side; this crate bounds it
/// with a timeout and reuses its results.
pub trait ReadyCheck: Send + Sync + 'static {
    /// Run the check once. A check that cannot tell resolves to `false`.
    fn check(&self) -> Pin<Box<dyn Future<Output = bool> + Send>>;
}

/// Why the readiness path answers 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotReady {
    /// The server drains, or is about to.
    Draining,
    /// The application's check failed, timed out, or is still running for an earlier probe.
    Check,
}

/// Whether a server should get new requests: not once it drains, nor while the application's
/// check fails. Shared by the layer that answers probes and the server that drains.
pub struct Readiness {
    draining: AtomicBool,
    check: Option<Checked>,
}

struct Checked {
    check: Box<dyn ReadyCheck>,
    timeout: Duration,
    reuse: Duration,
    /// The last result and when it was taken. Probes take the lock in turn: the first after the
    /// result went stale runs the check, those queued behind it get its result.
    last: Mutex<Option<(Instant, bool)>>,
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Readiness");
        out.field("draining", &self.is_draining());
        if let Some(checked) = &self.check {
            out.field("check_timeout", &checked.timeout)
                .field("check_reuse", &checked.reuse);
        }
        out.finish()
    }
}

impl Default for Readiness {
    fn default() -> Self {
        Self::new()
    }
}

impl Readiness {
    /// Ready until [`drain`](Self::drain).
    #[must_use]
    pub fn new() -> Self {
        Self {
            draining: AtomicBool::new(false),
            check: None,
        }
    }

    /// Ready until [`drain`](Self::drain) while `check` passes. A check gets `timeout` to answer
    /// (no answer in time is a failure) and its result stands for `reuse`.
    #[must_use]
    pub fn with_check(check: impl ReadyCheck, timeout: Duration, reuse: Duration) -> Self {
        Self {
            draining: AtomicBool::new(false),
            check: Some(Checked {
                check: Box::new(check),
                timeout,
                reuse,
                last: Mutex::new(None),
            }),
        }
    }

    /// Not ready from now on, for good: the server drains, or will shortly.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether [`drain`](Self::drain) was called.
    #[must_use]
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Whether the server is ready; the application's check runs only when it is not draining
    /// and its last result is older than the reuse period.
    pub(crate) async fn ready(&self) -> Result<(), NotReady> {
        if self.is_draining() {
            return Err(NotReady::Draining);
        }
        let Some(checked) = &self.check else {
            return Ok(());
        };
        let mut last = checked.last.lock().await;
        let fresh = (*last).filter(|(at, _)| at.elapsed() < checked.reuse);
        let passed = if let Some((_, passed)) = fresh {
            passed
        } else {
            let passed = tokio::time::timeout(checked.timeout, checked.check.check())
                .await
                .unwrap_or(false);
            *last = Some((Instant::now(), passed));
            passed
        };
        drop(last);
        // A drain that began while the check ran wins over its result.
        if self.is_draining() {
            Err(NotReady::Draining)
        } else if passed {
            Ok(())
        } else {
            Err(NotReady::Check)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    /// A check that answers `answer` after `delay`, counting its calls.
    #[derive(Clone)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        answer: Arc<AtomicBool>,
        delay: Duration,
    }

    impl Counting {
        fn new(answer: bool, delay: Duration) -> Self {
            Self {
                calls: Arc::default(),
                answer: Arc::new(AtomicBool::new(answer)),
                delay,
            }
        }

        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    impl ReadyCheck for Counting {
        fn check(&self) -> Pin<Box<dyn Future<Output = bool> + Send>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let answer = self.answer.load(Ordering::SeqCst);
            let delay = self.delay;
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                answer
            })
        }
    }

    #[tokio::test]
    async fn draining_is_not_ready() {
        let readiness = Readiness::new();
        assert_eq!(readiness.ready().await, Ok(()));
        readiness.drain();
        assert_eq!(readiness.ready().await, Err(NotReady::Draining));
        assert!(readiness.is_draining());
    }

    #[tokio::test(start_paused = true)]
    async fn results_are_reused_for_a_while() {
        let check = Counting::new(true, Duration::from_millis(10));
        let readiness = Readiness::with_check(check.clone(), Duration::from_secs(1), Duration::from_secs(2));
        for _ in 0..5 {
            assert_eq!(readiness.ready().await, Ok(()));
        }
        assert_eq!(check.calls(), 1);
        check.answer.store(false, Ordering::SeqCst);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(readiness.ready().await, Err(NotReady::Check));
        assert_eq!(check.calls(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_storm_of_probes_runs_one_check() {
        let check = Counting::new(true, Duration::from_millis(300));
        let readiness = Arc::new(Readiness::with_check(
            check.clone(),
            Duration::from_secs(1),
            Duration::from_secs(5),
        ));
        let probes: Vec<_> = (0..50)
            .map(|_| {
                let readiness = Arc::clone(&readiness);
                tokio::spawn(async move { readiness.ready().await })
            })
            .collect();
        for probe in probes {
            assert_eq!(probe.await.unwrap(), Ok(()));
        }
        assert_eq!(check.calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_check_is_a_failure() {
        let check = Counting::new(true, Duration::from_secs(10));
        let readiness = Readiness::with_check(check.clone(), Duration::from_millis(500), Duration::from_secs(1));
        let started = Instant::now();
        assert_eq!(readiness.ready().await, Err(NotReady::Check));
        assert_eq!(started.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test]
    async fn draining_skips_the_check() {
        let check = Counting::new(true, Duration::ZERO);
        let readiness = Readiness::with_check(check.clone(), Duration::from_secs(1), Duration::ZERO);
        readiness.drain();
        assert_eq!(readiness.ready().await, Err(NotReady::Draining));
        assert_eq!(check.calls(), 0);
    }
}
