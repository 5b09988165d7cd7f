use std::sync::Arc;

use bytes::Bytes;
use granian_aiobridge::{LoopContext, RequestBody, Responder, TaskOutcome, must_fail};
use granian_pyconv::bytes_from_py;
use granian_serve::{ResponseBody, StreamSender, error_response};
use http::header::{HeaderName, HeaderValue};
use http::{Response, StatusCode};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};
use tokio::sync::oneshot;

use crate::error::{ClientDisconnected, Error};
use crate::handler::Shared;

/// Chunks a streamed response may queue before `send` waits for the client.
const STREAM_CAPACITY: usize = 4;

enum State {
    /// Nothing sent yet.
    Pending(oneshot::Sender<Response<ResponseBody>>),
    /// `http.response.start` received; the head waits for the first body message.
    Started(oneshot::Sender<Response<ResponseBody>>, Response<()>),
    /// Streaming the body.
    Streaming(StreamSender),
    /// The response is complete, or was abandoned.
    Done,
}

/// The `send` callable handed to the application.
#[pyclass(module = "granian._native", name = "ASGISend")]
pub(crate) struct AsgiSend {
    state: State,
    io: Arc<RequestBody>,
    shared: Arc<Shared>,
}

impl AsgiSend {
    pub(crate) fn new(tx: oneshot::Sender<Response<ResponseBody>>, io: Arc<RequestBody>, shared: Arc<Shared>) -> Self {
        Self {
            state: State::Pending(tx),
            io,
            shared,
        }
    }

    /// Whether the application completed its response.
    fn is_complete(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// A 500 if nothing was sent yet, otherwise the body is cut short so the client sees an
    /// incomplete response.
    fn fail(&mut self) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Pending(tx) | State::Started(tx, _) => {
                let _ = tx.send(error_response(StatusCode::INTERNAL_SERVER_ERROR));
            }
            State::Streaming(sender) => self.shared.context.abort_stream(&sender),
            State::Done => {}
        }
    }

    fn start(&mut self, py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<()> {
        let State::Pending(tx) = std::mem::replace(&mut self.state, State::Done) else {
            return Err(unexpected("http.response.start", "after the response started").into());
        };
        let head = match response_head(py, message) {
            Ok(head) => head,
            Err(err) => {
                self.state = State::Pending(tx);
                return Err(err);
            }
        };
        self.state = State::Started(tx, head);
        Ok(())
    }

    fn body(&mut self, py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<Py<PyAny>> {
        let chunk = match message.get_item(intern!(py, "body"))? {
            Some(body) => body_bytes(&body)?,
            None => Bytes::new(),
        };
        let more = match message.get_item(intern!(py, "more_body"))? {
            Some(more) => more.is_truthy()?,
            None => false,
        };
        let done = || self.shared.context.done(py);
        match std::mem::replace(&mut self.state, State::Done) {
            State::Pending(tx) => {
                self.state = State::Pending(tx);
                Err(unexpected("http.response.body", "before http.response.start").into())
            }
            State::Started(tx, head) => {
                if more {
                    let (sender, body) = ResponseBody::channel(STREAM_CAPACITY);
                    if !chunk.is_empty() {
                        let _ = sender.try_send(chunk);
                    }
                    tx.send(head.map(|()| body)).map_err(|_| Error::Disconnected)?;
                    self.state = State::Streaming(sender);
                } else {
                    tx.send(head.map(|()| ResponseBody::full(chunk)))
                        .map_err(|_| Error::Disconnected)?;
                    self.io.disconnect();
                }
                Ok(done())
            }
            State::Streaming(sender) => {
                let waiting = self.shared.context.send_chunk(py, &sender, chunk, disconnected)?;
                if more {
                    self.state = State::Streaming(sender);
                } else {
                    self.io.disconnect();
                }
                Ok(waiting)
            }
            State::Done if self.io.is_disconnected() => Err(Error::Disconnected.into()),
            State::Done => Err(unexpected("http.response.body", "after the response completed").into()),
        }
    }
}

fn disconnected() -> PyErr {
    Error::Disconnected.into()
}

pub(crate) fn unexpected(kind: &str, when: &'static str) -> Error {
    Error::UnexpectedMessage {
        kind: kind.to_owned(),
        when,
    }
}

pub(crate) fn response_head(py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<Response<()>> {
    let status: i64 = message
        .get_item(intern!(py, "status"))?
        .ok_or_else(|| Error::BadMessage("http.response.start needs a 'status'".into()))?
        .extract()?;
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or(Error::BadStatus(status))?;
    let mut response = Response::new(());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(items) = message.get_item(intern!(py, "headers"))? {
        for item in items.try_iter()? {
            let item = item?;
            let name = item.get_item(0)?;
            let value = item.get_item(1)?;
            let name = name
                .cast::<PyBytes>()
                .map_err(|_| Error::BadMessage("header names must be bytes".into()))?
                .as_bytes();
            let value = value
                .cast::<PyBytes>()
                .map_err(|_| Error::BadMessage("header values must be bytes".into()))?
                .as_bytes();
            let bad = || Error::BadHeader {
                name: String::from_utf8_lossy(name).into_owned(),
            };
            let name = HeaderName::from_bytes(name).map_err(|_| bad())?;
            let value = HeaderValue::from_bytes(value).map_err(|_| bad())?;
            headers.append(name, value);
        }
    }
    Ok(response)
}

pub(crate) fn body_bytes(body: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(bytes) = body.cast::<PyBytes>() {
        return Ok(bytes_from_py(bytes));
    }
    if let Ok(array) = body.cast::<PyByteArray>() {
        return Ok(Bytes::from(array.to_vec()));
    }
    Err(Error::BadMessage("body must be bytes".into()).into())
}

impl Responder for AsgiSend {
    const SETUP_FAILED: &'static str = "ASGI request setup failed";

    fn context(&self) -> &LoopContext {
        &self.shared.context
    }

    /// An exception, a cancellation or a return without completing the response fails it.
    fn finished(&mut self, py: Python<'_>, outcome: TaskOutcome) {
        let unanswered = !self.is_complete();
        let cancelled = "Application task cancelled before completing its response";
        let returned = "ASGI application returned without completing its response";
        if must_fail(py, &self.shared.context, outcome, unanswered, cancelled, returned) {
            self.fail();
        }
    }
}

#[pymethods]
impl AsgiSend {
    fn __call__(&mut self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let message = message
            .cast::<PyDict>()
            .map_err(|_| Error::BadMessage("must be a dict".into()))?;
        let kind = message
            .get_item(intern!(py, "type"))?
            .ok_or_else(|| Error::BadMessage("needs a 'type'".into()))?;
        let kind = kind
            .cast::<PyString>()
            .map_err(|_| Error::BadMessage("'type' must be a str".into()))?
            .to_str()?;
        if self.io.is_disconnected() && !matches!(self.state, State::Streaming(_)) && !self.is_complete() {
            return Err(ClientDisconnected::new_err("client disconnected"));
        }
        match kind {
            "http.response.start" => {
                self.start(py, message)?;
                Ok(self.shared.context.done(py))
            }
            "http.response.body" => self.body(py, message),
            other => Err(unexpected(other, "on an http connection").into()),
        }
    }
}
