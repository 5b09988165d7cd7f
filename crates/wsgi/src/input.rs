use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use granian_serve::IncomingBody;
use http_body::Body;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use tokio::runtime::Handle;

use crate::error::Error;
use crate::handler::Waits;

/// `wsgi.input`: the request body, read from the connection only as the application asks for
/// it, so an unread upload is never buffered and a slow reader slows the client down. Reads
/// wait for the client without the GIL. `wsgi.input_terminated` is true: reading until `b''`
/// is safe whatever `CONTENT_LENGTH` says, chunked uploads included.
#[pyclass(module = "granian._native", name = "WSGIInput")]
pub(crate) struct WsgiInput {
    /// The body still to come from the client; `None` once it ended. Methods take `&mut self`
    /// (pyo3 refuses a second borrow from another thread), so the mutex, there to make the
    /// class `Sync`, is never contended.
    body: Option<Mutex<IncomingBody>>,
    /// Received and not read yet.
    pending: Bytes,
    runtime: Handle,
    /// Told when a read waits on the client.
    waits: Option<Waits>,
    /// Why the body broke off; every later read raises it again.
    failed: Option<String>,
}

impl WsgiInput {
    /// `head` is what arrived of the body before the application was called, `body` the rest;
    /// a read that has to wait for the client tells `waits`.
    pub(crate) fn new(head: Bytes, body: Option<IncomingBody>, runtime: Handle, waits: Option<Waits>) -> Self {
        Self {
            body: body.map(Mutex::new),
            pending: head,
            runtime,
            waits,
            failed: None,
        }
    }

    /// What is left of the body once the application is done; later reads see its end.
    pub(crate) fn take_body(&mut self) -> Option<IncomingBody> {
        self.pending = Bytes::new();
        self.body
            .take()
            .map(|body| body.into_inner().unwrap_or_else(PoisonError::into_inner))
    }

    /// Wait for the next piece of the body into `pending`; `false` at its end.
    fn fill(&mut self, py: Python<'_>) -> PyResult<bool> {
        if let Some(reason) = &self.failed {
            return Err(Error::Input(reason.clone()).into());
        }
        loop {
            let Some(body) = self.body.as_mut() else {
                return Ok(false);
            };
            let incoming = body.get_mut().unwrap_or_else(PoisonError::into_inner);
            let runtime = &self.runtime;
            let waits = self.waits.as_ref();
            // This thread is not one of the runtime's, so it may block on it; the connection's
            // task keeps reading the socket meanwhile. Each wait is bounded by the body's read
            // timeout, past which the read fails.
            let frame = py.detach(|| {
                runtime.block_on(async {
                    let mut waiting = None;
                    std::future::poll_fn(|cx| {
                        let polled = Pin::new(&mut *incoming).poll_frame(cx);
                        if polled.is_pending() && waiting.is_none() {
                            waiting = waits.map(Waits::begin);
                        }
                        polled
                    })
                    .await
                })
            });
            match frame {
                None => {
                    self.body = None;
                    return Ok(false);
                }
                Some(Err(err)) => {
                    self.body = None;
                    let reason = err.to_string();
                    self.failed = Some(reason.clone());
                    return Err(Error::Input(reason).into());
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        self.pending = data;
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// Up to `limit` bytes (all that is left without one), fewer only at the end of the body.
    fn take(&mut self, py: Python<'_>, limit: Option<usize>) -> PyResult<Vec<Bytes>> {
        let mut pieces = Vec::new();
        let mut taken = 0;
        loop {
            let want = limit.map_or(usize::MAX, |limit| limit - taken);
            if want == 0 || (self.pending.is_empty() && !self.fill(py)?) {
                return Ok(pieces);
            }
            let piece = self.pending.split_to(want.min(self.pending.len()));
            taken += piece.len();
            pieces.push(piece);
        }
    }

    /// Up to and including the next `\n`, at most `limit` bytes.
    fn take_line(&mut self, py: Python<'_>, limit: Option<usize>) -> PyResult<Vec<Bytes>> {
        let mut pieces = Vec::new();
        let mut taken = 0;
        loop {
            let want = limit.map_or(usize::MAX, |limit| limit - taken);
            if want == 0 || (self.pending.is_empty() && !self.fill(py)?) {
                return Ok(pieces);
            }
            let window = want.min(self.pending.len());
            let newline = self.pending[..window].iter().position(|&byte| byte == b'\n');
            let piece = self.pending.split_to(newline.map_or(window, |at| at + 1));
            taken += piece.len();
            pieces.push(piece);
            if newline.is_some() {
                return Ok(pieces);
            }
        }
    }
}

/// A size argument as file objects take it: `None` or negative means no limit.
fn limit(size: Option<isize>) -> Option<usize> {
    size.and_then(|size| usize::try_from(size).ok())
}

fn to_py<'py>(py: Python<'py>, pieces: &[Bytes]) -> PyResult<Bound<'py, PyBytes>> {
    if let [piece] = pieces {
        return Ok(PyBytes::new(py, piece));
    }
    let total = pieces.iter().map(Bytes::len).sum();
    PyBytes::new_with(py, total, |buffer| {
        let mut at = 0;
        for piece in pieces {
            buffer[at..at + piece.len()].copy_from_slice(piece);
            at += piece.len();
        }
        Ok(())
    })
}

#[pymethods]
impl WsgiInput {
    /// `read(size=-1)`: `size` bytes, fewer only at the end of the body; all the rest without
    /// a size.
    #[pyo3(signature = (size = None))]
    fn read<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let pieces = self.take(py, limit(size))?;
        to_py(py, &pieces)
    }

    /// `readline(size=-1)`: the next line with its `\n`, cut at `size` bytes.
    #[pyo3(signature = (size = None))]
    fn readline<'py>(&mut self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let pieces = self.take_line(py, limit(size))?;
        to_py(py, &pieces)
    }

    /// `readlines(hint=-1)`: the remaining lines; with a positive `hint`, stops once the lines
    /// read add up to `hint` bytes.
    #[pyo3(signature = (hint = None))]
    fn readlines<'py>(&mut self, py: Python<'py>, hint: Option<isize>) -> PyResult<Bound<'py, PyList>> {
        let hint = limit(hint).filter(|&hint| hint > 0);
        let lines = PyList::empty(py);
        let mut total = 0;
        loop {
            let pieces = self.take_line(py, None)?;
            if pieces.is_empty() {
                return Ok(lines);
            }
            total += pieces.iter().map(Bytes::len).sum::<usize>();
            lines.append(to_py(py, &pieces)?)?;
            if hint.is_some_and(|hint| total >= hint) {
                return Ok(lines);
            }
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let pieces = self.take_line(py, None)?;
        if pieces.is_empty() {
            return Ok(None);
        }
        to_py(py, &pieces).map(Some)
    }
}
