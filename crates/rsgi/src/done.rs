use std::sync::Arc;

use granian_aiobridge::TaskOutcome;
use pyo3::prelude::*;

use crate::handler::Shared;
use crate::protocol::RsgiProtocol;

/// The done-callback of a request's task: ends a streamed response, turns an exception or a
/// missing response into a 500 (or a cut-off body) and logs it.
#[pyclass(frozen, module = "granian._native")]
pub(crate) struct RequestDone {
    shared: Arc<Shared>,
    protocol: Py<RsgiProtocol>,
}

impl RequestDone {
    pub(crate) fn new(shared: &Arc<Shared>, protocol: Py<RsgiProtocol>) -> Self {
        Self {
            shared: Arc::clone(shared),
            protocol,
        }
    }
}

#[pymethods]
impl RequestDone {
    fn __call__(&self, py: Python<'_>, task: &Bound<'_, PyAny>) -> PyResult<()> {
        let context = &self.shared.context;
        let mut protocol = self.protocol.bind(py).try_borrow_mut()?;
        match context.task_outcome(py, task)? {
            TaskOutcome::Cancelled => {
                if protocol.is_pending() {
                    context.log_error(py, "Application task cancelled before sending a response", None);
                }
                protocol.fail();
            }
            TaskOutcome::Raised => protocol.fail(),
            TaskOutcome::Returned if protocol.is_pending() => {
                context.log_error(py, "RSGI application returned without sending a response", None);
                protocol.fail();
            }
            TaskOutcome::Returned => protocol.finish(),
        }
        Ok(())
    }
}
