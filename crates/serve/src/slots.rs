use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::InFlight;

/// While no slot is free, how often the accept loop looks again for idle connections to close:
/// busy connections that went idle since do not release their slot by themselves.
const RECHECK: Duration = Duration::from_millis(100);

/// Most connections told to close in one go.
const BATCH: usize = 32;

/// The connections one worker may hold at once: one slot per accepted connection, held until
/// its socket closes (by its tunnel too, once upgraded). Without a free slot the accept loop
/// stops accepting, and new connections wait in the kernel's listen queue.
///
/// Idle connections (no request in flight: nothing received yet, between keep-alive
/// requests, an HTTP/2 connection without a stream) are reusable, as nginx calls them: when
/// fewer than a sixteenth of the slots are free, the accept loop closes the ones idle longest,
/// so that a flood of connections that send nothing cannot lock new clients out. A connection
/// told to close drains as at shutdown ([`ShutdownWatch::reached`](crate::ShutdownWatch::reached)
/// with [`Phase::Draining`](crate::Phase::Draining)): a request already on its way is answered.
#[derive(Debug, Clone)]
pub struct ConnectionSlots {
    pool: Arc<Pool>,
}

#[derive(Debug)]
struct Pool {
    max: usize,
    /// Slots kept free by closing idle connections.
    reserve: usize,
    permits: Arc<Semaphore>,
    /// Every open slot, by id, to find the idle ones.
    open: Mutex<HashMap<u64, Weak<SlotState>>>,
    next_id: AtomicU64,
    /// Slots told to close that are still open.
    closing: AtomicUsize,
    /// Told when a slot is released.
    released: Notify,
}

