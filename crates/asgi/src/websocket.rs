//! ASGI websockets (spec 2.4): the `websocket` scope, `websocket.connect` / `receive` /
//! `disconnect` from `receive`, `websocket.accept` (with `subprotocol` and `headers`), `send`
//! and `close` to `send`, and the denial response extension (`websocket.http.response.*`).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use granian_aiobridge::{
    LoopContext, Ready, Responder, TaskOutcome, WebsocketDecision, WebsocketEvent, WebsocketRead, WebsocketSession,
    WebsocketStart, launch, resolve, serve_websocket,
};
use granian_pyconv::bytes_from_str;
use granian_serve::{ConnInfo, IncomingBody, ResponseBody, error_response};
use granian_websocket::{Command, Handshake, Message, Utf8Bytes, WebsocketLimits, is_sendable_close_code};
use http::header::{HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use tokio::sync::oneshot;

use crate::error::{ClientDisconnected, Error};
use crate::handler::Shared;
use crate::send::{body_bytes, header_map, response_head, unexpected};

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
        parts,
        conn,
        subprotocols,
        session,
        decide,
        started: _,
    } = start;
    let send = AsgiWebsocketSend::new(decide, Arc::clone(&session), Arc::clone(shared));
    launch(py, &shared.app, &shared.context, send, |send| {
        let scope = crate::scope::websocket_scope(py, shared, &parts, &conn, &subprotocols)?;
        let receive = Py::new(py, AsgiWebsocketReceive::new(session, Arc::clone(shared)))?;
        Ok((scope, receive, send.clone_ref(py)))
    });
}

/// The ASGI message for what a read of the websocket gave.
pub(crate) fn event_message(py: Python<'_>, event: WebsocketEvent) -> PyResult<Py<PyAny>> {
    let message = PyDict::new(py);
    match event {
        WebsocketEvent::Message(Message::Text(text)) => {
            message.set_item(intern!(py, "type"), intern!(py, "websocket.receive"))?;
            message.set_item(intern!(py, "text"), PyString::new(py, text.as_str()))?;
        }
        WebsocketEvent::Message(Message::Binary(data)) => {
            message.set_item(intern!(py, "type"), intern!(py, "websocket.receive"))?;
            message.set_item(intern!(py, "bytes"), PyBytes::new(py, &data))?;
        }
        WebsocketEvent::Closed { code, reason } => {
            message.set_item(intern!(py, "type"), intern!(py, "websocket.disconnect"))?;
            message.set_item(intern!(py, "code"), code)?;
            message.set_item(intern!(py, "reason"), reason)?;
        }
    }
    Ok(message.into_any().unbind())
}

fn deliver(py: Python<'_>, future: &Bound<'_, PyAny>, event: WebsocketEvent) {
    if let Ok(message) = event_message(py, event) {
        let _ = resolve(py, future, message);
    }
}

/// The `receive` callable of a websocket: `websocket.connect` first, then the client's
/// messages, then `websocket.disconnect` (again on every later call).
#[pyclass(frozen, module = "granian._native", name = "ASGIWebsocketReceive")]
pub(crate) struct AsgiWebsocketReceive {
    session: Arc<WebsocketSession>,
    shared: Arc<Shared>,
    connected: Mutex<bool>,
}

impl AsgiWebsocketReceive {
    fn new(session: Arc<WebsocketSession>, shared: Arc<Shared>) -> Self {
        Self {
            session,
            shared,
            connected: Mutex::new(false),
        }
    }
}

#[pymethods]
impl AsgiWebsocketReceive {
    fn __call__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let first = !std::mem::replace(
            &mut *self.connected.lock().unwrap_or_else(PoisonError::into_inner),
            true,
        );
        if first {
            let message = PyDict::new(py);
            message.set_item(intern!(py, "type"), intern!(py, "websocket.connect"))?;
            return Ok(Ready::new_object(py, message.into_any().unbind())?.into_any());
        }
        match self.session.receive(py, &self.shared.context, deliver)? {
            WebsocketRead::Now(event) => Ok(Ready::new_object(py, event_message(py, event)?)?.into_any()),
            WebsocketRead::Later(future) => Ok(future),
        }
    }
}

