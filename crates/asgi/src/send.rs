use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use granian_aiobridge::{FileBody, LoopContext, RequestBody, Responder, TaskOutcome, must_fail, respond_with_file};
use granian_pyconv::bytes_from_py;
use granian_serve::{Informational, ResponseBody, StreamSender, error_response};
use http::header::{HeaderMap, HeaderName, HeaderValue, LINK};
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
    /// The body is complete; the trailer fields announced by `http.response.start` gather until
    /// `more_trailers` is false.
    Trailing(StreamSender, HeaderMap),
    /// The response is complete, or was abandoned.
    Done,
}

/// What the request allows a response of: informational responses, trailers, a body.
#[derive(Debug, Default)]
pub(crate) struct ResponseTraits {
    /// Where `http.response.early_hint` goes; `None` when the protocol cannot send one.
    pub(crate) informational: Option<Informational>,
    /// The client accepts trailer fields (`TE: trailers`); without it they are not sent.
    pub(crate) accepts_trailers: bool,
    /// A `HEAD` request: `http.response.pathsend` measures the file and sends no body.
    pub(crate) head_only: bool,
}

/// The `send` callable handed to the application.
#[pyclass(module = "granian._native", name = "ASGISend")]
pub(crate) struct AsgiSend {
    state: State,
    io: Arc<RequestBody>,
    shared: Arc<Shared>,
    traits: ResponseTraits,
    /// `http.response.start` announced trailers: the body ends with `http.response.trailers`.
    trailers: bool,
}

impl AsgiSend {
    pub(crate) fn new(
        tx: oneshot::Sender<Response<ResponseBody>>,
        io: Arc<RequestBody>,
        shared: Arc<Shared>,
        traits: ResponseTraits,
    ) -> Self {
        Self {
            state: State::Pending(tx),
            io,
            shared,
            traits,
            trailers: false,
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
            State::Streaming(sender) | State::Trailing(sender, _) => self.shared.context.abort_stream(&sender),
            State::Done => {}
        }
    }

