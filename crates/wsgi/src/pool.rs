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
    /// Threads taking jobs that have not exited yet (counted from the moment one is asked for).
    threads: usize,
    /// Threads asleep waiting for a job: a job submitted while none is wakes nobody, which
    /// spares a futex wake per request while the threads are busy.
    idle: usize,
    /// Threads looking for a job, asleep or not yet.
    free: usize,
    /// Threads inside a job that wait on their client (a request body to come, a slow reader to
    /// take the response): they run no Python meanwhile, so they do not count as busy.
    waiting: usize,
}

/// What the caller of [`Pool::submit`] or [`Pool::client_wait`] is to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Grow {
    /// Nothing more.
    No,
    /// Start one more thread (it is counted already; call [`Pool::thread_exited`] if it cannot
    /// be started).
    Spawn,
}

/// What a thread asking for its next job gets.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next<T> {
    /// A job to run.
    Job(T),
    /// The pool closed: exit.
    Closed,
    /// One thread too many stayed idle: exit, already counted out.
    Retire,
}

/// The queue between the runtime's tasks and the blocking threads that run the application.
/// Its length is bounded by the caller (the backpressure permits travel with the jobs).
///
/// One thread runs from the start; a thread is added when a job is queued with none of the
/// others free, while fewer than `size` run the application. A thread that waits on its client
/// (see [`Pool::client_wait`]) stops counting among those, so threads are added for the jobs
/// queued meanwhile, up to `max` in all: a slow or stalled client holds a thread, never the
/// pool. A thread beyond the last one exits once it has been idle for `idle_timeout`.
pub(crate) struct Pool<T> {
    state: Mutex<State<T>>,
    work: Condvar,
    exited: Condvar,
    size: usize,
    max: usize,
    idle_timeout: Duration,
}

impl<T> Pool<T> {
    pub(crate) fn new(size: usize, max: usize, idle_timeout: Duration) -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                closed: false,
                threads: 0,
                idle: 0,
                free: 0,
                waiting: 0,
            }),
            work: Condvar::new(),
            exited: Condvar::new(),
            size: size.max(1),
            max: max.max(size).max(1),
            idle_timeout,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether queued jobs outnumber the free threads while fewer than `size` threads run the
    /// application (threads that wait on clients do not): then one more thread is counted, for
    /// the caller to start.
    fn grow(&self, state: &mut State<T>) -> Grow {
        let busy = state.threads - state.waiting;
        if state.closed || state.queue.len() <= state.free || busy >= self.size || state.threads >= self.max {
            return Grow::No;
        }
        state.threads += 1;
        Grow::Spawn
    }

    /// Queue a job for the next free thread; the job comes back once the pool is closed.
    pub(crate) fn submit(&self, job: T) -> Result<Grow, T> {
        let mut state = self.lock();
        if state.closed {
            return Err(job);
        }
        state.queue.push_back(job);
        let wake = state.idle > 0;
        let grow = self.grow(&mut state);
        drop(state);
        if wake {
            self.work.notify_one();
        }
        Ok(grow)
    }

    /// The calling thread, inside a job, starts waiting on its client until the returned guard
    /// drops; the pool may want another thread meanwhile.
    pub(crate) fn client_wait(&self) -> (ClientWait<'_, T>, Grow) {
        let mut state = self.lock();
        state.waiting += 1;
        let grow = self.grow(&mut state);
        (ClientWait(self), grow)
    }

    /// The next job, waiting for one.
    pub(crate) fn next(&self) -> Next<T> {
        let mut state = self.lock();
        state.free += 1;
        let mut spins = 0;
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
            state.idle += 1;
            let timed_out = if state.threads > 1 {
                let (guard, wait) = self
                    .work
                    .wait_timeout(state, self.idle_timeout)
                    .unwrap_or_else(PoisonError::into_inner);
                state = guard;
                wait.timed_out()
            } else {
                state = self.work.wait(state).unwrap_or_else(PoisonError::into_inner);
                false
            };
            state.idle -= 1;
            if timed_out && state.queue.is_empty() && !state.closed && state.threads > 1 {
                state.threads -= 1;
                break Next::Retire;
            }
        };
        state.free -= 1;
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

/// A thread waiting on its client (see [`Pool::client_wait`]); dropping it ends the wait.
pub(crate) struct ClientWait<'a, T>(&'a Pool<T>);

