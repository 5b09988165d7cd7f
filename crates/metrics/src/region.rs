use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Error;

/// The upper bounds, in seconds, of the request latency histogram's buckets (the Prometheus
/// client libraries' defaults); one more bucket, `+Inf`, takes the rest.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// [`LATENCY_BUCKETS`] in microseconds, the unit latencies are counted in.
const LATENCY_BOUNDS_US: [u64; 14] = [
    5_000, 10_000, 25_000, 50_000, 75_000, 100_000, 250_000, 500_000, 750_000, 1_000_000, 2_500_000, 5_000_000,
    7_500_000, 10_000_000,
];

// The region: a header of master-wide counters, then one block of words per worker number
// holding the counters of its exited processes, then the blocks ("slots") of live processes.
// Every word is an `AtomicU64`, so any process may read any word at any time.
pub(crate) const HEADER_SPAWNS: usize = 0;
pub(crate) const HEADER_RESPAWNS_ERROR: usize = 1;
pub(crate) const HEADER_RESPAWNS_LIFETIME: usize = 2;
pub(crate) const HEADER_RESPAWNS_MEMORY: usize = 3;
const HEADER_WORDS: usize = 8;

// The words of a slot. The first ones describe the process and are not summed when it exits.
/// The worker number (from 1) the slot's process serves as; 0 when the slot is free.
pub(crate) const OWNER: usize = 0;
/// When the process was assigned the slot, in milliseconds since the Unix epoch.
pub(crate) const STARTED_MS: usize = 1;
/// Open connections: a gauge, added to and taken from (two's complement) by the process.
pub(crate) const CONNECTIONS_ACTIVE: usize = 2;
/// Threads the process runs the application on: a gauge set once.
pub(crate) const BLOCKING_THREADS: usize = 3;
/// The first counter: this word and those after it only grow.
pub(crate) const FIRST_COUNTER: usize = 4;
pub(crate) const CONNECTIONS_HANDLED: usize = 4;
pub(crate) const CONNECTIONS_ERR: usize = 5;
pub(crate) const REQUESTS_HANDLED: usize = 6;
pub(crate) const STATIC_HANDLED: usize = 7;
pub(crate) const STATIC_ERR: usize = 8;
pub(crate) const BYTES_RECEIVED: usize = 9;
pub(crate) const BYTES_SENT: usize = 10;
pub(crate) const LATENCY_SUM_US: usize = 11;
/// One word per latency bucket, not cumulative; the last one is `+Inf`.
pub(crate) const LATENCY: usize = 12;
pub(crate) const LATENCY_WORDS: usize = LATENCY_BOUNDS_US.len() + 1;
/// One word per status code from 100 to 999 (what `http::StatusCode` admits).
pub(crate) const STATUS: usize = LATENCY + LATENCY_WORDS;
pub(crate) const FIRST_STATUS: u16 = 100;
pub(crate) const STATUS_WORDS: usize = 900;
pub(crate) const SLOT_WORDS: usize = STATUS + STATUS_WORDS;

/// Live processes per worker number the region has room for: the serving one, its successor
/// while it starts, and older ones still draining.
const SLOTS_PER_WORKER: usize = 4;
/// Far more workers than any machine runs; keeps the mapping's size well clear of overflow.
const MAX_WORKERS: usize = 4096;

/// Why the master replaced a worker, as the respawn counters tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Respawn {
    /// The worker exited unexpectedly and was started again.
    Error,
    /// The worker reached its lifetime.
    Lifetime,
    /// The worker used more memory than allowed.
    Memory,
}

/// The counters of every worker process of a server, in memory mapped `MAP_SHARED` so that the
/// processes the master forks after creating it write to the same pages the master reads.
///
/// The master [`assign`](Self::assign)s each process it starts a slot, the process fills it
/// through a [`Recorder`], and the master [`release`](Self::release)s it once the process
/// exited, adding its counters to its worker number's totals, so that counters never go back
/// when a worker is replaced while its gauges start again from zero.
#[derive(Debug)]
pub struct Region {
    base: NonNull<AtomicU64>,
    words: usize,
    workers: usize,
    slots: usize,
    /// Held by the master while it assigns, releases or renders, so that a scrape never sees a
    /// slot counted both in its worker's totals and on its own.
    lock: Mutex<()>,
}