enum State {
    /// Neither accepted nor denied yet.
    Pending(oneshot::Sender<WebsocketDecision>),
    /// A denial response started; its body is being gathered.
    Denying {
        decide: oneshot::Sender<WebsocketDecision>,
        head: Response<()>,
        body: BytesMut,
    },
    /// Accepted: messages flow.
    Accepted,
    /// Closed by the application, or denied.
    Closed,
}

/// What an application's message asks for, validated.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outgoing {
    Accept {
        subprotocol: Option<HeaderValue>,
        headers: HeaderMap,
    },
    Send(Message),
    Close {
        code: u16,
        reason: String,
    },
}

fn bad(message: &str) -> PyErr {
    Error::BadMessage(message.to_owned()).into()
}

/// A key of `message` that is present and not `None`.
fn present<'py>(message: &Bound<'py, PyDict>, name: &Bound<'py, PyString>) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(message.get_item(name)?.filter(|value| !value.is_none()))
}

/// Parse a `websocket.accept`, `websocket.send` or `websocket.close` message.
pub(crate) fn parse_outgoing<'py>(py: Python<'py>, kind: &str, message: &Bound<'py, PyDict>) -> PyResult<Outgoing> {
    let field = |name: &Bound<'py, PyString>| present(message, name);
    match kind {
        "websocket.accept" => {
            let subprotocol = match field(intern!(py, "subprotocol"))? {
                Some(value) => {
                    let text = value
                        .cast::<PyString>()
                        .map_err(|_| bad("'subprotocol' must be a str"))?
                        .to_str()?;
                    Some(HeaderValue::from_str(text).map_err(|_| Error::BadHeader {
                        name: "sec-websocket-protocol".to_owned(),
                    })?)
                }
                None => None,
            };
            let headers = match field(intern!(py, "headers"))? {
                Some(items) => header_map(&items)?,
                None => HeaderMap::new(),
            };
            Ok(Outgoing::Accept { subprotocol, headers })
        }
        "websocket.send" => {
            if let Some(data) = field(intern!(py, "bytes"))? {
                let data = body_bytes(&data).map_err(|_| bad("'bytes' must be bytes"))?;
                return Ok(Outgoing::Send(Message::Binary(data)));
            }
            if let Some(text) = field(intern!(py, "text"))? {
                let text = text.cast::<PyString>().map_err(|_| bad("'text' must be a str"))?;
                let bytes = bytes_from_str(text)?;
                // SAFETY: `bytes_from_str` gives the UTF-8 encoding of a Python str.
                let text = unsafe { Utf8Bytes::from_bytes_unchecked(bytes) };
                return Ok(Outgoing::Send(Message::Text(text)));
            }
            Err(bad("websocket.send needs 'bytes' or 'text'"))
        }
        "websocket.close" => {
            let code = match field(intern!(py, "code"))? {
                Some(code) => code.extract::<i64>()?,
                None => 1000,
            };
            let code = u16::try_from(code)
                .ok()
                .filter(|code| is_sendable_close_code(*code))
                .ok_or_else(|| {
                    pyo3::exceptions::PyValueError::new_err(format!("invalid websocket close code {code}"))
                })?;
            let reason = match field(intern!(py, "reason"))? {
                Some(reason) => reason
                    .cast::<PyString>()
                    .map_err(|_| bad("'reason' must be a str"))?
                    .to_str()?
                    .to_owned(),
                None => String::new(),
            };
            Ok(Outgoing::Close { code, reason })
        }
        other => Err(unexpected(other, "on a websocket connection").into()),
    }
}

/// The `send` callable of a websocket.
#[pyclass(module = "granian._native", name = "ASGIWebsocketSend")]
pub(crate) struct AsgiWebsocketSend {
    state: State,
    session: Arc<WebsocketSession>,
    shared: Arc<Shared>,
    status: u16,
}

impl AsgiWebsocketSend {
    fn new(decide: oneshot::Sender<WebsocketDecision>, session: Arc<WebsocketSession>, shared: Arc<Shared>) -> Self {
        Self {
            state: State::Pending(decide),
            session,
            shared,
            status: 0,
        }
    }

