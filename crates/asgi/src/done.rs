use std::sync::Arc;
use std::time::Instant;

use granian_serve::ConnInfo;
use http::Version;
use http::request::Parts;
use pyo3::intern;
use pyo3::prelude::*;

use crate::handler::Shared;
use crate::send::AsgiSend;

/// What the access log needs of a request, captured only when the log is on.
struct AccessEntry {
    client: String,
    method: String,
    path: String,
    query: String,
    protocol: &'static str,
}

/// The done-callback of a request's task: turns an exception or a missing response into a
/// 500 (or a cut-off body), logs it, and writes the access log line.
#[pyclass(frozen, module = "granian._native")]
pub(crate) struct RequestDone {
    shared: Arc<Shared>,
    send: Py<AsgiSend>,
    started: Instant,
    access: Option<AccessEntry>,
}

impl RequestDone {
    pub(crate) fn new(
        _py: Python<'_>,
        shared: &Arc<Shared>,
        send: Py<AsgiSend>,
        parts: &Parts,
        conn: &ConnInfo,
        started: Instant,
    ) -> Self {
        let access = shared.access_log.as_ref().map(|_| AccessEntry {
            client: conn.peer.to_string(),
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or("").to_owned(),
            protocol: match parts.version {
                Version::HTTP_10 => "HTTP/1.0",
                Version::HTTP_2 => "HTTP/2",
                _ => "HTTP/1.1",
            },
        });
        Self {
            shared: Arc::clone(shared),
            send,
            started,
            access,
        }
    }
}

#[pymethods]
impl RequestDone {
    fn __call__(&self, py: Python<'_>, task: &Bound<'_, PyAny>) -> PyResult<()> {
        let cache = &self.shared.cache;
        let mut send = self.send.bind(py).borrow_mut();
        if task.call_method0(intern!(py, "cancelled"))?.is_truthy()? {
            if !send.is_complete() {
                cache.log_error(py, "Application task cancelled before completing its response", None);
            }
            send.fail();
        } else if let Some(exc) = Some(task.call_method0(intern!(py, "exception"))?).filter(|e| !e.is_none()) {
            cache.log_error(py, "Application exception", Some(&exc));
            send.fail();
        } else if !send.is_complete() {
            cache.log_error(py, "ASGI application returned without completing its response", None);
            send.fail();
        }
        let status = send.status();
        drop(send);
        if let (Some(log), Some(entry)) = (&self.shared.access_log, &self.access) {
            let elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0;
            let args = (
                entry.client.as_str(),
                entry.method.as_str(),
                entry.path.as_str(),
                entry.query.as_str(),
                entry.protocol,
                status,
                elapsed_ms,
            );
            if let Err(err) = log.bind(py).call1(args) {
                cache.log_error(py, "Access log failed", Some(err.value(py).as_any()));
            }
        }
        Ok(())
    }
}
