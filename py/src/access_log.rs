//! The Python end of the access log: the queue a worker's logging thread drains.

use std::io::Write;
use std::os::fd::FromRawFd;
use std::sync::Arc;
use std::time::Duration;

use granian_accesslog::{AccessLogSink, Format, LineQueue};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Lines a worker's queue holds before new ones are dropped (and counted).
const QUEUE_LINES: usize = 16_384;

/// The access log lines of one server, formatted by the runtime threads, waiting for the
/// worker's logging thread to write them through the `granian.access` logger.
#[pyclass(frozen, module = "granian._native")]
#[derive(Clone)]
pub(crate) struct AccessLogQueue {
    sink: Arc<AccessLogSink>,
}

/// Where an access log layer formatting with `format` writes: a bounded queue of its own.
pub(crate) fn sink(format: Format) -> Arc<AccessLogSink> {
    Arc::new(AccessLogSink::new(format, Arc::new(LineQueue::new(QUEUE_LINES))))
}

impl AccessLogQueue {
    /// The Python handle on `sink`'s queue.
    pub(crate) fn new(sink: Arc<AccessLogSink>) -> Self {
        Self { sink }
    }
}

#[pymethods]
impl AccessLogQueue {
    /// Raise `ValueError` if `format` does not compile, saying why.
    #[staticmethod]
    fn check(format: &str) -> PyResult<()> {
        Format::new(format, false).map_err(|err| PyValueError::new_err(err.to_string()))?;
        Ok(())
    }

    /// Every queued line, waiting up to `timeout` seconds (without the GIL) for the first one:
    /// an empty list after a timeout, `None` once the queue is closed and empty.
    fn drain(&self, py: Python<'_>, timeout: f64) -> Option<Vec<String>> {
        let timeout = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::MAX);
        let queue = Arc::clone(self.sink.queue());
        py.detach(move || queue.drain(timeout))
    }

    /// As `drain`, but the lines go straight to the file descriptor `fd`, each ended by a
    /// newline, in one write: returns how many there were, or `None` once the queue is closed
    /// and empty.
    fn drain_to(&self, py: Python<'_>, fd: i32, timeout: f64) -> PyResult<Option<usize>> {
        let timeout = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::MAX);
        let queue = Arc::clone(self.sink.queue());
        let written = py.detach(move || -> std::io::Result<Option<usize>> {
            let Some(lines) = queue.drain(timeout) else {
                return Ok(None);
            };
            let mut batch = String::with_capacity(lines.iter().map(|line| line.len() + 1).sum());
            for line in &lines {
                batch.push_str(line);
                batch.push('\n');
            }
            // SAFETY: `fd` is a descriptor the caller keeps open (the process's stderr); the
            // `File` borrowing it is never dropped, so it is not closed here.
            let mut out = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
            out.write_all(batch.as_bytes())?;
            Ok(Some(lines.len()))
        })?;
        Ok(written)
    }

    /// Refuse further lines; `drain` still returns those queued, then `None`.
    fn close(&self) {
        self.sink.queue().close();
    }

    /// Lines dropped so far because the queue was full.
    #[getter]
    fn dropped(&self) -> u64 {
        self.sink.queue().dropped()
    }
}
