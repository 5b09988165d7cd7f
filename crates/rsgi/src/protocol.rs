use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use granian_aiobridge::{
    BodyEvent, FileBody, LoopContext, Read, Ready, RequestBody, Responder, TaskOutcome, must_fail, reject, resolve,
    respond_with_file,
};
use granian_pyconv::bytes_from_str;
use granian_serve::{ResponseBody, StreamSender, error_response, payload_too_large};
use http::request::Parts;
use http::{Response, StatusCode, Version, header};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use tokio::sync::oneshot;

use crate::error::Error;
use crate::handler::Shared;
use crate::response::{body_bytes, response_head};

/// Chunks a streamed response may queue before `send_bytes` waits for the client.
const STREAM_CAPACITY: usize = 4;

/// The sender of a streamed response, shared by the protocol (which ends the stream when the
/// application's task finishes) and the transport the application writes to.
struct StreamSlot(Mutex<Option<StreamSender>>);

impl StreamSlot {
    fn lock(&self) -> MutexGuard<'_, Option<StreamSender>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

enum Responding {
    /// Nothing sent yet.
    Pending(oneshot::Sender<Response<ResponseBody>>),
    /// A streamed response, fed through a transport.
    Streaming(Arc<StreamSlot>),
    /// A complete response was handed over.
    Sent,
}

/// How the application reads the request body: whole, or as an async iterator; not both.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyUse {
    Unread,
    Whole,
    Iterating,
}

fn disconnected() -> PyErr {
    Error::Disconnected.into()
}

fn too_large(limit: usize) -> PyErr {
    Error::BodyTooLarge { limit }.into()
}

fn deliver_whole(py: Python<'_>, future: &Bound<'_, PyAny>, event: BodyEvent) {
    let _ = match event {
        BodyEvent::Chunk { data, .. } => resolve(py, future, PyBytes::new(py, &data).into_any().unbind()),
        BodyEvent::Disconnected => reject(py, future, &disconnected()),
        BodyEvent::TooLarge { limit } => reject(py, future, &too_large(limit)),
    };
}

fn deliver_chunk(py: Python<'_>, future: &Bound<'_, PyAny>, event: BodyEvent) {
    let _ = match event {
        BodyEvent::Chunk { data, more: false } if data.is_empty() => {
            reject(py, future, &PyStopAsyncIteration::new_err(()))
        }
        BodyEvent::Chunk { data, .. } => resolve(py, future, PyBytes::new(py, &data).into_any().unbind()),
        // Iterating is never limited; only a whole read is.
        BodyEvent::Disconnected | BodyEvent::TooLarge { .. } => reject(py, future, &disconnected()),
    };
}

/// What the request head says about its body, for a whole read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyHead {
    /// The length it declared (`content-length`).
    declared: Option<u64>,
    /// Whether a refusal closes the connection: on HTTP/1.x the rest of the body stays unread.
    close: bool,
}

impl BodyHead {
    pub(crate) fn of(parts: &Parts) -> Self {
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse().ok());
        Self {
            declared,
            close: parts.version < Version::HTTP_2,
        }
    }
}

/// The protocol object an application gets for one HTTP request: reads the request body,
/// sends one response.
#[pyclass(module = "granian._native", name = "RSGIHTTPProtocol")]
pub(crate) struct RsgiProtocol {
    shared: Arc<Shared>,
    body: Arc<RequestBody>,
    head: BodyHead,
    responding: Responding,
    body_use: BodyUse,
    /// The request is a `HEAD`: files are measured, not read.
    head_only: bool,
}

impl RsgiProtocol {
    pub(crate) fn new(
        shared: Arc<Shared>,
        body: Arc<RequestBody>,
        respond: oneshot::Sender<Response<ResponseBody>>,
        head: BodyHead,
        head_only: bool,
    ) -> Self {
        Self {
            shared,
            body,
            head,
            responding: Responding::Pending(respond),
            body_use: BodyUse::Unread,
            head_only,
        }
    }

    /// Whether no response was started.
    fn is_pending(&self) -> bool {
        matches!(self.responding, Responding::Pending(_))
    }

    /// A 500 if nothing was sent yet (413 when a whole read of the body was refused), otherwise
    /// a streamed body is cut short so the client sees an incomplete response.
    fn fail(&mut self) {
        match std::mem::replace(&mut self.responding, Responding::Sent) {
            Responding::Pending(respond) => {
                let response = if self.body.too_large() {
                    payload_too_large(self.head.close)
                } else {
                    error_response(StatusCode::INTERNAL_SERVER_ERROR)
                };
                let _ = respond.send(response);
            }
            Responding::Streaming(slot) => {
                if let Some(sender) = slot.lock().take() {
                    self.shared.context.abort_stream(&sender);
                }
            }
            Responding::Sent => {}
        }
    }

