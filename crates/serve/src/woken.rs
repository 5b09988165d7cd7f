use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// A future that is polled again only once it asked to be: after its first poll, a poll of
/// `WhenWoken` that finds no wake-up of the inner future since the last one returns `Pending`
/// without touching it.
///
/// A connection task waits on its I/O and, in the same `select!`, on rare events (the server
/// draining, its slot reclaimed). Those wait on a [`tokio::sync::Notify`], whose every poll takes
/// a lock: polled on each wake-up of the task, that is two locks per request for nothing. Wrapped
/// here, they cost an atomic load and the registration of the task's waker (a compare when it is
/// the same as last time).
pub struct WhenWoken<F> {
    inner: Pin<Box<F>>,
    signal: Arc<Signal>,
    /// The inner future has been polled once, and so has registered the signal where it waits.
    started: bool,
}

/// Set by the inner future's wake-up, which it forwards to the task polling [`WhenWoken`].
#[derive(Default)]
struct Signal {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl<F: Future> WhenWoken<F> {
    /// Wrap `inner`.
    pub fn new(inner: F) -> Self {
        Self {
            inner: Box::pin(inner),
            signal: Arc::default(),
            started: false,
        }
    }
}

impl<F> WhenWoken<F> {
    /// The inner future, to change it (reset a timer, say): it is polled again on the next poll,
    /// woken or not.
    pub fn get_mut(&mut self) -> Pin<&mut F> {
        self.started = false;
        self.inner.as_mut()
    }
}

impl<F: Future> Future for WhenWoken<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // Registered before the flag is read: a wake-up in between is not lost.
        self.signal.task.register(cx.waker());
        if self.started && !self.signal.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        self.started = true;
        let waker = Waker::from(Arc::clone(&self.signal));
        self.inner.as_mut().poll(&mut Context::from_waker(&waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;
    use tokio::sync::Notify;

    /// Counts its polls and completes once `notify` is told.
    async fn counted(notify: &Notify, polls: &AtomicUsize) {
        let notified = notify.notified();
        tokio::pin!(notified);
        std::future::poll_fn(|cx| {
            polls.fetch_add(1, Ordering::Relaxed);
            notified.as_mut().poll(cx)
        })
        .await;
    }

    #[tokio::test]
    async fn the_inner_future_is_polled_only_when_woken() {
        let notify = Notify::new();
        let polls = AtomicUsize::new(0);
        let mut gated = WhenWoken::new(counted(&notify, &polls));
        let noop = Waker::noop();
        let mut cx = Context::from_waker(noop);
        for _ in 0..10 {
            assert!(Pin::new(&mut gated).poll(&mut cx).is_pending());
        }
        assert_eq!(polls.load(Ordering::Relaxed), 1);
        notify.notify_waiters();
        assert!(Pin::new(&mut gated).poll(&mut cx).is_ready());
        assert_eq!(polls.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_wake_up_reaches_the_task_waiting_on_it() {
        let notify = Arc::new(Notify::new());
        let told = Arc::clone(&notify);
        let waiter = tokio::spawn(async move {
            let polls = AtomicUsize::new(0);
            // Beside a branch that wakes the task often, as a connection's I/O does.
            let gated = WhenWoken::new(counted(&told, &polls));
            tokio::pin!(gated);
            let mut ticks = tokio::time::interval(Duration::from_millis(1));
            loop {
                tokio::select! {
                    () = &mut gated => return polls.load(Ordering::Relaxed),
                    _ = ticks.tick() => {}
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        notify.notify_waiters();
        let polls = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(polls, 2);
    }
}