impl ConnectionSlots {
    /// At most `max` connections (at least one).
    #[must_use]
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            pool: Arc::new(Pool {
                max,
                reserve: (max / 16).max(1),
                permits: Arc::new(Semaphore::new(max)),
                open: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                closing: AtomicUsize::new(0),
                released: Notify::new(),
            }),
        }
    }

    /// The most connections held at once.
    #[must_use]
    pub fn max(&self) -> usize {
        self.pool.max
    }

    /// Connections open now.
    #[must_use]
    pub fn open(&self) -> usize {
        self.pool.max - self.pool.permits.available_permits()
    }

    /// Room for the next connection, once a slot is free; [`assign`](Self::assign) gives it to
    /// the connection accepted. While slots run short, the connections idle longest are told to
    /// close.
    pub async fn acquire(&self) -> Room {
        loop {
            self.keep_free();
            if let Ok(permit) = Arc::clone(&self.pool.permits).try_acquire_owned() {
                return Room(permit);
            }
            tokio::select! {
                permit = Arc::clone(&self.pool.permits).acquire_owned() => {
                    if let Ok(permit) = permit {
                        return Room(permit);
                    }
                }
                () = tokio::time::sleep(RECHECK) => {}
            }
        }
    }

    /// Close idle connections until the reserve of free slots is back, counting those already
    /// closing.
    fn keep_free(&self) {
        let free = self.pool.permits.available_permits() + self.pool.closing.load(Ordering::Acquire);
        let short = self.pool.reserve.saturating_sub(free);
        if short > 0 {
            self.reclaim(short);
        }
    }

    /// Tell up to `count` (at most 32) connections, those idle longest, to close; returns how
    /// many were told.
    pub fn reclaim(&self, count: usize) -> usize {
        let count = count.min(BATCH);
        if count == 0 {
            return 0;
        }
        let mut idle: Vec<(u64, Arc<SlotState>)> = self
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .filter(|slot| !slot.reclaimed.load(Ordering::Acquire))
            .filter_map(|slot| slot.inflight.idle_since().map(|since| (since, slot)))
            .collect();
        if idle.len() > count {
            idle.select_nth_unstable_by_key(count, |(since, _)| *since);
            idle.truncate(count);
        }
        let mut told = 0;
        for (_, slot) in idle {
            if slot.reclaim() {
                told += 1;
            }
        }
        told
    }

    /// Resolves when a slot was released since the previous call (at once if one was).
    pub async fn released(&self) {
        self.pool.released.notified().await;
    }

    /// The slot of a connection just accepted into `room`.
    #[must_use]
    pub fn assign(&self, room: Room) -> Slot {
        let Room(permit) = room;
        let id = self.pool.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(SlotState {
            id,
            pool: Arc::clone(&self.pool),
            inflight: InFlight::new(),
            reclaimed: AtomicBool::new(false),
            reclaim: Notify::new(),
            permit: Some(permit),
        });
        self.lock().insert(id, Arc::downgrade(&state));
        Slot(state)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Weak<SlotState>>> {
        self.pool.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A free slot taken for a connection not accepted yet: given back, unused, when dropped (the
/// accept loop keeps it across failed accepts).
#[derive(Debug)]
pub struct Room(OwnedSemaphorePermit);

/// One connection's place among a worker's [`ConnectionSlots`], released when the last clone
/// drops. Reaches the protocol layers inside the connection's
/// [`ShutdownWatch`](crate::ShutdownWatch).
#[derive(Debug, Clone)]
pub struct Slot(Arc<SlotState>);

#[derive(Debug)]
struct SlotState {
    id: u64,
    pool: Arc<Pool>,
    inflight: InFlight,
    reclaimed: AtomicBool,
    reclaim: Notify,
    permit: Option<OwnedSemaphorePermit>,
}

impl SlotState {
    /// Mark the slot reclaimed; false when it already was.
    fn reclaim(&self) -> bool {
        if self.reclaimed.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.pool.closing.fetch_add(1, Ordering::AcqRel);
        self.reclaim.notify_waiters();
        true
    }
}

impl Slot {
    /// The requests (and tunnels) in flight on the connection.
    #[must_use]
    pub fn inflight(&self) -> &InFlight {
        &self.0.inflight
    }

    /// Whether the connection was told to close to free its slot.
    #[must_use]
    pub fn is_reclaimed(&self) -> bool {
        self.0.reclaimed.load(Ordering::Acquire)
    }

    /// Resolves once the connection is told to close to free its slot.
    pub async fn reclaimed(&self) {
        let notified = self.0.reclaim.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_reclaimed() {
            return;
        }
        notified.await;
    }
}

impl Drop for SlotState {
    fn drop(&mut self) {
        let pool = &self.pool;
        pool.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
        if *self.reclaimed.get_mut() {
            pool.closing.fetch_sub(1, Ordering::AcqRel);
        }
        // The permit goes back before the accept loop hears of it.
        drop(self.permit.take());
        pool.released.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_are_released_with_their_last_clone() {
        let slots = ConnectionSlots::new(2);
        let a = slots.assign(slots.acquire().await);
        let b = slots.assign(slots.acquire().await);
        assert_eq!(slots.open(), 2);
        let b2 = b.clone();
        drop(b);
        assert_eq!(slots.open(), 2);
        drop(b2);
        assert_eq!(slots.open(), 1);
        drop(a);
        assert_eq!(slots.open(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_pool_closes_the_connection_idle_longest() {
        let slots = ConnectionSlots::new(3);
        let oldest = slots.assign(slots.acquire().await);
        let busy = slots.assign(slots.acquire().await);
        let guard = busy.inflight().enter();
        let newest = slots.assign(slots.acquire().await);
        // Taking the last slot left none free: the reserve (one slot) is restored by telling the
        // connection idle longest to close; the busy one is spared.
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.assign(slots.acquire().await) }
        });
        oldest.reclaimed().await;
        assert!(oldest.is_reclaimed());
        assert!(!busy.is_reclaimed() && !newest.is_reclaimed());
        // Nothing is told twice while the first is still closing.
        tokio::time::sleep(RECHECK * 3).await;
        assert!(!newest.is_reclaimed());
        drop(oldest);
        let fourth = waiting.await.unwrap();
        assert_eq!(slots.open(), 3);
        drop((guard, fourth));
    }

    #[tokio::test(start_paused = true)]
    async fn busy_connections_are_never_told() {
        let slots = ConnectionSlots::new(1);
        let only = slots.assign(slots.acquire().await);
        let guard = only.inflight().enter();
        assert_eq!(slots.reclaim(5), 0);
        let waiting = tokio::spawn({
            let slots = slots.clone();
            async move { slots.assign(slots.acquire().await) }
        });
        tokio::time::sleep(RECHECK * 2).await;
        assert!(!only.is_reclaimed() && !waiting.is_finished());
        // Once idle, the next recheck tells it.
        drop(guard);
        only.reclaimed().await;
        drop(only);
        drop(waiting.await.unwrap());
    }
}
