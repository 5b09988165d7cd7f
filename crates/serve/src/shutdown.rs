use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, watch};

/// Where a server is in its life. Connections follow it: while `Draining` they finish the
/// requests in flight and close, at `Closing` they are dropped at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Accepting and serving.
    Running,
    /// Not accepting; in-flight requests finish, idle connections close.
    Draining,
    /// Every connection is dropped.
    Closing,
}

/// The server side of the shutdown: moves the phase on and counts live connections.
#[derive(Debug)]
pub struct Shutdown {
    phase: watch::Sender<Phase>,
    live: Arc<Live>,
}

#[derive(Debug, Default)]
struct Live {
    count: AtomicUsize,
    idle: Notify,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A server in the `Running` phase.
    #[must_use]
    pub fn new() -> Self {
        Self {
            phase: watch::channel(Phase::Running).0,
            live: Arc::default(),
        }
    }

    /// A handle for one connection (or the accept loop); it counts as live until dropped.
    #[must_use]
    pub fn watch(&self) -> ShutdownWatch {
        self.live.count.fetch_add(1, Ordering::AcqRel);
        ShutdownWatch {
            phase: self.phase.subscribe(),
            live: Arc::clone(&self.live),
        }
    }

    /// Move to `phase` (never backwards).
    pub fn advance(&self, phase: Phase) {
        self.phase.send_if_modified(|current| {
            if phase > *current {
                *current = phase;
                true
            } else {
                false
            }
        });
    }

    /// How many handles (connections) are alive.
    #[must_use]
    pub fn live(&self) -> usize {
        self.live.count.load(Ordering::Acquire)
    }

    /// Wait until every handle is dropped.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.live.idle.notified();
            if self.live() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One connection's view of the shutdown.
#[derive(Debug)]
pub struct ShutdownWatch {
    phase: watch::Receiver<Phase>,
    live: Arc<Live>,
}

impl ShutdownWatch {
    /// Resolves once the server reaches `phase` (at once if it already has, or if the
    /// server side is gone).
    pub async fn reached(&mut self, phase: Phase) {
        let _ = self.phase.wait_for(|current| *current >= phase).await;
    }

    /// The current phase.
    #[must_use]
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }
}

impl Clone for ShutdownWatch {
    fn clone(&self) -> Self {
        self.live.count.fetch_add(1, Ordering::AcqRel);
        Self {
            phase: self.phase.clone(),
            live: Arc::clone(&self.live),
        }
    }
}

impl Drop for ShutdownWatch {
    fn drop(&mut self) {
        if self.live.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.live.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn idle_after_all_watches_drop() {
        let shutdown = Shutdown::new();
        let a = shutdown.watch();
        let b = a.clone();
        assert_eq!(shutdown.live(), 2);
        drop(a);
        let waiter = async { shutdown.wait_idle().await };
        drop(b);
        waiter.await;
        assert_eq!(shutdown.live(), 0);
    }

    #[tokio::test]
    async fn phases_only_advance() {
        let shutdown = Shutdown::new();
        let mut watch = shutdown.watch();
        shutdown.advance(Phase::Closing);
        shutdown.advance(Phase::Draining);
        watch.reached(Phase::Draining).await;
        assert_eq!(watch.phase(), Phase::Closing);
    }
}
