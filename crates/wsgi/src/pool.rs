use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Times a thread that found the queue empty yields the processor before it goes to sleep.
/// The runtime thread usually queues the next request within a few microseconds (it parses a
/// whole batch of readable connections at once); a thread that yields picks it up without a
/// sleep and a wake-up, which otherwise cost two context switches per request when the
/// runtime and the application share a core.
const SPIN_YIELDS: u32 = 8;

struct State<T> {
    queue: VecDeque<T>,
    closed: bool,
    /// Threads taking jobs that have not exited yet.
    threads: usize,
    /// Threads asleep waiting for a job: a job submitted while none is wakes nobody, which
    /// spares a futex wake per request while the threads are busy.
    idle: usize,
}

/// The queue between the runtime's tasks and the blocking threads that run the application.
/// Its length is bounded by the caller (the backpressure permits travel with the jobs).
pub(crate) struct Pool<T> {
    state: Mutex<State<T>>,
    work: Condvar,
    exited: Condvar,
}

impl<T> Pool<T> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                closed: false,
                threads: 0,
                idle: 0,
            }),
            work: Condvar::new(),
            exited: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue a job for the next free thread; the job comes back once the pool is closed.
    pub(crate) fn submit(&self, job: T) -> Result<(), T> {
        let mut state = self.lock();
        if state.closed {
            return Err(job);
        }
        state.queue.push_back(job);
        let wake = state.idle > 0;
        drop(state);
        if wake {
            self.work.notify_one();
        }
        Ok(())
    }

    /// The next job, waiting for one; `None` once the pool is closed.
    pub(crate) fn next(&self) -> Option<T> {
        let mut state = self.lock();
        let mut spins = 0;
        loop {
            if state.closed {
                return None;
            }
            if let Some(job) = state.queue.pop_front() {
                return Some(job);
            }
            if spins < SPIN_YIELDS {
                spins += 1;
                drop(state);
                std::thread::yield_now();
                state = self.lock();
                continue;
            }
            state.idle += 1;
            state = self.work.wait(state).unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
        }
    }

    /// The next job if one is queued, without waiting; `Err(())` once the pool is closed.
    pub(crate) fn try_next(&self) -> Result<Option<T>, ()> {
        let mut state = self.lock();
        if state.closed {
            return Err(());
        }
        Ok(state.queue.pop_front())
    }

    /// Take no more jobs: queued ones are dropped, idle threads leave, busy ones leave after
    /// their job.
    pub(crate) fn close(&self) {
        let dropped = {
            let mut state = self.lock();
            state.closed = true;
            std::mem::take(&mut state.queue)
        };
        self.work.notify_all();
        drop(dropped);
    }

    /// A thread starts taking jobs; pair with [`Pool::thread_exited`].
    pub(crate) fn thread_started(&self) {
        self.lock().threads += 1;
    }

    pub(crate) fn thread_exited(&self) {
        let mut state = self.lock();
        state.threads -= 1;
        if state.threads == 0 {
            self.exited.notify_all();
        }
    }

    /// Wait up to `timeout` for every thread to exit; whether they all did.
    pub(crate) fn wait_exited(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.threads > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .exited
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn jobs_run_in_order_until_closed() {
        let pool = Arc::new(Pool::new());
        let (tx, rx) = std::sync::mpsc::channel();
        pool.thread_started();
        let worker = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                while let Some(job) = pool.next() {
                    tx.send(job).unwrap();
                }
                pool.thread_exited();
            })
        };
        for job in 0..5 {
            assert!(pool.submit(job).is_ok());
        }
        let got: Vec<i32> = (0..5).map(|_| rx.recv().unwrap()).collect();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        pool.close();
        assert!(pool.wait_exited(Duration::from_secs(5)));
        worker.join().unwrap();
        assert_eq!(pool.submit(9), Err(9));
    }

    #[test]
    fn queued_jobs_are_taken_without_waiting() {
        let pool = Pool::new();
        assert_eq!(pool.try_next(), Ok(None));
        assert!(pool.submit(1).is_ok());
        assert!(pool.submit(2).is_ok());
        assert_eq!(pool.try_next(), Ok(Some(1)));
        assert_eq!(pool.next(), Some(2));
        pool.close();
        assert_eq!(pool.try_next(), Err(()));
    }

    #[test]
    fn a_sleeping_thread_is_woken_for_a_job() {
        let pool = Arc::new(Pool::new());
        let sleeper = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || pool.next())
        };
        while pool.lock().idle == 0 {
            std::thread::yield_now();
        }
        assert!(pool.submit(7).is_ok());
        assert_eq!(sleeper.join().unwrap(), Some(7));
    }

    #[test]
    fn waiting_for_a_busy_thread_times_out() {
        let pool: Pool<()> = Pool::new();
        pool.thread_started();
        pool.close();
        assert!(!pool.wait_exited(Duration::from_millis(20)));
        pool.thread_exited();
        assert!(pool.wait_exited(Duration::from_millis(20)));
    }
}
