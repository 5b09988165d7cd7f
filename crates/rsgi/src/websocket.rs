//! RSGI websockets (spec 1.6): `await protocol.accept()` gives a transport whose `receive()`
//! returns messages with `kind` and `data` and whose `send_bytes` / `send_str` send;
//! `protocol.close(status)` answers with an HTTP status before the accept, and closes the
//! websocket with that code after it.

use std::sync::Arc;

use granian_aiobridge::{
    LoopContext, Ready, Responder, TaskOutcome, WebsocketDecision, WebsocketEvent, WebsocketRead, WebsocketSession,
    WebsocketStart, launch, resolve, serve_websocket,
};
use granian_pyconv::bytes_from_str;
use granian_serve::{ConnInfo, IncomingBody, ResponseBody, error_response};
use granian_websocket::{Command, Handshake, Message, Utf8Bytes, WebsocketLimits, is_sendable_close_code};
use http::{HeaderMap, Request, Response, StatusCode};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use tokio::sync::oneshot;

use crate::error::Error;
use crate::handler::Shared;
use crate::response::{body_bytes, response_head};
use crate::scope::RsgiScope;

/// The `kind` of a message: the client closed.
pub(crate) const KIND_CLOSE: u8 = 0;
/// The `kind` of a message: bytes.
pub(crate) const KIND_BYTES: u8 = 1;
/// The `kind` of a message: a string.
pub(crate) const KIND_STRING: u8 = 2;

/// Serve a websocket request with the application.
pub(crate) fn serve(
    shared: Arc<Shared>,
    request: Request<IncomingBody>,
    handshake: Handshake,
    conn: Arc<ConnInfo>,
    limits: WebsocketLimits,
) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
    serve_websocket(
        shared.context.handle().clone(),
        request,
        handshake,
        conn,
        limits,
        move |py, start| start_app(py, &shared, start),
    )
}

fn start_app(py: Python<'_>, shared: &Arc<Shared>, start: WebsocketStart) {
    let WebsocketStart {
        mut parts,
        conn,
        session,
        decide,
        ..
    } = start;
    let protocol = RsgiWebsocketProtocol::new(Arc::clone(shared), session, decide);
    launch(py, &shared.app, &shared.context, protocol, |protocol| {
        let scope = Py::new(py, RsgiScope::new(py, &mut parts, conn)?.for_websocket())?;
        Ok((scope, protocol.clone_ref(py)))
    });
}

/// One received websocket message: `kind` 0 (closed, `data` None), 1 (bytes) or 2 (str).
#[pyclass(frozen, module = "granian._native", name = "RSGIWebsocketMessage")]
pub(crate) struct RsgiWebsocketMessage {
    #[pyo3(get)]
    kind: u8,
    #[pyo3(get)]
    data: Py<PyAny>,
}

#[pymethods]
impl RsgiWebsocketMessage {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "RSGIWebsocketMessage(kind={}, data={})",
            self.kind,
            self.data.bind(py).repr()?
        ))
    }
}

/// The message object for what a read of the websocket gave.
pub(crate) fn event_message(py: Python<'_>, event: WebsocketEvent) -> PyResult<Py<PyAny>> {
    let (kind, data) = match event {
        WebsocketEvent::Message(Message::Text(text)) => {
            (KIND_STRING, PyString::new(py, text.as_str()).into_any().unbind())
        }
        WebsocketEvent::Message(Message::Binary(data)) => (KIND_BYTES, PyBytes::new(py, &data).into_any().unbind()),
        WebsocketEvent::Closed { .. } => (KIND_CLOSE, py.None()),
    };
    Ok(Py::new(py, RsgiWebsocketMessage { kind, data })?.into_any())
}

fn deliver(py: Python<'_>, future: &Bound<'_, PyAny>, event: WebsocketEvent) {
    if let Ok(message) = event_message(py, event) {
        let _ = resolve(py, future, message);
    }
}

fn closed() -> PyErr {
    Error::Disconnected.into()
}

enum State {
    Pending(oneshot::Sender<WebsocketDecision>),
    Accepted(Py<RsgiWebsocketTransport>),
    Closed,
}

/// The protocol object an application gets for one websocket request.
#[pyclass(module = "granian._native", name = "RSGIWebsocketProtocol")]
pub(crate) struct RsgiWebsocketProtocol {
    shared: Arc<Shared>,
    session: Arc<WebsocketSession>,
    state: State,
    status: u16,
}

impl RsgiWebsocketProtocol {
    fn new(shared: Arc<Shared>, session: Arc<WebsocketSession>, decide: oneshot::Sender<WebsocketDecision>) -> Self {
        Self {
            shared,
            session,
            state: State::Pending(decide),
            status: 0,
        }
    }

    /// The application's task ended (`failed` when it raised): a websocket neither accepted nor
    /// refused gets 403 (500 after an exception); an accepted one closes with 1000 (1011).
    fn end(&mut self, failed: bool) {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Pending(decide) => {
                let status = if failed {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::FORBIDDEN
                };
                self.status = status.as_u16();
                let _ = decide.send(WebsocketDecision::Respond(error_response(status)));
            }
            State::Accepted(_) if failed => {
                let _ = self.session.send_now(Command::Close {
                    code: 1011,
                    reason: String::new(),
                });
            }
            State::Accepted(_) | State::Closed => {}
        }
        self.session.finish();
    }
}