    /// The application's task ended (`failed` when it raised). A websocket neither accepted nor
    /// denied is refused (403, or 500 after an exception, as is a denial cut short); an accepted
    /// one closes (1011 after an exception, else 1000 once what was sent is out).
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
            State::Denying { decide, .. } => {
                self.status = 500;
                let _ = decide.send(WebsocketDecision::Respond(error_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                )));
            }
            State::Accepted if failed => {
                let _ = self.session.send_now(Command::Close {
                    code: 1011,
                    reason: String::new(),
                });
            }
            State::Accepted | State::Closed => {}
        }
        self.session.finish();
    }

    fn decide(&mut self, decide: oneshot::Sender<WebsocketDecision>, decision: WebsocketDecision) -> PyResult<()> {
        self.state = State::Closed;
        decide
            .send(decision)
            .map_err(|_| ClientDisconnected::new_err("client disconnected"))
    }
}

impl Responder for AsgiWebsocketSend {
    const SETUP_FAILED: &'static str = "ASGI websocket setup failed";

    fn context(&self) -> &LoopContext {
        &self.shared.context
    }

    fn finished(&mut self, _py: Python<'_>, outcome: TaskOutcome) {
        self.end(outcome != TaskOutcome::Returned);
    }
}

#[pymethods]
impl AsgiWebsocketSend {
    fn __call__(&mut self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let message = message.cast::<PyDict>().map_err(|_| bad("must be a dict"))?;
        let kind = message
            .get_item(intern!(py, "type"))?
            .ok_or_else(|| bad("needs a 'type'"))?;
        let kind = kind
            .cast::<PyString>()
            .map_err(|_| bad("'type' must be a str"))?
            .to_str()?
            .to_owned();
        let done = self.shared.context.done(py);
        match (kind.as_str(), std::mem::replace(&mut self.state, State::Closed)) {
            ("websocket.http.response.start", State::Pending(decide)) => match response_head(py, message) {
                Ok(head) => {
                    self.status = head.status().as_u16();
                    self.state = State::Denying {
                        decide,
                        head,
                        body: BytesMut::new(),
                    };
                    Ok(done)
                }
                Err(err) => {
                    self.state = State::Pending(decide);
                    Err(err)
                }
            },
            ("websocket.http.response.body", State::Denying { decide, head, mut body }) => {
                let chunk = match message.get_item(intern!(py, "body"))? {
                    Some(chunk) => body_bytes(&chunk)?,
                    None => Bytes::new(),
                };
                let more = match message.get_item(intern!(py, "more_body"))? {
                    Some(more) => more.is_truthy()?,
                    None => false,
                };
                body.extend_from_slice(&chunk);
                if more {
                    self.state = State::Denying { decide, head, body };
                } else {
                    let response = head.map(|()| ResponseBody::full(body.freeze()));
                    self.decide(decide, WebsocketDecision::Respond(response))?;
                }
                Ok(done)
            }
            (kind @ ("websocket.accept" | "websocket.send" | "websocket.close"), State::Pending(decide)) => {
                match parse_outgoing(py, kind, message) {
                    Ok(Outgoing::Accept { subprotocol, headers }) => {
                        self.status = 101;
                        self.decide(decide, WebsocketDecision::Accept { subprotocol, headers })?;
                        self.state = State::Accepted;
                        Ok(done)
                    }
                    // ASGI: a close before the accept refuses the handshake with 403.
                    Ok(Outgoing::Close { .. }) => {
                        self.status = 403;
                        let response = error_response(StatusCode::FORBIDDEN);
                        self.decide(decide, WebsocketDecision::Respond(response))?;
                        Ok(done)
                    }
                    Ok(Outgoing::Send(_)) => {
                        self.state = State::Pending(decide);
                        Err(unexpected("websocket.send", "before websocket.accept").into())
                    }
                    Err(err) => {
                        self.state = State::Pending(decide);
                        Err(err)
                    }
                }
            }
            (kind @ ("websocket.send" | "websocket.close"), State::Accepted) => {
                self.state = State::Accepted;
                let outgoing = parse_outgoing(py, kind, message)?;
                let command = match outgoing {
                    Outgoing::Send(message) => Command::Send(message),
                    Outgoing::Close { code, reason } => {
                        if self.session.is_closed() {
                            // Closing what the client already closed: nothing left to do.
                            self.state = State::Closed;
                            return Ok(done);
                        }
                        self.state = State::Closed;
                        Command::Close { code, reason }
                    }
                    Outgoing::Accept { .. } => unreachable!("only send and close reach here"),
                };
                self.session.send(py, &self.shared.context, command, disconnected)
            }
            (_, State::Closed) if self.session.is_closed() => Err(disconnected()),
            (kind, state) => {
                let when = match state {
                    State::Pending(_) => "before websocket.accept",
                    State::Denying { .. } => "during a denial response",
                    State::Accepted => "after websocket.accept",
                    State::Closed => "after the websocket closed",
                };
                self.state = state;
                Err(unexpected(kind, when).into())
            }
        }
    }
}

