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
    /// Threads taking jobs that have not exited yet, and those about to be started.
    threads: usize,
    /// Threads inside [`Pool::next`]: free, so a job submitted needs no new thread.
    waiting: usize,
    /// Threads asleep waiting for a job: a job submitted while none is wakes nobody, which
    /// spares a futex wake per request while the threads are busy.
    idle: usize,
}

/// What a thread waiting for work gets.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next<T> {
    /// A job to run.
    Job(T),
    /// The thread waited `idle_timeout` for a job while others remain: it leaves, already
    /// counted out (no [`Pool::thread_exited`]).
    Retire,
    /// The pool is closed.
    Closed,
}

/// The queue between the runtime's tasks and the blocking threads that run the application.
/// Its length is bounded by the caller (the backpressure permits travel with the jobs). The
/// threads grow on demand up to `max_threads`: a job that finds no free thread asks for one
/// (see [`Pool::submit`]); a thread beyond the last one left that waits `idle_timeout` for work
/// exits.
pub(crate) struct Pool<T> {
    state: Mutex<State<T>>,
    work: Condvar,
    exited: Condvar,
    max_threads: usize,
    idle_timeout: Duration,
}

impl<T> Pool<T> {
    pub(crate) fn new(max_threads: usize, idle_timeout: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                closed: false,
                threads: 0,
                waiting: 0,
                idle: 0,
            }),
            work: Condvar::new(),
            exited: Condvar::new(),
            max_threads: max_threads.max(1),
            idle_timeout,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue a job for the next free thread; the job comes back once the pool is closed.
    /// `Ok(true)` asks the caller to start a thread, already counted in (pair a failed start
    /// with [`Pool::thread_exited`]): no thread is free for the job and there are fewer than
    /// `max_threads`.
    pub(crate) fn submit(&self, job: T) -> Result<bool, T> {
        let mut state = self.lock();
        if state.closed {
            return Err(job);
        }
        state.queue.push_back(job);
        let grow = state.queue.len() > state.waiting && state.threads < self.max_threads;
        if grow {
            state.threads += 1;
        }
        let wake = state.idle > 0;
        drop(state);
        if wake {
            self.work.notify_one();
        }
        Ok(grow)
    }

    /// The next job, waiting for one; a thread beyond the last that waited `idle_timeout` for
    /// nothing retires.
    pub(crate) fn next(&self) -> Next<T> {
        let mut state = self.lock();
        state.waiting += 1;
        let mut spins = 0;
        let mut retire_at = None;
        let next = loop {
            if state.closed {
                break Next::Closed;
            }
            if let Some(job) = state.queue.pop_front() {
                break Next::Job(job);
            }
            if spins < SPIN_YIELDS {
                spins += 1;
                drop(state);
                std::thread::yield_now();
                state = self.lock();
                continue;
            }
            let deadline = *retire_at.get_or_insert_with(|| Instant::now() + self.idle_timeout);
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() && state.threads > 1 {
                state.threads -= 1;
                break Next::Retire;
            }
            state.idle += 1;
            state = if left.is_zero() {
                // The last thread stays, however long it waits.
                self.work.wait(state).unwrap_or_else(PoisonError::into_inner)
            } else {
                self.work
                    .wait_timeout(state, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            };
            state.idle -= 1;
        };
        state.waiting -= 1;
        next
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

    /// A thread starts taking jobs; pair with [`Pool::thread_exited`]. Threads that
    /// [`Pool::submit`] asked for are counted in already.
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

    /// Threads started and not exited (those [`Pool::submit`] asked for included).
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        self.lock().threads
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

    const LONG: Duration = Duration::from_mins(1);

    #[test]
    fn jobs_run_in_order_until_closed() {
        let pool = Arc::new(Pool::new(1, LONG));
        let (tx, rx) = std::sync::mpsc::channel();
        pool.thread_started();
        let worker = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                while let Next::Job(job) = pool.next() {
                    tx.send(job).unwrap();
                }
                pool.thread_exited();
            })
        };
        for job in 0..5 {
            // One thread at most: never a request for another.
            assert_eq!(pool.submit(job), Ok(false));
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
        let pool = Pool::new(1, LONG);
        pool.thread_started();
        assert_eq!(pool.try_next(), Ok(None));
        assert!(pool.submit(1).is_ok());
        assert!(pool.submit(2).is_ok());
        assert_eq!(pool.try_next(), Ok(Some(1)));
        assert_eq!(pool.next(), Next::Job(2));
        pool.close();
        assert_eq!(pool.try_next(), Err(()));
        assert_eq!(pool.next(), Next::Closed);
    }

    #[test]
    fn a_sleeping_thread_is_woken_for_a_job() {
        let pool = Arc::new(Pool::new(1, LONG));
        pool.thread_started();
        let sleeper = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || pool.next())
        };
        while pool.lock().idle == 0 {
            std::thread::yield_now();
        }
        // The sleeping thread is free: no other is asked for.
        assert_eq!(pool.submit(7), Ok(false));
        assert_eq!(sleeper.join().unwrap(), Next::Job(7));
    }

    #[test]
    fn threads_grow_on_demand_up_to_the_limit() {
        let pool = Pool::new(3, LONG);
        pool.thread_started();
        // The one thread is busy (not waiting): each job asks for one more, up to three.
        assert_eq!(pool.submit(1), Ok(true));
        assert_eq!(pool.submit(2), Ok(true));
        assert_eq!(pool.submit(3), Ok(false));
        assert_eq!(pool.threads(), 3);
        // A start that failed gives its place back.
        pool.thread_exited();
        assert_eq!(pool.submit(4), Ok(true));
    }

    #[test]
    fn idle_threads_beyond_the_last_retire() {
        let pool = Arc::new(Pool::<u32>::new(3, Duration::from_millis(50)));
        for _ in 0..3 {
            pool.thread_started();
        }
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let pool = Arc::clone(&pool);
                std::thread::spawn(move || pool.next())
            })
            .collect();
        // Two retire; the last keeps waiting, and gets the next job however late it comes.
        let deadline = Instant::now() + Duration::from_secs(5);
        while pool.threads() > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(pool.threads(), 1);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(pool.submit(9), Ok(false));
        let mut outcomes: Vec<_> = waiters.into_iter().map(|waiter| waiter.join().unwrap()).collect();
        outcomes.sort_by_key(|next| matches!(next, Next::Job(_)));
        assert_eq!(outcomes, [Next::Retire, Next::Retire, Next::Job(9)]);
    }

    #[test]
    fn waiting_for_a_busy_thread_times_out() {
        let pool: Pool<()> = Pool::new(1, LONG);
        pool.thread_started();
        pool.close();
        assert!(!pool.wait_exited(Duration::from_millis(20)));
        pool.thread_exited();
        assert!(pool.wait_exited(Duration::from_millis(20)));
    }
}