impl Responder for RsgiWebsocketProtocol {
    const SETUP_FAILED: &'static str = "RSGI websocket setup failed";

    fn context(&self) -> &LoopContext {
        &self.shared.context
    }

    fn finished(&mut self, _py: Python<'_>, outcome: TaskOutcome) {
        self.end(outcome != TaskOutcome::Returned);
    }
}

#[pymethods]
impl RsgiWebsocketProtocol {
    /// Accept the websocket; the awaitable gives the transport.
    fn accept(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let transport = match std::mem::replace(&mut self.state, State::Closed) {
            State::Pending(decide) => {
                let accept = WebsocketDecision::Accept {
                    subprotocol: None,
                    headers: HeaderMap::new(),
                };
                if decide.send(accept).is_err() {
                    return Err(closed());
                }
                self.status = 101;
                let transport = Py::new(
                    py,
                    RsgiWebsocketTransport {
                        session: Arc::clone(&self.session),
                        shared: Arc::clone(&self.shared),
                    },
                )?;
                self.state = State::Accepted(transport.clone_ref(py));
                transport
            }
            State::Accepted(transport) => {
                self.state = State::Accepted(transport);
                return Err(Error::Websocket("the websocket was already accepted").into());
            }
            State::Closed => return Err(Error::Websocket("the websocket is closed").into()),
        };
        Ok(Ready::new_object(py, transport.into_any())?.into_any())
    }

    /// Before the accept, refuse with HTTP `status` (403 by default); after it, close the
    /// websocket with code `status` (1000 by default).
    #[pyo3(signature = (status = None))]
    fn close(&mut self, status: Option<i64>) -> PyResult<()> {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Pending(decide) => {
                let head = match response_head(status.unwrap_or(403), None) {
                    Ok(head) => head,
                    Err(err) => {
                        self.state = State::Pending(decide);
                        return Err(err);
                    }
                };
                self.status = head.status().as_u16();
                let _ = decide.send(WebsocketDecision::Respond(head.map(|()| ResponseBody::empty())));
            }
            State::Accepted(transport) => {
                let code = status.unwrap_or(1000);
                let Some(code) = u16::try_from(code).ok().filter(|code| is_sendable_close_code(*code)) else {
                    self.state = State::Accepted(transport);
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "invalid websocket close code {code}"
                    )));
                };
                if !self.session.is_closed() {
                    let _ = self.session.send_now(Command::Close {
                        code,
                        reason: String::new(),
                    });
                }
                self.session.finish();
            }
            State::Closed => {}
        }
        Ok(())
    }
}

/// Receives and sends the messages of an accepted websocket.
#[pyclass(frozen, module = "granian._native", name = "RSGIWebsocketTransport")]
pub(crate) struct RsgiWebsocketTransport {
    session: Arc<WebsocketSession>,
    shared: Arc<Shared>,
}

#[pymethods]
impl RsgiWebsocketTransport {
    /// The next message; once the websocket is over, a `kind` 0 message (every time).
    fn receive(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match self.session.receive(py, &self.shared.context, deliver)? {
            WebsocketRead::Now(event) => Ok(Ready::new_object(py, event_message(py, event)?)?.into_any()),
            WebsocketRead::Later(future) => Ok(future),
        }
    }

    fn send_bytes(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let data = body_bytes(data, "data")?;
        let command = Command::Send(Message::Binary(data));
        self.session.send(py, &self.shared.context, command, closed)
    }

    fn send_str(&self, py: Python<'_>, data: &Bound<'_, PyString>) -> PyResult<Py<PyAny>> {
        let bytes = bytes_from_str(data)?;
        // SAFETY: `bytes_from_str` gives the UTF-8 encoding of a Python str.
        let text = unsafe { Utf8Bytes::from_bytes_unchecked(bytes) };
        self.session
            .send(py, &self.shared.context, Command::Send(Message::Text(text)), closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use pyo3::types::PyDict;

    #[test]
    fn received_messages_convert_to_rsgi() {
        Python::attach(|py| {
            let locals = PyDict::new(py);
            let text = event_message(py, WebsocketEvent::Message(Message::Text("héllo".into()))).unwrap();
            let binary = event_message(
                py,
                WebsocketEvent::Message(Message::Binary(Bytes::from_static(b"\x00"))),
            )
            .unwrap();
            let closed = event_message(
                py,
                WebsocketEvent::Closed {
                    code: 1000,
                    reason: String::new(),
                },
            )
            .unwrap();
            locals.set_item("text", text).unwrap();
            locals.set_item("binary", binary).unwrap();
            locals.set_item("closed", closed).unwrap();
            py.run(
                c"
assert text.kind == 2 and text.data == 'h\\xe9llo'
assert binary.kind == 1 and binary.data == b'\\x00'
assert closed.kind == 0 and closed.data is None
",
                None,
                Some(&locals),
            )
            .unwrap();
        });
    }
}