    /// Claim the response (once the head to send is validated).
    fn claim(&mut self) -> PyResult<oneshot::Sender<Response<ResponseBody>>> {
        match std::mem::replace(&mut self.responding, Responding::Sent) {
            Responding::Pending(respond) => Ok(respond),
            other => {
                self.responding = other;
                Err(Error::AlreadyResponded.into())
            }
        }
    }

    fn ensure_unsent(&self) -> PyResult<()> {
        if self.is_pending() {
            Ok(())
        } else {
            Err(Error::AlreadyResponded.into())
        }
    }

    /// Send a complete response. A client already gone is not the application's error: the
    /// response is dropped.
    fn respond(&mut self, head: Response<()>, body: ResponseBody) -> PyResult<()> {
        let respond = self.claim()?;
        let _ = respond.send(head.map(|()| body));
        // The exchange is over for the application: the request body can no longer be read.
        self.body.disconnect();
        Ok(())
    }

    fn ensure_readable(&self) -> PyResult<()> {
        if matches!(self.responding, Responding::Sent) {
            return Err(Error::ResponseComplete.into());
        }
        Ok(())
    }
}

impl Responder for RsgiProtocol {
    const SETUP_FAILED: &'static str = "RSGI request setup failed";

    fn context(&self) -> &LoopContext {
        &self.shared.context
    }

    /// A streamed response ends cleanly when the task returned; an exception, a cancellation or
    /// a return without a response fails it.
    fn finished(&mut self, py: Python<'_>, outcome: TaskOutcome) {
        let unanswered = self.is_pending();
        let cancelled = "Application task cancelled before sending a response";
        let returned = "RSGI application returned without sending a response";
        if must_fail(py, &self.shared.context, outcome, unanswered, cancelled, returned) {
            self.fail();
        } else if let Responding::Streaming(slot) = &self.responding {
            slot.lock().take();
        }
    }
}

#[pymethods]
impl RsgiProtocol {
    /// `await protocol()`: the whole request body as bytes.
    fn __call__(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.ensure_readable()?;
        if self.body_use != BodyUse::Unread {
            return Err(Error::BodyConsumed.into());
        }
        self.body_use = BodyUse::Whole;
        // Whole bodies are held in memory: one beyond the limit is refused, and the application
        // that lets the error through answers 413.
        let limit = self.shared.max_body_buffer_size;
        if self.head.declared.is_some_and(|length| length > limit as u64) {
            self.body.refuse_whole();
            return Err(too_large(limit));
        }
        match self.body.whole(py, &self.shared.context, deliver_whole, Some(limit))? {
            Read::Now(BodyEvent::Chunk { data, .. }) => {
                Ok(Ready::new_object(py, PyBytes::new(py, &data).into_any().unbind())?.into_any())
            }
            Read::Now(BodyEvent::Disconnected) => Err(disconnected()),
            Read::Now(BodyEvent::TooLarge { limit }) => Err(too_large(limit)),
            Read::Later(future) => Ok(future),
        }
    }

