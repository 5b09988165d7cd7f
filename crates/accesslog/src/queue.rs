use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A bounded queue of formatted lines between the runtime threads, which push, and one
/// logging thread, which drains them in batches. A push never waits: when the queue is
/// full the line is dropped and counted.
#[derive(Debug)]
pub struct LineQueue {
    state: Mutex<State>,
    ready: Condvar,
    capacity: usize,
}

#[derive(Debug, Default)]
struct State {
    lines: VecDeque<String>,
    /// The consumer sleeps on `ready`: only then does a push pay for a wake-up.
    waiting: bool,
    closed: bool,
    dropped: u64,
}

impl LineQueue {
    /// A queue holding at most `capacity` lines (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves only a queue of strings behind: still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue `line`; `false` when it was dropped because the queue is full or closed.
    pub fn push(&self, line: String) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        if state.lines.len() >= self.capacity {
            state.dropped += 1;
            return false;
        }
        state.lines.push_back(line);
        let wake = state.waiting;
        drop(state);
        if wake {
            self.ready.notify_one();
        }
        true
    }

    /// Every queued line, waiting up to `timeout` for the first one. Empty after a timeout;
    /// `None` once the queue is closed and empty.
    pub fn drain(&self, timeout: Duration) -> Option<Vec<String>> {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.lock();
        while state.lines.is_empty() && !state.closed {
            // No deadline when `timeout` overflows the clock: wait that long again and again.
            let left = deadline.map_or(timeout, |deadline| deadline.saturating_duration_since(Instant::now()));
            if left.is_zero() {
                break;
            }
            state.waiting = true;
            state = self
                .ready
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.waiting = false;
        }
        if state.lines.is_empty() && state.closed {
            return None;
        }
        Some(state.lines.drain(..).collect())
    }

    /// Refuse further lines and wake the consumer, which still gets what is queued.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// Lines dropped so far because the queue was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn drops_and_counts_when_full() {
        let queue = LineQueue::new(2);
        assert!(queue.push("a".into()));
        assert!(queue.push("b".into()));
        assert!(!queue.push("c".into()));
        assert_eq!(queue.dropped(), 1);
        assert_eq!(queue.drain(Duration::ZERO), Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(queue.drain(Duration::ZERO), Some(vec![]));
    }

    #[test]
    fn close_wakes_and_ends_after_the_rest() {
        let queue = Arc::new(LineQueue::new(8));
        let consumer = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while let Some(batch) = queue.drain(Duration::from_secs(10)) {
                    seen.extend(batch);
                }
                seen
            })
        };
        assert!(queue.push("x".into()));
        queue.close();
        assert!(!queue.push("y".into()));
        assert_eq!(consumer.join().unwrap(), vec!["x".to_owned()]);
    }

    #[test]
    fn a_push_wakes_a_waiting_consumer() {
        let queue = Arc::new(LineQueue::new(8));
        let consumer = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || queue.drain(Duration::from_secs(10)))
        };
        std::thread::sleep(Duration::from_millis(20));
        assert!(queue.push("x".into()));
        assert_eq!(consumer.join().unwrap(), Some(vec!["x".to_owned()]));
    }
}