    fn start(&mut self, py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<()> {
        let tx = match std::mem::replace(&mut self.state, State::Done) {
            State::Pending(tx) => tx,
            state => {
                // A second start leaves the first response as it was.
                self.state = state;
                return Err(unexpected("http.response.start", "after the response started").into());
            }
        };
        let started = response_head(py, message).and_then(|head| {
            let trailers = match message.get_item(intern!(py, "trailers"))? {
                Some(trailers) => trailers.is_truthy()?,
                None => false,
            };
            Ok((head, trailers))
        });
        match started {
            Ok((head, trailers)) => {
                self.trailers = trailers;
                self.state = State::Started(tx, head);
                Ok(())
            }
            Err(err) => {
                self.state = State::Pending(tx);
                Err(err)
            }
        }
    }

    /// The body is complete: the response too, unless trailers were announced.
    fn body_ended(&mut self, sender: Option<StreamSender>) {
        match sender {
            Some(sender) if self.trailers => self.state = State::Trailing(sender, HeaderMap::new()),
            _ => self.io.disconnect(),
        }
    }

    /// `http.response.trailers`: fields for the trailer section, sent once `more_trailers` is
    /// false (to a client that accepts them; the body ends without them otherwise).
    fn trailers(&mut self, py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<()> {
        let (sender, mut fields) = match std::mem::replace(&mut self.state, State::Done) {
            State::Trailing(sender, fields) => (sender, fields),
            state => {
                let when = if !self.trailers {
                    "without trailers announced by http.response.start"
                } else if matches!(state, State::Done) {
                    "after the response completed"
                } else {
                    "before the last http.response.body"
                };
                self.state = state;
                return Err(unexpected("http.response.trailers", when).into());
            }
        };
        let parsed = (|| -> PyResult<bool> {
            if let Some(items) = message.get_item(intern!(py, "headers"))? {
                fields.extend(header_map(&items)?);
            }
            Ok(match message.get_item(intern!(py, "more_trailers"))? {
                Some(more) => more.is_truthy()?,
                None => false,
            })
        })();
        let more = match parsed {
            Ok(more) => more,
            Err(err) => {
                self.state = State::Trailing(sender, fields);
                return Err(err);
            }
        };
        if more {
            self.state = State::Trailing(sender, fields);
            return Ok(());
        }
        // ASGI trailers extension: trailer fields only for a client that sent `TE: trailers`.
        if self.traits.accepts_trailers && !fields.is_empty() {
            let _context = self.shared.context.runtime().enter();
            sender.finish(fields);
        }
        self.io.disconnect();
        Ok(())
    }

    /// `http.response.pathsend`: the file at `path` is the body, read on the runtime.
    fn pathsend(&mut self, py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<()> {
        let state = std::mem::replace(&mut self.state, State::Done);
        let (tx, head) = match state {
            State::Started(tx, head) if !self.trailers => (tx, head),
            state => {
                let when = match state {
                    State::Pending(_) => "before http.response.start",
                    State::Started(..) => "after http.response.start announced trailers",
                    _ => "after the body started",
                };
                self.state = state;
                return Err(unexpected("http.response.pathsend", when).into());
            }
        };
        let path = match message.get_item(intern!(py, "path"))? {
            Some(path) if path.is_instance_of::<PyString>() => path.extract::<PathBuf>(),
            _ => Err(Error::BadMessage("http.response.pathsend needs a 'path' str".into()).into()),
        };
        let path = match path {
            Ok(path) => path,
            Err(err) => {
                self.state = State::Started(tx, head);
                return Err(err);
            }
        };
        let file = FileBody {
            path,
            range: None,
            head_only: self.traits.head_only,
        };
        respond_with_file(&self.shared, tx, head, file);
        self.io.disconnect();
        Ok(())
    }

    /// `http.response.early_hint`: a `103 Early Hints` with a `Link` header per link, sent at once
    /// when the protocol can and the final head has not gone out; otherwise ignored, as the
    /// extension allows.
    fn early_hint(&self, py: Python<'_>, message: &Bound<'_, PyDict>) -> PyResult<()> {
        let mut hint = Response::new(());
        *hint.status_mut() = StatusCode::EARLY_HINTS;
        if let Some(links) = message.get_item(intern!(py, "links"))? {
            for link in links.try_iter()? {
                let link = link?;
                let link = link
                    .cast::<PyBytes>()
                    .map_err(|_| Error::BadMessage("early hint links must be bytes".into()))?
                    .as_bytes();
                let value = HeaderValue::from_bytes(link).map_err(|_| Error::BadHeader { name: "link".into() })?;
                hint.headers_mut().append(LINK, value);
            }
        }
        let before_head = matches!(self.state, State::Pending(_) | State::Started(..));
        if before_head
            && !hint.headers().is_empty()
            && let Some(informational) = &self.traits.informational
        {
            informational.send(hint);
        }
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
        let done = self.shared.context.done(py);
        match std::mem::replace(&mut self.state, State::Done) {
            State::Pending(tx) => {
                self.state = State::Pending(tx);
                Err(unexpected("http.response.body", "before http.response.start").into())
            }
            State::Started(tx, head) => {
                // Trailers follow the body: it streams even when it is complete already.
                if more || self.trailers {
                    let (sender, body) = ResponseBody::channel(STREAM_CAPACITY);
                    if !chunk.is_empty() {
                        let _ = sender.try_send(chunk);
                    }
                    tx.send(head.map(|()| body)).map_err(|_| Error::Disconnected)?;
                    if more {
                        self.state = State::Streaming(sender);
                    } else {
                        self.body_ended(Some(sender));
                    }
                } else {
                    tx.send(head.map(|()| ResponseBody::full(chunk)))
                        .map_err(|_| Error::Disconnected)?;
                    self.body_ended(None);
                }
                Ok(done)
            }
            State::Streaming(sender) => {
                let waiting = self.shared.context.send_chunk(py, &sender, chunk, disconnected)?;
                if more {
                    self.state = State::Streaming(sender);
                } else {
                    self.body_ended(Some(sender));
                }
                Ok(waiting)
            }
            state @ State::Trailing(..) => {
                self.state = state;
                Err(unexpected("http.response.body", "after the last http.response.body").into())
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
    if let Some(items) = message.get_item(intern!(py, "headers"))? {
        *response.headers_mut() = header_map(&items)?;
    }
    Ok(response)
}

/// Headers as ASGI gives them: an iterable of `[name, value]` byte strings.
pub(crate) fn header_map(items: &Bound<'_, PyAny>) -> PyResult<HeaderMap> {
    let mut headers = HeaderMap::new();
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
    Ok(headers)
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
            "http.response.start" => self.start(py, message)?,
            "http.response.body" => return self.body(py, message),
            "http.response.trailers" => self.trailers(py, message)?,
            "http.response.pathsend" => self.pathsend(py, message)?,
            "http.response.early_hint" => self.early_hint(py, message)?,
            other => return Err(unexpected(other, "on an http connection").into()),
        }
        Ok(self.shared.context.done(py))
    }
}
