use bytes::Bytes;
use granian_serve::StreamSender;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{Done, LoopHandle, resolve};

/// How an application's task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOutcome {
    /// It returned.
    Returned,
    /// It raised (the exception is logged).
    Raised,
    /// It was cancelled.
    Cancelled,
}

/// What an interface needs of one server's asyncio loop, looked up once on the loop's thread
/// and shared by every request: the bridge, the tokio runtime that resumes waiting sends, the
/// loop's `create_task` and `create_future`, a reusable [`Done`] and the interface's logger.
pub struct LoopContext {
    handle: LoopHandle,
    runtime: tokio::runtime::Handle,
    create_task: Py<PyAny>,
    create_future: Py<PyAny>,
    done: Py<Done>,
    logger: Py<PyAny>,
}

impl LoopContext {
    /// Bridge to `event_loop` (call on its thread); errors are logged on the `logger` logger
    /// (`granian.asgi`, `granian.rsgi`, ...).
    pub fn new(
        py: Python<'_>,
        event_loop: &Bound<'_, PyAny>,
        runtime: tokio::runtime::Handle,
        logger: &str,
    ) -> PyResult<Self> {
        Ok(Self {
            handle: LoopHandle::new(py, event_loop)?,
            runtime,
            create_task: event_loop.getattr(intern!(py, "create_task"))?.unbind(),
            create_future: event_loop.getattr(intern!(py, "create_future"))?.unbind(),
            done: Done::new_object(py)?,
            logger: py
                .import("logging")?
                .call_method1(intern!(py, "getLogger"), (logger,))?
                .unbind(),
        })
    }

    /// The bridge to the loop.
    #[must_use]
    pub fn handle(&self) -> &LoopHandle {
        &self.handle
    }

    /// The runtime the server's connections run on.
    #[must_use]
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// A fresh pending future of the loop.
    pub fn future(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(self.create_future.bind(py).call0()?.unbind())
    }

    /// Run `coroutine` as a task of the loop.
    pub fn spawn_task<'py>(&self, py: Python<'py>, coroutine: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.create_task.bind(py).call1((coroutine,))
    }

    /// An awaitable that completes at once with `None`.
    #[must_use]
    pub fn done(&self, py: Python<'_>) -> Py<PyAny> {
        self.done.clone_ref(py).into_any()
    }

    /// How an application's task ended, read in its done callback. An exception is logged here
    /// with its traceback, so every interface reports it the same way.
    pub fn task_outcome(&self, py: Python<'_>, task: &Bound<'_, PyAny>) -> PyResult<TaskOutcome> {
        if task.call_method0(intern!(py, "cancelled"))?.is_truthy()? {
            return Ok(TaskOutcome::Cancelled);
        }
        let exc = task.call_method0(intern!(py, "exception"))?;
        if exc.is_none() {
            return Ok(TaskOutcome::Returned);
        }
        self.log_error(py, "Application exception", Some(&exc));
        Ok(TaskOutcome::Raised)
    }

    /// Log `message` at error level, with `exc` as its traceback.
    pub fn log_error(&self, py: Python<'_>, message: &str, exc: Option<&Bound<'_, PyAny>>) {
        let kwargs = PyDict::new(py);
        if let Some(exc) = exc {
            let _ = kwargs.set_item(intern!(py, "exc_info"), exc);
        }
        if self
            .logger
            .bind(py)
            .call_method(intern!(py, "error"), (message,), Some(&kwargs))
            .is_err()
        {
            // Logging itself failed (a broken handler): stderr is all that is left.
            eprintln!("[ERROR] {message}");
        }
    }

    /// End a streamed response as truncated; the connection still writes out what was queued
    /// before (see `ResponseBody`). Callable from the loop thread.
    pub fn abort_stream(&self, sender: &StreamSender) {
        // A full channel makes the abort wait on a task of the runtime.
        let _context = self.runtime.enter();
        sender.abort();
    }

    /// Queue `chunk` on a streamed response. The awaitable returned completes at once when
    /// there was room; otherwise it is a future resolved once the client has read enough to
    /// make room, so the application waits instead of the server buffering. A client already
    /// gone is `Err(closed())`; one that leaves while the future waits fails it with `closed()`.
    pub fn send_chunk(
        &self,
        py: Python<'_>,
        sender: &StreamSender,
        chunk: Bytes,
        closed: fn() -> PyErr,
    ) -> PyResult<Py<PyAny>> {
        let chunk = match sender.try_send(chunk) {
            Ok(()) => return Ok(self.done(py)),
            Err(Some(chunk)) => chunk,
            Err(None) => return Err(closed()),
        };
        let future = self.future(py)?;
        let waiter = future.clone_ref(py);
        let bridge = self.handle.clone();
        let sender = sender.clone();
        self.runtime.spawn(async move {
            let sent = sender.send(chunk).await;
            drop(sender);
            bridge.schedule(Box::new(move |py| {
                let waiter = waiter.bind(py);
                if sent {
                    let _ = resolve(py, waiter, py.None());
                } else {
                    let _ = reject(py, waiter, &closed());
                }
            }));
        });
        Ok(future)
    }
}