// SAFETY: the mapping is only accessed through `AtomicU64` references, which are `Sync`, and
// it stays mapped until the region drops.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// Map a zeroed region for `workers` worker numbers.
    pub fn new(workers: usize) -> Result<Self, Error> {
        if workers == 0 || workers > MAX_WORKERS {
            return Err(Error::Workers {
                workers,
                max: MAX_WORKERS,
            });
        }
        let slots = workers * SLOTS_PER_WORKER;
        let words = HEADER_WORDS + (workers + slots) * SLOT_WORDS;
        let len = words * size_of::<AtomicU64>();
        // SAFETY: an anonymous mapping touches no existing memory; the result is checked
        // before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(Error::Map(std::io::Error::last_os_error()));
        }
        // Page-aligned, zero-filled by the kernel: `words` valid `AtomicU64`s at zero.
        let base = NonNull::new(ptr.cast::<AtomicU64>()).ok_or_else(|| Error::Map(std::io::Error::other("null")))?;
        Ok(Self {
            base,
            words,
            workers,
            slots,
            lock: Mutex::new(()),
        })
    }

    /// How many worker numbers the region holds.
    #[must_use]
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// How many live processes the region has room for.
    #[must_use]
    pub fn slots(&self) -> usize {
        self.slots
    }

    pub(crate) fn word(&self, index: usize) -> &AtomicU64 {
        assert!(index < self.words, "metrics word {index} out of range");
        // SAFETY: in bounds (checked above) of a mapping of `words` `AtomicU64`s that lives as
        // long as `self`.
        unsafe { &*self.base.as_ptr().add(index) }
    }

    pub(crate) fn header(&self, word: usize) -> &AtomicU64 {
        self.word(word)
    }

    /// The first word of the totals of worker number `worker` (from 1).
    pub(crate) fn retired(worker: usize) -> usize {
        HEADER_WORDS + (worker - 1) * SLOT_WORDS
    }

    /// The first word of process slot `slot`.
    pub(crate) fn live(&self, slot: usize) -> usize {
        HEADER_WORDS + (self.workers + slot) * SLOT_WORDS
    }

    pub(crate) fn locked(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Give a process about to start as worker number `worker` a free slot, zeroed, and return
    /// its index. Master only.
    pub fn assign(&self, worker: usize) -> Result<usize, Error> {
        if worker == 0 || worker > self.workers {
            return Err(Error::UnknownWorker {
                worker,
                workers: self.workers,
            });
        }
        let _guard = self.locked();
        let slot = (0..self.slots)
            .find(|&slot| self.word(self.live(slot) + OWNER).load(Ordering::Relaxed) == 0)
            .ok_or(Error::Full { slots: self.slots })?;
        let start = self.live(slot);
        for word in start + 1..start + SLOT_WORDS {
            self.word(word).store(0, Ordering::Relaxed);
        }
        self.word(start + STARTED_MS).store(now_ms(), Ordering::Relaxed);
        self.word(start + OWNER).store(worker as u64, Ordering::Release);
        Ok(slot)
    }

    /// Add the counters of slot `slot`, whose process exited, to its worker number's totals
    /// and free the slot. Master only; a free slot is left as it is.
    pub fn release(&self, slot: usize) -> Result<(), Error> {
        self.check_slot(slot)?;
        let _guard = self.locked();
        let start = self.live(slot);
        let owner = self.word(start + OWNER).load(Ordering::Acquire);
        let Some(worker) = usize::try_from(owner).ok().filter(|w| (1..=self.workers).contains(w)) else {
            return Ok(());
        };
        let totals = Self::retired(worker);
        for offset in FIRST_COUNTER..SLOT_WORDS {
            let value = self.word(start + offset).swap(0, Ordering::Relaxed);
            if value != 0 {
                self.word(totals + offset).fetch_add(value, Ordering::Relaxed);
            }
        }
        self.word(start + OWNER).store(0, Ordering::Release);
        Ok(())
    }

    /// Count `count` worker processes started.
    pub fn count_spawns(&self, count: u64) {
        self.header(HEADER_SPAWNS).fetch_add(count, Ordering::Relaxed);
    }

    /// Count `count` workers replaced for `reason`.
    pub fn count_respawns(&self, reason: Respawn, count: u64) {
        let word = match reason {
            Respawn::Error => HEADER_RESPAWNS_ERROR,
            Respawn::Lifetime => HEADER_RESPAWNS_LIFETIME,
            Respawn::Memory => HEADER_RESPAWNS_MEMORY,
        };
        self.header(word).fetch_add(count, Ordering::Relaxed);
    }

    /// The handle a worker process counts its traffic with, in slot `slot`.
    pub fn recorder(self: &Arc<Self>, slot: usize) -> Result<Recorder, Error> {
        self.check_slot(slot)?;
        Ok(Recorder {
            start: self.live(slot),
            region: Arc::clone(self),
        })
    }

    fn check_slot(&self, slot: usize) -> Result<(), Error> {
        if slot >= self.slots {
            return Err(Error::UnknownSlot {
                slot,
                slots: self.slots,
            });
        }
        Ok(())
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped; no reference into it outlives `self`
        // (recorders hold an `Arc` of the region). Other processes keep their own mapping.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.words * size_of::<AtomicU64>());
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX))
}

