use std::cell::Cell;
use std::future::Future;
use std::thread;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::sync::watch;

use crate::Error;

/// The name of every thread that runs connections, in either mode.
pub const RUNTIME_THREAD_NAME: &str = "granian-rt";

thread_local! {
    /// Set on the threads that drive a single-threaded runtime of [`Runtimes`] until it stops.
    static DRIVES_CURRENT_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread drives one of the single-threaded runtimes of [`Runtimes`], which keeps
/// running its tasks until the runtimes are dropped: a task spawned from here runs once the
/// thread is done with what else is ready, without anyone else polling the runtime.
#[must_use]
pub fn drives_current_thread_runtime() -> bool {
    DRIVES_CURRENT_THREAD.with(Cell::get)
}

/// How a worker's connections are spread over its runtime threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeMode {
    /// One multi-threaded runtime over all the threads: a connection's tasks may run on any of
    /// them, and an idle thread steals work from a busy one.
    MultiThread,
    /// One single-threaded runtime per thread, each accepting connections from the shared
    /// listening socket itself: a connection stays on the thread that accepted it, with no
    /// synchronisation between threads and no work stealing.
    SingleThread,
}

/// What [`Runtimes::new`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeSettings {
    /// How connections are spread over the threads.
    pub mode: RuntimeMode,
    /// Threads running connections (at least one is started).
    pub threads: usize,
    /// Most threads started for blocking work (file reads); tokio's own bound when `None`. In
    /// [`RuntimeMode::SingleThread`] each runtime gets an equal share, at least one.
    pub max_blocking_threads: Option<usize>,
}

/// The tokio runtimes one server runs on: one multi-threaded runtime, or one single-threaded
/// runtime per thread, each driven by a thread of its own until the `Runtimes` are dropped.
#[derive(Debug)]
pub struct Runtimes {
    /// The multi-threaded runtime; `None` in single-threaded mode.
    multi: Option<Runtime>,
    /// The runtimes that accept connections: the multi-threaded one, or every single-threaded
    /// one. The first also runs the work of no connection.
    handles: Vec<Handle>,
    /// Stops the threads of the single-threaded runtimes; dropping it does too.
    stop: Option<watch::Sender<bool>>,
}

impl Runtimes {
    /// Build the runtimes (and start the threads of single-threaded ones).
    pub fn new(settings: RuntimeSettings) -> Result<Self, Error> {
        let threads = settings.threads.max(1);
        if settings.mode == RuntimeMode::MultiThread {
            let mut builder = Builder::new_multi_thread();
            builder.worker_threads(threads);
            if let Some(max) = settings.max_blocking_threads {
                builder.max_blocking_threads(max.max(1));
            }
            let runtime = builder.thread_name(RUNTIME_THREAD_NAME).enable_all().build()?;
            return Ok(Self {
                handles: vec![runtime.handle().clone()],
                multi: Some(runtime),
                stop: None,
            });
        }
        let share = settings.max_blocking_threads.map(|max| (max / threads).max(1));
        let (stop, stopped) = watch::channel(false);
        let mut handles = Vec::with_capacity(threads);
        for _ in 0..threads {
            let mut builder = Builder::new_current_thread();
            if let Some(share) = share {
                builder.max_blocking_threads(share);
            }
            let runtime = builder.thread_name(RUNTIME_THREAD_NAME).enable_all().build()?;
            handles.push(runtime.handle().clone());
            let mut stopped = stopped.clone();
            thread::Builder::new()
                .name(RUNTIME_THREAD_NAME.to_owned())
                .spawn(move || {
                    DRIVES_CURRENT_THREAD.with(|drives| drives.set(true));
                    // Drive the runtime's tasks, timers and I/O until told to stop.
                    runtime.block_on(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    });
                    runtime.shutdown_background();
                })?;
        }
        Ok(Self {
            multi: None,
            handles,
            stop: Some(stop),
        })
    }

    /// The mode the runtimes run in.
    #[must_use]
    pub fn mode(&self) -> RuntimeMode {
        if self.multi.is_some() {
            RuntimeMode::MultiThread
        } else {
            RuntimeMode::SingleThread
        }
    }

    /// The runtime for work that belongs to no connection (an interface's own tasks): the
    /// multi-threaded runtime, or the first single-threaded one.
    #[must_use]
    pub fn handle(&self) -> &Handle {
        &self.handles[0]
    }

    /// Every runtime that accepts connections: the multi-threaded one, or each single-threaded
    /// one (each runs an accept loop of its own).
    pub fn accepting(&self) -> impl Iterator<Item = &Handle> {
        self.handles.iter()
    }

    /// Run `future` to completion from a thread outside the runtimes, on the runtime of
    /// [`Runtimes::handle`].
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        match &self.multi {
            Some(runtime) => runtime.block_on(future),
            // The runtime's own thread drives its timers and I/O meanwhile.
            None => self.handles[0].block_on(future),
        }
    }
}

