use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, watch};

use crate::{InFlight, InFlightGuard, Slot};

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
            slot: None,
            hold: None,
        }
    }

    /// A handle for a connection holding `slot` among the worker's connections: it drains
    /// when the server does, and also when the slot is reclaimed (see
    /// [`ConnectionSlots`](crate::ConnectionSlots)).
    #[must_use]
    pub fn watch_slot(&self, slot: Slot) -> ShutdownWatch {
        let mut watch = self.watch();
        watch.slot = Some(slot);
        watch
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

/// One connection's view of the shutdown, and of its place among the worker's connections
/// when it holds a [`Slot`]: clones (a tunnel's, once the connection is upgraded) keep the slot.
#[derive(Debug)]
pub struct ShutdownWatch {
    phase: watch::Receiver<Phase>,
    live: Arc<Live>,
    slot: Option<Slot>,
    /// Counts the connection busy for as long as this watch (and its clones) live.
    hold: Option<Arc<InFlightGuard>>,
}

impl ShutdownWatch {
    /// Resolves once the server reaches `phase` (at once if it already has, or if the
    /// server side is gone); [`Phase::Draining`] also once the connection's slot is reclaimed.
    pub async fn reached(&mut self, phase: Phase) {
        let server = self.phase.wait_for(|current| *current >= phase);
        match &self.slot {
            Some(slot) if phase == Phase::Draining => {
                tokio::select! {
                    _ = server => {}
                    () = slot.reclaimed() => {}
                }
            }
            _ => {
                let _ = server.await;
            }
        }
    }

    /// The current phase (`Draining` at least, once the connection's slot is reclaimed).
    #[must_use]
    pub fn phase(&self) -> Phase {
        let phase = *self.phase.borrow();
        if self.slot.as_ref().is_some_and(Slot::is_reclaimed) {
            phase.max(Phase::Draining)
        } else {
            phase
        }
    }

    /// Whether the connection drains because its slot was reclaimed (rather than the server
    /// draining): one with nothing in flight then closes at once, without the grace a drain
    /// gives to a request already on its way, since another client is waiting for the slot.
    #[must_use]
    pub fn is_reclaimed(&self) -> bool {
        self.slot.as_ref().is_some_and(Slot::is_reclaimed) && *self.phase.borrow() == Phase::Running
    }

    /// The count of the connection's requests in flight, which tells whether its slot may be
    /// reclaimed: the slot's own, or a fresh one without a slot.
    #[must_use]
    pub fn in_flight(&self) -> InFlight {
        self.slot
            .as_ref()
            .map_or_else(InFlight::new, |slot| slot.inflight().clone())
    }

    /// A clone that keeps the connection counted busy until it (and its own clones) drop: for
    /// a tunnel (a websocket) that carries on once its request is answered.
    #[must_use]
    pub fn busy(&self) -> Self {
        let mut watch = self.clone();
        if let Some(slot) = &self.slot {
            watch.hold = Some(Arc::new(slot.inflight().enter()));
        }
        watch
    }
}

impl Clone for ShutdownWatch {
    fn clone(&self) -> Self {
        self.live.count.fetch_add(1, Ordering::AcqRel);
        Self {
            phase: self.phase.clone(),
            live: Arc::clone(&self.live),
            slot: self.slot.clone(),
            hold: self.hold.clone(),
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

    #[tokio::test]
    async fn a_reclaimed_slot_drains_its_connection_only() {
        let shutdown = Shutdown::new();
        let slots = crate::ConnectionSlots::new(4);
        let mut idle = shutdown.watch_slot(slots.assign(slots.acquire().await));
        let other = shutdown.watch_slot(slots.assign(slots.acquire().await));
        // A tunnel keeps its connection busy: never reclaimed while it is open.
        let tunnel = other.busy();
        assert_eq!(slots.reclaim(4), 1);
        idle.reached(Phase::Draining).await;
        assert_eq!(idle.phase(), Phase::Draining);
        assert_eq!(other.phase(), Phase::Running);
        drop(other);
        assert_eq!(slots.open(), 2);
        drop(tunnel);
        assert_eq!(slots.open(), 1);
        assert!(idle.in_flight().is_idle());
    }
}
