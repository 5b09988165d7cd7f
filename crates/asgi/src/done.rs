use std::sync::Arc;
use std::time::Instant;

use granian_aiobridge::AccessEntry;
use granian_serve::ConnInfo;
use http::request::Parts;
use pyo3::intern;
use pyo3::prelude::*;

use crate::handler::Shared;
use crate::send::AsgiSend;

/// The done-callback of a request's task: turns an exception or a missing response into a
/// 500 (or a cut-off body), logs it, and writes the access log line.
#[pyclass(frozen, module = "granian._native")]
pub(crate) struct RequestDone {
    shared: Arc<Shared>,
    send: Py<AsgiSend>,
    access: Option<AccessEntry>,
}

impl RequestDone {
    pub(crate) fn new(
        shared: &Arc<Shared>,
        send: Py<AsgiSend>,
        parts: &Parts,
        conn: &ConnInfo,
        started: Instant,
    ) -> Self {
        let access = shared
            .access_log
            .as_ref()
            .map(|_| AccessEntry::new(parts, conn, started));
        Self {
            shared: Arc::clone(shared),
            send,
            access,
        }
    }
}

#[pymethods]
impl RequestDone {
    fn __call__(&self, py: Python<'_>, task: &Bound<'_, PyAny>) -> PyResult<()> {
        let context = &self.shared.context;
        let mut send = self.send.bind(py).borrow_mut();
        if task.call_method0(intern!(py, "cancelled"))?.is_truthy()? {
            if !send.is_complete() {
                context.log_error(py, "Application task cancelled before completing its response", None);
            }
            send.fail();
        } else if let Some(exc) = Some(task.call_method0(intern!(py, "exception"))?).filter(|e| !e.is_none()) {
            context.log_error(py, "Application exception", Some(&exc));
            send.fail();
        } else if !send.is_complete() {
            context.log_error(py, "ASGI application returned without completing its response", None);
            send.fail();
        }
        let status = send.status();
        drop(send);
        if let (Some(log), Some(entry)) = (&self.shared.access_log, &self.access)
            && let Err(err) = entry.write(log.bind(py), status)
        {
            context.log_error(py, "Access log failed", Some(err.value(py).as_any()));
        }
        Ok(())
    }
}
