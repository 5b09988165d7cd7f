use std::sync::Arc;

use granian_aiobridge::AccessEntry;
use pyo3::intern;
use pyo3::prelude::*;

use crate::handler::Shared;
use crate::protocol::RsgiProtocol;

/// The done-callback of a request's task: ends a streamed response, turns an exception or a
/// missing response into a 500 (or a cut-off body), logs it, and writes the access log line.
#[pyclass(frozen, module = "granian._native")]
pub(crate) struct RequestDone {
    shared: Arc<Shared>,
    protocol: Py<RsgiProtocol>,
    access: Option<AccessEntry>,
}

impl RequestDone {
    pub(crate) fn new(shared: &Arc<Shared>, protocol: Py<RsgiProtocol>, access: Option<AccessEntry>) -> Self {
        Self {
            shared: Arc::clone(shared),
            protocol,
            access,
        }
    }
}

#[pymethods]
impl RequestDone {
    fn __call__(&self, py: Python<'_>, task: &Bound<'_, PyAny>) -> PyResult<()> {
        let context = &self.shared.context;
        let mut protocol = self.protocol.bind(py).try_borrow_mut()?;
        if task.call_method0(intern!(py, "cancelled"))?.is_truthy()? {
            if protocol.is_pending() {
                context.log_error(py, "Application task cancelled before sending a response", None);
            }
            protocol.fail();
        } else if let Some(exc) = Some(task.call_method0(intern!(py, "exception"))?).filter(|e| !e.is_none()) {
            context.log_error(py, "Application exception", Some(&exc));
            protocol.fail();
        } else if protocol.is_pending() {
            context.log_error(py, "RSGI application returned without sending a response", None);
            protocol.fail();
        } else {
            protocol.finish();
        }
        let status = protocol.status();
        drop(protocol);
        if let (Some(log), Some(entry)) = (&self.shared.access_log, &self.access)
            && let Err(err) = entry.write(log.bind(py), status)
        {
            context.log_error(py, "Access log failed", Some(err.value(py).as_any()));
        }
        Ok(())
    }
}