impl<T> Drop for ClientWait<'_, T> {
    fn drop(&mut self) {
        self.0.lock().waiting -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const IDLE: Duration = Duration::from_secs(30);

    fn pool(size: usize) -> Pool<i32> {
        Pool::new(size, 4, IDLE)
    }

    #[test]
    fn jobs_run_in_order_until_closed() {
        let pool = Arc::new(pool(1));
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
        let pool = pool(1);
        pool.thread_started();
        assert_eq!(pool.try_next(), Ok(None));
        assert_eq!(pool.submit(1), Ok(Grow::No));
        assert_eq!(pool.submit(2), Ok(Grow::No));
        assert_eq!(pool.try_next(), Ok(Some(1)));
        assert_eq!(pool.next(), Next::Job(2));
        pool.close();
        assert_eq!(pool.try_next(), Err(()));
        assert_eq!(pool.next(), Next::Closed);
    }

    #[test]
    fn a_sleeping_thread_is_woken_for_a_job() {
        let pool = Arc::new(pool(1));
        pool.thread_started();
        let sleeper = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || pool.next())
        };
        while pool.lock().idle == 0 {
            std::thread::yield_now();
        }
        assert_eq!(pool.submit(7), Ok(Grow::No));
        assert_eq!(sleeper.join().unwrap(), Next::Job(7));
    }

    #[test]
    fn waiting_for_a_busy_thread_times_out() {
        let pool = pool(1);
        pool.thread_started();
        pool.close();
        assert!(!pool.wait_exited(Duration::from_millis(20)));
        pool.thread_exited();
        assert!(pool.wait_exited(Duration::from_millis(20)));
    }

    #[test]
    fn threads_waiting_on_clients_make_room_for_more_up_to_the_most() {
        // Two threads, both inside jobs.
        let pool = pool(2);
        pool.thread_started();
        pool.thread_started();
        // Busy with the application: a queued job waits for one of them.
        assert_eq!(pool.submit(1), Ok(Grow::No));
        // One waits on its client: the queued job gets a thread of its own.
        let (first, grow) = pool.client_wait();
        assert_eq!(grow, Grow::Spawn);
        assert_eq!(pool.lock().threads, 3);
        assert_eq!(pool.try_next(), Ok(Some(1)));
        // Three threads, one waiting: two run the application, as many as the pool runs, so the
        // next job waits for one of them.
        assert_eq!(pool.submit(2), Ok(Grow::No));
        // Until a second one waits on its client.
        let (second, grow) = pool.client_wait();
        assert_eq!(grow, Grow::Spawn);
        assert_eq!(pool.try_next(), Ok(Some(2)));
        // Up to the most (4), however many wait.
        assert_eq!(pool.submit(3), Ok(Grow::No));
        let (third, grow) = pool.client_wait();
        assert_eq!(grow, Grow::No);
        drop((first, second, third));
        assert_eq!(pool.lock().waiting, 0);
        assert_eq!(pool.lock().threads, 4);
    }

    #[test]
    fn a_job_finding_no_free_thread_adds_one_up_to_the_size() {
        let pool = pool(2);
        pool.thread_started();
        // The one thread is inside a job: the next gets a thread of its own.
        assert_eq!(pool.submit(1), Ok(Grow::Spawn));
        assert_eq!(pool.lock().threads, 2);
        // Two run the application, as many as the pool runs: the next job waits.
        assert_eq!(pool.submit(2), Ok(Grow::No));
    }

    #[test]
    fn added_threads_retire_once_idle() {
        // However many the pool may run, the idle ones leave but the last.
        let pool = Arc::new(Pool::<i32>::new(3, 4, Duration::from_millis(50)));
        for _ in 0..3 {
            pool.thread_started();
        }
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let pool = Arc::clone(&pool);
                std::thread::spawn(move || pool.next())
            })
            .collect();
        // Two leave; the last stays for the next job.
        while pool.lock().threads > 1 {
            std::thread::yield_now();
        }
        assert_eq!(pool.submit(5), Ok(Grow::No));
        let mut ends: Vec<_> = workers.into_iter().map(|worker| worker.join().unwrap()).collect();
        ends.sort_by_key(|end| matches!(end, Next::Job(_)));
        assert_eq!(ends, [Next::Retire, Next::Retire, Next::Job(5)]);
    }
}
