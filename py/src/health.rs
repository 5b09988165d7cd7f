//! The application-level readiness check (`ready_check`) as the health layer runs it: the
//! worker hands the server a Python callable, `runner(reply)`, that starts the application's
//! check on the worker's event loop and calls `reply(ready)` once it has an answer. The layer
//! bounds the wait and reuses results (`granian_health::Readiness`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use granian_health::ReadyCheck;
use pyo3::prelude::*;
use tokio::sync::oneshot;

/// Starts the Python check; held in an `Arc` so that no GIL is needed to share it.
pub(crate) struct PyReadyCheck {
    runner: Arc<Py<PyAny>>,
}

impl PyReadyCheck {
    pub(crate) fn new(runner: Py<PyAny>) -> Self {
        Self {
            runner: Arc::new(runner),
        }
    }
}

impl ReadyCheck for PyReadyCheck {
    fn check(&self) -> Pin<Box<dyn Future<Output = bool> + Send>> {
        let runner = Arc::clone(&self.runner);
        Box::pin(async move {
            let (sender, receiver) = oneshot::channel();
            // Waiting for the GIL is a blocking wait: not on a runtime thread.
            let started = tokio::task::spawn_blocking(move || {
                Python::attach(|py| {
                    let reply = ReadyReply {
                        sender: Mutex::new(Some(sender)),
                    };
                    runner.call1(py, (reply,)).is_ok()
                })
            })
            .await;
            // A reply dropped unanswered (the loop closed) is no answer: not ready.
            matches!(started, Ok(true)) && receiver.await.unwrap_or(false)
        })
    }
}

/// The callable a readiness check answers through, once.
#[pyclass(frozen, module = "granian._native")]
struct ReadyReply {
    sender: Mutex<Option<oneshot::Sender<bool>>>,
}

#[pymethods]
impl ReadyReply {
    fn __call__(&self, ready: bool) {
        let sender = self.sender.lock().ok().and_then(|mut sender| sender.take());
        if let Some(sender) = sender {
            let _ = sender.send(ready);
        }
    }
}