fn disconnected() -> PyErr {
    Error::Disconnected.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dict<'py>(py: Python<'py>, code: &std::ffi::CStr) -> Bound<'py, PyDict> {
        py.eval(code, None, None).unwrap().cast_into::<PyDict>().unwrap()
    }

    #[test]
    fn received_messages_convert_to_asgi() {
        Python::attach(|py| {
            let text = event_message(py, WebsocketEvent::Message(Message::Text("héllo".into()))).unwrap();
            assert_eq!(
                text.bind(py).repr().unwrap().to_string(),
                "{'type': 'websocket.receive', 'text': 'héllo'}"
            );
            let binary = event_message(
                py,
                WebsocketEvent::Message(Message::Binary(Bytes::from_static(b"\x00"))),
            )
            .unwrap();
            assert_eq!(
                binary.bind(py).repr().unwrap().to_string(),
                "{'type': 'websocket.receive', 'bytes': b'\\x00'}"
            );
            let closed = event_message(
                py,
                WebsocketEvent::Closed {
                    code: 4001,
                    reason: "bye".into(),
                },
            )
            .unwrap();
            assert_eq!(
                closed.bind(py).repr().unwrap().to_string(),
                "{'type': 'websocket.disconnect', 'code': 4001, 'reason': 'bye'}"
            );
        });
    }

    #[test]
    fn sent_messages_convert_from_asgi() {
        Python::attach(|py| {
            let accept = parse_outgoing(
                py,
                "websocket.accept",
                &dict(py, c"{'subprotocol': 'chat', 'headers': [(b'x-a', b'1')]}"),
            )
            .unwrap();
            let Outgoing::Accept { subprotocol, headers } = accept else {
                panic!("expected an accept");
            };
            assert_eq!(subprotocol.unwrap(), "chat");
            assert_eq!(headers["x-a"], "1");
            assert_eq!(
                parse_outgoing(py, "websocket.send", &dict(py, c"{'text': 'hi', 'bytes': None}")).unwrap(),
                Outgoing::Send(Message::Text("hi".into()))
            );
            assert_eq!(
                parse_outgoing(py, "websocket.send", &dict(py, c"{'bytes': b'\\x01'}")).unwrap(),
                Outgoing::Send(Message::Binary(Bytes::from_static(b"\x01")))
            );
            assert_eq!(
                parse_outgoing(py, "websocket.close", &dict(py, c"{}")).unwrap(),
                Outgoing::Close {
                    code: 1000,
                    reason: String::new()
                }
            );
            assert_eq!(
                parse_outgoing(py, "websocket.close", &dict(py, c"{'code': 4001, 'reason': 'x'}")).unwrap(),
                Outgoing::Close {
                    code: 4001,
                    reason: "x".into()
                }
            );
            for (kind, code) in [
                ("websocket.send", c"{}"),
                ("websocket.send", c"{'text': b'x'}"),
                ("websocket.close", c"{'code': 1006}"),
                ("websocket.accept", c"{'subprotocol': 'a\\nb'}"),
                ("websocket.accept", c"{'headers': [('x', 'y')]}"),
            ] {
                assert!(parse_outgoing(py, kind, &dict(py, code)).is_err(), "{kind} {code:?}");
            }
        });
    }
}
