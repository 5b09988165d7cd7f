use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use pyo3::intern;
use pyo3::prelude::*;

/// Work for the loop thread, run with the GIL it already holds.
pub type Job = Box<dyn FnOnce(Python<'_>) + Send>;

struct Inner {
    queue: Mutex<Vec<Job>>,
    wake: OwnedFd,
    closed: AtomicBool,
    /// A wake-up is owed to the loop and left to a task that sends it once the runtime thread
    /// has run what else was ready.
    deferred: AtomicBool,
}

impl Inner {
    fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to an eventfd this struct owns. A failure
        // (EAGAIN: the counter is saturated) means a wake-up is pending already.
        unsafe { libc::write(self.wake.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    /// Send the wake-up owed since [`LoopHandle::schedule`] deferred it.
    fn flush(&self) {
        if self.deferred.swap(false, Ordering::AcqRel) {
            self.signal();
        }
    }

    fn consume_signal(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from an eventfd this struct owns; the
        // descriptor is non-blocking, so an empty counter returns EAGAIN at once.
        unsafe { libc::read(self.wake.as_raw_fd(), (&raw mut value).cast(), 8) };
    }
}

/// Schedules [`Job`]s onto one asyncio loop from any thread, without the GIL. Cheap to
/// clone.
#[derive(Clone)]
pub struct LoopHandle {
    inner: Arc<Inner>,
    event_loop: Arc<Py<PyAny>>,
}

impl LoopHandle {
    /// Watch a fresh eventfd on `event_loop` (asyncio or uvloop): from now on, scheduled jobs
    /// run in that loop's thread, in batches. Call on the loop's thread.
    pub fn new(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Self> {
        // SAFETY: eventfd takes no pointers; a negative return is checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error().into());
        }
        // SAFETY: `fd` was just returned by eventfd and is owned by nothing else.
        let wake = unsafe { OwnedFd::from_raw_fd(fd) };
        let inner = Arc::new(Inner {
            queue: Mutex::new(Vec::with_capacity(64)),
            wake,
            closed: AtomicBool::new(false),
            deferred: AtomicBool::new(false),
        });
        let drain = Drain {
            inner: Arc::clone(&inner),
            spare: Mutex::new(Vec::with_capacity(64)),
        };
        event_loop.call_method1(intern!(py, "add_reader"), (fd, drain))?;
        Ok(Self {
            inner,
            event_loop: Arc::new(event_loop.clone().unbind()),
        })
    }

    /// Run `job` on the loop thread soon. Never blocks on the GIL. Jobs scheduled after
    /// [`LoopHandle::close`] are dropped unrun.
    pub fn schedule(&self, job: Job) {
        if self.inner.closed.load(Ordering::Acquire) {
            return;
        }
        let first = {
            let mut queue = self.inner.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.push(job);
            queue.len() == 1
        };
        // Only the push that made the queue non-empty wakes the loop: the drain reads the
        // eventfd before taking the queue, so a later push either lands in the batch being
        // taken or finds the queue empty again and signals anew.
        if !first {
            return;
        }
        // On a runtime thread, the wake-up waits until that thread has run the other tasks
        // that are ready (a yielding task runs once the thread is out of work, or at its next
        // I/O poll): the loop then takes a batch of jobs at once, instead of being woken (a
        // system call on each side) for every job, or preempting the runtime thread after the
        // first one when both share a core. That needs a runtime that goes on running its
        // tasks: a multi-threaded one, or a single-threaded one this thread drives for good.
        // Any other current-thread runtime runs the task only when whoever drives it polls
        // again, which may be after the loop waits for this very job: it signals at once.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime)
                if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
                    || granian_serve::drives_current_thread_runtime() =>
            {
                if !self.inner.deferred.swap(true, Ordering::AcqRel) {
                    let inner = Arc::clone(&self.inner);
                    runtime.spawn(async move {
                        tokio::task::yield_now().await;
                        inner.flush();
                    });
                }
            }
            _ => self.inner.signal(),
        }
    }

    /// The loop this handle schedules onto.
    #[must_use]
    pub fn event_loop(&self) -> &Py<PyAny> {
        &self.event_loop
    }

    /// Stop watching the eventfd and drop pending and future jobs. Call on the loop thread.
    pub fn close(&self, py: Python<'_>) -> PyResult<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let pending = std::mem::take(&mut *self.inner.queue.lock().unwrap_or_else(PoisonError::into_inner));
        drop(pending);
        let event_loop = self.event_loop.bind(py);
        if !event_loop.call_method0(intern!(py, "is_closed"))?.is_truthy()? {
            event_loop.call_method1(intern!(py, "remove_reader"), (self.inner.wake.as_raw_fd(),))?;
        }
        Ok(())
    }
}

/// The loop's reader callback: runs every job queued since the last call.
#[pyclass(frozen, module = "granian._native")]
struct Drain {
    inner: Arc<Inner>,
    spare: Mutex<Vec<Job>>,
}

#[pymethods]
impl Drain {
    fn __call__(&self, py: Python<'_>) {
        self.inner.consume_signal();
        let mut batch = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        {
            let mut queue = self.inner.queue.lock().unwrap_or_else(PoisonError::into_inner);
            std::mem::swap(&mut *queue, &mut *batch);
        }
        for job in batch.drain(..) {
            job(py);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::PyDict;
    use std::sync::atomic::AtomicUsize;

    /// A fresh asyncio loop in `locals` (`loop`, and `done`, a future of it), with a handle.
    fn new_loop(py: Python<'_>) -> (Bound<'_, PyDict>, LoopHandle, Py<PyAny>) {
        let locals = PyDict::new(py);
        py.run(
            c"import asyncio\nloop = asyncio.new_event_loop()\ndone = loop.create_future()",
            None,
            Some(&locals),
        )
        .unwrap();
        let event_loop = locals.get_item("loop").unwrap().unwrap();
        let handle = LoopHandle::new(py, &event_loop).unwrap();
        let done = locals.get_item("done").unwrap().unwrap().unbind();
        (locals, handle, done)
    }

    #[test]
    fn jobs_from_runtime_tasks_reach_the_loop() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        jobs_from_tasks_reach_the_loop(runtime.handle());
    }

    /// On a single-threaded runtime its own thread drives, the wake-up is deferred as on a
    /// multi-threaded one: every job still reaches the loop, the last one included.
    #[test]
    fn jobs_from_single_threaded_runtime_tasks_reach_the_loop() {
        let runtimes = granian_serve::Runtimes::new(granian_serve::RuntimeSettings {
            mode: granian_serve::RuntimeMode::SingleThread,
            threads: 1,
            max_blocking_threads: None,
        })
        .unwrap();
        jobs_from_tasks_reach_the_loop(runtimes.handle());
    }

    /// 100 jobs scheduled from a task on `runtime`, one at a time, then one that ends the loop.
    fn jobs_from_tasks_reach_the_loop(runtime: &tokio::runtime::Handle) {
        Python::attach(|py| {
            let (locals, handle, done) = new_loop(py);
            let ran = Arc::new(AtomicUsize::new(0));
            let scheduled = {
                let handle = handle.clone();
                let ran = Arc::clone(&ran);
                runtime.spawn(async move {
                    for _ in 0..100 {
                        let ran = Arc::clone(&ran);
                        handle.schedule(Box::new(move |_py| {
                            ran.fetch_add(1, Ordering::Relaxed);
                        }));
                        tokio::task::yield_now().await;
                    }
                    let waiter = Arc::clone(&ran);
                    handle.schedule(Box::new(move |py| {
                        assert_eq!(waiter.load(Ordering::Relaxed), 100);
                        crate::resolve(py, done.bind(py), py.None()).unwrap();
                    }));
                })
            };
            py.run(c"loop.run_until_complete(done)", None, Some(&locals)).unwrap();
            assert_eq!(ran.load(Ordering::Relaxed), 100);
            py.detach(|| {
                let (tx, rx) = std::sync::mpsc::channel();
                runtime.spawn(async move {
                    let _ = tx.send(scheduled.await.is_ok());
                });
                assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(5)), Ok(true));
            });
            handle.close(py).unwrap();
            py.run(c"loop.close()", None, Some(&locals)).unwrap();
        });
    }

    #[test]
    fn jobs_from_other_threads_run_on_the_loop() {
        Python::attach(|py| {
            let (locals, handle, done) = new_loop(py);
            let ran = Arc::new(AtomicUsize::new(0));
            py.detach(|| {
                let threads: Vec<_> = (0..4)
                    .map(|_| {
                        let handle = handle.clone();
                        let ran = Arc::clone(&ran);
                        std::thread::spawn(move || {
                            for _ in 0..250 {
                                let ran = Arc::clone(&ran);
                                handle.schedule(Box::new(move |_py| {
                                    ran.fetch_add(1, Ordering::Relaxed);
                                }));
                            }
                        })
                    })
                    .collect();
                for thread in threads {
                    thread.join().unwrap();
                }
            });
            let waiter = Arc::clone(&ran);
            handle.schedule(Box::new(move |py| {
                assert_eq!(waiter.load(Ordering::Relaxed), 1000);
                crate::resolve(py, done.bind(py), py.None()).unwrap();
            }));
            py.run(c"loop.run_until_complete(done)", None, Some(&locals)).unwrap();
            assert_eq!(ran.load(Ordering::Relaxed), 1000);
            handle.close(py).unwrap();
            handle.schedule(Box::new(|_py| panic!("ran after close")));
            py.run(c"loop.close()", None, Some(&locals)).unwrap();
        });
    }
}
