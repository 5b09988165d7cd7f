use std::sync::{Mutex, PoisonError};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// The `granian.wsgi` logger: application errors, their tracebacks, and `wsgi.errors`.
pub(crate) struct Logger {
    logger: Py<PyAny>,
}

impl Logger {
    pub(crate) fn new(py: Python<'_>) -> PyResult<Self> {
        Ok(Self {
            logger: py
                .import("logging")?
                .call_method1("getLogger", ("granian.wsgi",))?
                .unbind(),
        })
    }

    /// Log `message` at error level, with `exc` as its traceback.
    pub(crate) fn error(&self, py: Python<'_>, message: &str, exc: Option<&Bound<'_, PyAny>>) {
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

    /// Log `message` with the traceback of `err`.
    pub(crate) fn exception(&self, py: Python<'_>, message: &str, err: PyErr) {
        // `into_value` attaches the traceback to the exception, where logging looks for it.
        let exc = err.into_value(py);
        self.error(py, message, Some(exc.bind(py).as_any()));
    }

    fn clone_ref(&self, py: Python<'_>) -> Self {
        Self {
            logger: self.logger.clone_ref(py),
        }
    }
}

/// `wsgi.errors`: a text stream whose lines go to the `granian.wsgi` logger at error level,
/// one record per line. A partial line waits for its end, a `flush()`, or the end of the
/// request.
#[pyclass(frozen, module = "granian._native", name = "WSGIErrors")]
pub(crate) struct WsgiErrors {
    logger: Logger,
    partial: Mutex<String>,
}

impl WsgiErrors {
    pub(crate) fn new(py: Python<'_>, logger: &Logger) -> Self {
        Self {
            logger: logger.clone_ref(py),
            partial: Mutex::new(String::new()),
        }
    }

    fn emit(&self, py: Python<'_>, lines: Vec<String>) {
        // Logged outside the lock: a handler may write to this stream again.
        for line in lines {
            self.logger.error(py, &line, None);
        }
    }
}

#[pymethods]
impl WsgiErrors {
    fn write(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<usize> {
        let text = text.to_str()?;
        let lines = {
            let mut partial = self.partial.lock().unwrap_or_else(PoisonError::into_inner);
            partial.push_str(text);
            let mut lines = Vec::new();
            while let Some(end) = partial.find('\n') {
                let line: String = partial.drain(..=end).collect();
                lines.push(line.trim_end_matches(['\r', '\n']).to_owned());
            }
            lines
        };
        self.emit(py, lines);
        Ok(text.chars().count())
    }

    fn writelines(&self, py: Python<'_>, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            let line = line?;
            self.write(py, line.cast::<PyString>()?)?;
        }
        Ok(())
    }

    pub(crate) fn flush(&self, py: Python<'_>) {
        let rest = std::mem::take(&mut *self.partial.lock().unwrap_or_else(PoisonError::into_inner));
        if !rest.is_empty() {
            self.emit(py, vec![rest]);
        }
    }
}