/// Writes one process's slot: each call is one or a few relaxed atomic additions.
#[derive(Debug, Clone)]
pub struct Recorder {
    region: Arc<Region>,
    start: usize,
}

impl Recorder {
    fn add(&self, offset: usize, value: u64) {
        self.region
            .word(self.start + offset)
            .fetch_add(value, Ordering::Relaxed);
    }

    /// Count a connection as accepted and open until the returned guard drops.
    #[must_use]
    pub fn connection(&self) -> ConnectionGuard {
        self.add(CONNECTIONS_HANDLED, 1);
        self.add(CONNECTIONS_ACTIVE, 1);
        ConnectionGuard(self.clone())
    }

    /// Count a request handed to the application.
    pub fn request(&self) {
        self.add(REQUESTS_HANDLED, 1);
    }

    /// Count a response head: its status and how long it took since the request arrived.
    pub fn response(&self, status: u16, elapsed: Duration) {
        if let Some(index) = status
            .checked_sub(FIRST_STATUS)
            .map(usize::from)
            .filter(|&index| index < STATUS_WORDS)
        {
            self.add(STATUS + index, 1);
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BOUNDS_US.partition_point(|&bound| bound < micros);
        self.add(LATENCY + bucket, 1);
        self.add(LATENCY_SUM_US, micros);
    }

    /// Count request body bytes received.
    pub fn received(&self, bytes: u64) {
        if bytes != 0 {
            self.add(BYTES_RECEIVED, bytes);
        }
    }

    /// Count response body bytes sent.
    pub fn sent(&self, bytes: u64) {
        if bytes != 0 {
            self.add(BYTES_SENT, bytes);
        }
    }

    /// Count a request answered from a static file (`ok`) or refused by the static file
    /// handler (missing file, bad path).
    pub fn static_file(&self, ok: bool) {
        self.add(if ok { STATIC_HANDLED } else { STATIC_ERR }, 1);
    }

    /// Report how many threads the process runs the application on.
    pub fn set_blocking_threads(&self, threads: u64) {
        self.region
            .word(self.start + BLOCKING_THREADS)
            .store(threads, Ordering::Relaxed);
    }
}

/// One open connection counted by a [`Recorder`]; dropping it closes the count.
#[derive(Debug)]
pub struct ConnectionGuard(Recorder);

impl ConnectionGuard {
    /// Count the connection as failed (its TLS handshake, say).
    pub fn failed(&self) {
        self.0.add(CONNECTIONS_ERR, 1);
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        // Two's complement: the gauge is read back as a signed number.
        self.0
            .region
            .word(self.0.start + CONNECTIONS_ACTIVE)
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot_word(region: &Region, slot: usize, offset: usize) -> u64 {
        region.word(region.live(slot) + offset).load(Ordering::Relaxed)
    }

    #[test]
    fn rejects_bad_sizes_and_indexes() {
        assert!(matches!(Region::new(0), Err(Error::Workers { .. })));
        let region = Arc::new(Region::new(2).unwrap());
        assert!(matches!(region.assign(0), Err(Error::UnknownWorker { .. })));
        assert!(matches!(region.assign(3), Err(Error::UnknownWorker { .. })));
        assert!(matches!(
            region.recorder(region.slots()),
            Err(Error::UnknownSlot { .. })
        ));
        assert!(matches!(region.release(region.slots()), Err(Error::UnknownSlot { .. })));
    }

    #[test]
    fn assigns_free_slots_until_full() {
        let region = Region::new(1).unwrap();
        let slots: Vec<_> = (0..region.slots()).map(|_| region.assign(1).unwrap()).collect();
        assert_eq!(slots, (0..region.slots()).collect::<Vec<_>>());
        assert!(matches!(region.assign(1), Err(Error::Full { .. })));
        region.release(2).unwrap();
        assert_eq!(region.assign(1).unwrap(), 2);
    }

    #[test]
    fn records_into_its_slot() {
        let region = Arc::new(Region::new(2).unwrap());
        let slot = region.assign(2).unwrap();
        let recorder = region.recorder(slot).unwrap();
        recorder.request();
        recorder.response(200, Duration::from_millis(3));
        recorder.response(404, Duration::from_millis(30));
        recorder.response(1000, Duration::from_mins(1));
        recorder.received(5);
        recorder.sent(7);
        assert_eq!(slot_word(&region, slot, REQUESTS_HANDLED), 1);
        assert_eq!(slot_word(&region, slot, STATUS + 100), 1);
        assert_eq!(slot_word(&region, slot, STATUS + 304), 1);
        assert_eq!(slot_word(&region, slot, LATENCY), 1);
        assert_eq!(slot_word(&region, slot, LATENCY + 3), 1);
        assert_eq!(slot_word(&region, slot, LATENCY + LATENCY_WORDS - 1), 1);
        assert_eq!(slot_word(&region, slot, LATENCY_SUM_US), 60_033_000);
        assert_eq!(slot_word(&region, slot, BYTES_RECEIVED), 5);
        assert_eq!(slot_word(&region, slot, BYTES_SENT), 7);
    }

    #[test]
    fn connection_gauge_follows_guards() {
        let region = Arc::new(Region::new(1).unwrap());
        let recorder = region.recorder(region.assign(1).unwrap()).unwrap();
        let first = recorder.connection();
        let second = recorder.connection();
        second.failed();
        assert_eq!(slot_word(&region, 0, CONNECTIONS_ACTIVE), 2);
        drop(first);
        drop(second);
        assert_eq!(slot_word(&region, 0, CONNECTIONS_ACTIVE), 0);
        assert_eq!(slot_word(&region, 0, CONNECTIONS_HANDLED), 2);
        assert_eq!(slot_word(&region, 0, CONNECTIONS_ERR), 1);
    }

    #[test]
    fn release_keeps_counters_and_drops_gauges() {
        let region = Arc::new(Region::new(1).unwrap());
        let slot = region.assign(1).unwrap();
        let recorder = region.recorder(slot).unwrap();
        recorder.request();
        std::mem::forget(recorder.connection());
        region.release(slot).unwrap();
        assert_eq!(slot_word(&region, slot, OWNER), 0);
        let totals = Region::retired(1);
        assert_eq!(region.word(totals + REQUESTS_HANDLED).load(Ordering::Relaxed), 1);
        assert_eq!(region.word(totals + CONNECTIONS_ACTIVE).load(Ordering::Relaxed), 0);
        let again = region.assign(1).unwrap();
        assert_eq!(slot_word(&region, again, CONNECTIONS_ACTIVE), 0);
        assert_eq!(slot_word(&region, again, REQUESTS_HANDLED), 0);
    }

    #[test]
    fn forked_child_writes_are_seen_by_the_parent() {
        let region = Arc::new(Region::new(1).unwrap());
        let slot = region.assign(1).unwrap();
        // SAFETY: the child only does atomic stores on the shared mapping and `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let recorder = region.recorder(slot).unwrap();
            recorder.received(42);
            // SAFETY: ends the child without running the test harness's destructors.
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        unsafe { libc::waitpid(pid, &raw mut status, 0) };
        assert_eq!(slot_word(&region, slot, BYTES_RECEIVED), 42);
    }
}