impl Drop for Runtimes {
    /// Stop the runtimes without waiting for their tasks, as `Runtime::shutdown_background`.
    fn drop(&mut self) {
        if let Some(runtime) = self.multi.take() {
            runtime.shutdown_background();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::mpsc;
    use std::time::Duration;

    fn settings(mode: RuntimeMode, threads: usize) -> RuntimeSettings {
        RuntimeSettings {
            mode,
            threads,
            max_blocking_threads: Some(4),
        }
    }

    /// The name and id of the thread a task spawned on `handle` runs on.
    fn task_thread(handle: &Handle) -> (String, thread::ThreadId) {
        let (tx, rx) = mpsc::channel();
        handle.spawn(async move {
            let current = thread::current();
            let _ = tx.send((current.name().unwrap_or_default().to_owned(), current.id()));
        });
        rx.recv_timeout(Duration::from_secs(5)).expect("the task ran")
    }

    #[test]
    fn single_threaded_runtimes_each_run_on_a_thread_of_their_own() {
        let runtimes = Runtimes::new(settings(RuntimeMode::SingleThread, 3)).unwrap();
        assert_eq!(runtimes.mode(), RuntimeMode::SingleThread);
        let threads: Vec<_> = runtimes.accepting().map(task_thread).collect();
        assert_eq!(threads.len(), 3);
        assert!(threads.iter().all(|(name, _)| name == RUNTIME_THREAD_NAME));
        assert_eq!(threads.iter().map(|(_, id)| *id).collect::<HashSet<_>>().len(), 3);
        // A task goes on running on the thread that took it, timers included.
        assert_eq!(task_thread(runtimes.handle()).1, threads[0].1);
        let slept = runtimes.block_on(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            thread::current().id()
        });
        assert_ne!(slept, threads[0].1);
    }

    #[test]
    fn only_the_threads_driving_single_threaded_runtimes_say_so() {
        let runtimes = Runtimes::new(settings(RuntimeMode::SingleThread, 2)).unwrap();
        for handle in runtimes.accepting() {
            let (tx, rx) = mpsc::channel();
            handle.spawn(async move {
                let _ = tx.send(drives_current_thread_runtime());
            });
            assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        }
        assert!(!drives_current_thread_runtime());
        let multi = Runtimes::new(settings(RuntimeMode::MultiThread, 1)).unwrap();
        let (tx, rx) = mpsc::channel();
        multi.handle().spawn(async move {
            let _ = tx.send(drives_current_thread_runtime());
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(false));
    }

    #[test]
    fn a_multi_threaded_runtime_accepts_on_one_handle() {
        let runtimes = Runtimes::new(settings(RuntimeMode::MultiThread, 2)).unwrap();
        assert_eq!(runtimes.mode(), RuntimeMode::MultiThread);
        assert_eq!(runtimes.accepting().count(), 1);
        assert_eq!(task_thread(runtimes.handle()).0, RUNTIME_THREAD_NAME);
        assert_eq!(runtimes.block_on(async { 7 }), 7);
    }

    #[test]
    fn dropping_stops_the_threads() {
        let runtimes = Runtimes::new(settings(RuntimeMode::SingleThread, 2)).unwrap();
        let handle = runtimes.handle().clone();
        let (tx, rx) = mpsc::channel::<()>();
        handle.spawn(async move {
            // Held until the runtime drops the task.
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        drop(runtimes);
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
    }
}
