use std::sync::Arc;

use granian_aiobridge::TaskOutcome;
use pyo3::prelude::*;

use crate::handler::Shared;
use crate::send::AsgiSend;

/// The done-callback of a request's task: turns an exception or a missing response into a
/// 500 (or a cut-off body) and logs it.
#[pyclass(frozen, module = "granian._native")]
pub(crate) struct RequestDone {
    shared: Arc<Shared>,
    send: Py<AsgiSend>,
}

impl RequestDone {
    pub(crate) fn new(shared: &Arc<Shared>, send: Py<AsgiSend>) -> Self {
        Self {
            shared: Arc::clone(shared),
            send,
        }
    }
}

#[pymethods]
impl RequestDone {
    fn __call__(&self, py: Python<'_>, task: &Bound<'_, PyAny>) -> PyResult<()> {
        let context = &self.shared.context;
        let mut send = self.send.bind(py).borrow_mut();
        match context.task_outcome(py, task)? {
            TaskOutcome::Cancelled => {
                if !send.is_complete() {
                    context.log_error(py, "Application task cancelled before completing its response", None);
                }
                send.fail();
            }
            TaskOutcome::Raised => send.fail(),
            TaskOutcome::Returned if !send.is_complete() => {
                context.log_error(py, "ASGI application returned without completing its response", None);
                send.fail();
            }
            TaskOutcome::Returned => {}
        }
        Ok(())
    }
}
