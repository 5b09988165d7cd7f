use std::sync::Arc;

use granian_aiobridge::{BodyEvent, Read, Ready, RequestBody, resolve};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::handler::Shared;

/// The ASGI message for what a read of the body gave.
fn message(py: Python<'_>, event: BodyEvent) -> PyResult<Py<PyAny>> {
    let message = PyDict::new(py);
    match event {
        BodyEvent::Chunk { data, more } => {
            message.set_item(intern!(py, "type"), intern!(py, "http.request"))?;
            message.set_item(intern!(py, "body"), PyBytes::new(py, &data))?;
            message.set_item(intern!(py, "more_body"), more)?;
        }
        // ASGI reads chunk by chunk, never whole: a read past a limit cannot happen here.
        BodyEvent::Disconnected | BodyEvent::TooLarge { .. } => {
            message.set_item(intern!(py, "type"), intern!(py, "http.disconnect"))?;
        }
    }
    Ok(message.into_any().unbind())
}

fn deliver(py: Python<'_>, future: &Bound<'_, PyAny>, event: BodyEvent) {
    if let Ok(message) = message(py, event) {
        let _ = resolve(py, future, message);
    }
}

/// The `receive` callable handed to the application: `http.request` messages until the body
/// ends, then `http.disconnect` once the client leaves or the response is complete.
#[pyclass(frozen, module = "granian._native", name = "ASGIReceive")]
pub(crate) struct AsgiReceive {
    body: Arc<RequestBody>,
    shared: Arc<Shared>,
}

impl AsgiReceive {
    pub(crate) fn new(body: Arc<RequestBody>, shared: Arc<Shared>) -> Self {
        Self { body, shared }
    }
}

#[pymethods]
impl AsgiReceive {
    fn __call__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.body.next(py, &self.shared.context, deliver)? {
            Read::Now(event) => Ok(Ready::new_object(py, message(py, event)?)?.into_any()),
            Read::Later(future) => Ok(future),
        }
    }
}