/// Fail an asyncio future with `err`, unless it is already done (cancelled by the
/// application, typically). Runs on the loop thread.
pub fn reject(py: Python<'_>, future: &Bound<'_, PyAny>, err: &PyErr) -> PyResult<()> {
    if future.call_method0(intern!(py, "done"))?.is_truthy()? {
        return Ok(());
    }
    future.call_method1(intern!(py, "set_exception"), (err.value(py),))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use granian_serve::ResponseBody;
    use http_body_util::BodyExt;
    use pyo3::exceptions::PyConnectionError;
    use pyo3::types::PyDict;

    fn closed() -> PyErr {
        PyConnectionError::new_err("gone")
    }

    #[test]
    fn send_chunk_waits_for_room_then_fails_once_the_client_is_gone() {
        Python::attach(|py| {
            let locals = PyDict::new(py);
            py.run(c"import asyncio\nloop = asyncio.new_event_loop()", None, Some(&locals))
                .unwrap();
            let event_loop = locals.get_item("loop").unwrap().unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let context = LoopContext::new(py, &event_loop, runtime.handle().clone(), "granian.test").unwrap();
            let (sender, mut body) = ResponseBody::channel(1);
            let first = context
                .send_chunk(py, &sender, Bytes::from_static(b"a"), closed)
                .unwrap();
            assert!(first.bind(py).is_instance_of::<Done>());
            // The channel is full: the second chunk waits for the client.
            let second = context
                .send_chunk(py, &sender, Bytes::from_static(b"b"), closed)
                .unwrap();
            assert!(!second.bind(py).is_instance_of::<Done>());
            let frames = runtime.block_on(async {
                let a = body.frame().await.unwrap().unwrap().into_data().unwrap();
                let b = body.frame().await.unwrap().unwrap().into_data().unwrap();
                (a, b)
            });
            assert_eq!(frames, (Bytes::from_static(b"a"), Bytes::from_static(b"b")));
            locals.set_item("f", second).unwrap();
            py.run(c"assert loop.run_until_complete(f) is None", None, Some(&locals))
                .unwrap();
            // Full again, then the client goes away: the waiting send fails.
            context
                .send_chunk(py, &sender, Bytes::from_static(b"c"), closed)
                .unwrap();
            let third = context
                .send_chunk(py, &sender, Bytes::from_static(b"d"), closed)
                .unwrap();
            drop(body);
            runtime.block_on(tokio::task::yield_now());
            locals.set_item("f", third).unwrap();
            py.run(
                c"
try:
    loop.run_until_complete(f)
    raise AssertionError('the send succeeded')
except ConnectionError as exc:
    assert str(exc) == 'gone'
",
                None,
                Some(&locals),
            )
            .unwrap();
            let err = context
                .send_chunk(py, &sender, Bytes::from_static(b"e"), closed)
                .unwrap_err();
            assert!(err.is_instance_of::<PyConnectionError>(py));
            context.handle().close(py).unwrap();
            py.run(c"loop.close()", None, Some(&locals)).unwrap();
        });
    }
}