    /// `async for chunk in protocol`: the request body in chunks, as they arrive.
    fn __aiter__(mut slf: PyRefMut<'_, Self>) -> PyResult<PyRefMut<'_, Self>> {
        slf.ensure_readable()?;
        if slf.body_use == BodyUse::Whole {
            return Err(Error::BodyConsumed.into());
        }
        slf.body_use = BodyUse::Iterating;
        Ok(slf)
    }

    fn __anext__(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.body_use == BodyUse::Whole {
            return Err(Error::BodyConsumed.into());
        }
        self.body_use = BodyUse::Iterating;
        if self.body.end_delivered() {
            return Err(PyStopAsyncIteration::new_err(()));
        }
        self.ensure_readable()?;
        match self.body.next(py, &self.shared.context, deliver_chunk)? {
            Read::Now(BodyEvent::Chunk { data, more: false }) if data.is_empty() => {
                Err(PyStopAsyncIteration::new_err(()))
            }
            Read::Now(BodyEvent::Chunk { data, .. }) => {
                Ok(Ready::new_object(py, PyBytes::new(py, &data).into_any().unbind())?.into_any())
            }
            Read::Now(BodyEvent::Disconnected | BodyEvent::TooLarge { .. }) => Err(disconnected()),
            Read::Later(future) => Ok(future),
        }
    }

    /// An awaitable that completes once the client has gone away (or the response is complete).
    fn client_disconnect(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.body.disconnected(py, &self.shared.context)
    }

    #[pyo3(signature = (status = 200, headers = None))]
    fn response_empty(&mut self, status: i64, headers: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.ensure_unsent()?;
        let head = response_head(status, headers)?;
        self.respond(head, ResponseBody::empty())
    }

    #[pyo3(signature = (status = 200, headers = None, body = None))]
    fn response_str(
        &mut self,
        status: i64,
        headers: Option<&Bound<'_, PyAny>>,
        body: Option<&Bound<'_, PyString>>,
    ) -> PyResult<()> {
        self.ensure_unsent()?;
        let head = response_head(status, headers)?;
        let body = match body {
            Some(text) => bytes_from_str(text)?,
            None => Bytes::new(),
        };
        self.respond(head, ResponseBody::full(body))
    }

    #[pyo3(signature = (status = 200, headers = None, body = None))]
    fn response_bytes(
        &mut self,
        status: i64,
        headers: Option<&Bound<'_, PyAny>>,
        body: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.ensure_unsent()?;
        let head = response_head(status, headers)?;
        let body = match body {
            Some(body) => body_bytes(body, "body")?,
            None => Bytes::new(),
        };
        self.respond(head, ResponseBody::full(body))
    }

    /// Send the file at `file`, read as the client takes it. The application sets the
    /// content headers; `content-length` is the file's size.
    fn response_file(&mut self, status: i64, headers: Option<&Bound<'_, PyAny>>, file: PathBuf) -> PyResult<()> {
        self.ensure_unsent()?;
        let head = response_head(status, headers)?;
        let respond = self.claim()?;
        let file = FileBody {
            path: file,
            range: None,
            head_only: self.head_only,
        };
        respond_with_file(&self.shared, respond, head, file);
        self.body.disconnect();
        Ok(())
    }

    /// Send bytes `start` (inclusive) to `end` (exclusive) of the file at `file`; a range past
    /// the end of the file stops at the end.
    fn response_file_range(
        &mut self,
        status: i64,
        headers: Option<&Bound<'_, PyAny>>,
        file: PathBuf,
        start: u64,
        end: u64,
    ) -> PyResult<()> {
        self.ensure_unsent()?;
        if start >= end {
            return Err(Error::BadRange { start, end }.into());
        }
        let head = response_head(status, headers)?;
        let respond = self.claim()?;
        let file = FileBody {
            path: file,
            range: Some((start, end)),
            head_only: self.head_only,
        };
        respond_with_file(&self.shared, respond, head, file);
        self.body.disconnect();
        Ok(())
    }

    /// Start a streamed response; the returned transport sends its body. The response ends
    /// when the application's task does.
    #[pyo3(signature = (status = 200, headers = None))]
    fn response_stream(
        &mut self,
        py: Python<'_>,
        status: i64,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<RsgiTransport>> {
        self.ensure_unsent()?;
        let head = response_head(status, headers)?;
        let respond = self.claim()?;
        let (sender, body) = ResponseBody::channel(STREAM_CAPACITY);
        let slot = Arc::new(StreamSlot(Mutex::new(Some(sender))));
        // A client already gone drops the body with the response; the transport then finds
        // its sender closed and says so on the first send.
        let _ = respond.send(head.map(|()| body));
        self.responding = Responding::Streaming(Arc::clone(&slot));
        Py::new(
            py,
            RsgiTransport {
                slot,
                shared: Arc::clone(&self.shared),
            },
        )
    }
}

/// Sends the body of a streamed response. Each send waits while the client is behind, so the
/// server never holds more than a few chunks of it.
#[pyclass(frozen, module = "granian._native", name = "RSGIHTTPStreamTransport")]
pub(crate) struct RsgiTransport {
    slot: Arc<StreamSlot>,
    shared: Arc<Shared>,
}

impl RsgiTransport {
    fn send(&self, py: Python<'_>, chunk: Bytes) -> PyResult<Py<PyAny>> {
        let slot = self.slot.lock();
        let Some(sender) = slot.as_ref() else {
            return Err(Error::StreamClosed.into());
        };
        if sender.is_closed() {
            return Err(disconnected());
        }
        if chunk.is_empty() {
            return Ok(self.shared.context.done(py));
        }
        self.shared.context.send_chunk(py, sender, chunk, disconnected)
    }
}

#[pymethods]
impl RsgiTransport {
    fn send_bytes(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let chunk = body_bytes(data, "data")?;
        self.send(py, chunk)
    }

    fn send_str(&self, py: Python<'_>, data: &Bound<'_, PyString>) -> PyResult<Py<PyAny>> {
        let chunk = bytes_from_str(data)?;
        self.send(py, chunk)
    }
}
