use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use granian_serve::{ConnInfo, IncomingBody, ResponseBody, error_response};
use granian_websocket::{CLOSE_ABNORMAL, Command, Handshake, Inbox, Message, WebsocketLimits};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use pyo3::prelude::*;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::{LoopContext, LoopHandle, reject, resolve};

/// Bytes of received messages queued for the application beyond which reading from the
/// client pauses (a single larger message is still taken).
const QUEUE_LIMIT: usize = 256 * 1024;
/// Messages the application may queue for sending before `send` waits for the client.
const COMMAND_CAPACITY: usize = 16;

/// What a read of a websocket gives.
#[derive(Debug, PartialEq, Eq)]
pub enum WebsocketEvent {
    /// A message from the client.
    Message(Message),
    /// The connection is over: the close code and reason (1006 when it ended without a
    /// closing handshake). Every later read gives it again.
    Closed {
        /// The close code.
        code: u16,
        /// The close reason.
        reason: String,
    },
}

/// Completes a waiting read's future with what it waited for; runs on the loop thread.
pub type WebsocketDeliver = fn(Python<'_>, &Bound<'_, PyAny>, WebsocketEvent);

/// A read of a websocket: its result now, or a loop future a [`WebsocketDeliver`] completes.
#[derive(Debug)]
pub enum WebsocketRead {
    /// Known at once.
    Now(WebsocketEvent),
    /// A pending future of the loop.
    Later(Py<PyAny>),
}

struct Waiter {
    future: Py<PyAny>,
    deliver: WebsocketDeliver,
}

#[derive(Default)]
struct SessionState {
    queue: VecDeque<Message>,
    queued: usize,
    closed: Option<(u16, String)>,
    waiter: Option<Waiter>,
}

fn size(message: &Message) -> usize {
    match message {
        Message::Text(text) => text.len(),
        Message::Binary(data) => data.len(),
    }
}

/// One websocket between its connection (tokio threads, through [`Inbox`]) and its application
/// (the loop thread): received messages queue here with a bound, and what the application
/// sends goes to the connection through a bounded channel.
pub struct WebsocketSession {
    state: Mutex<SessionState>,
    space: Notify,
    bridge: LoopHandle,
    commands: Mutex<Option<mpsc::Sender<Command>>>,
}

impl WebsocketSession {
    /// A session whose waiting reads complete on `bridge`'s loop and whose sends go to
    /// `commands`.
    #[must_use]
    pub fn new(bridge: LoopHandle, commands: mpsc::Sender<Command>) -> Self {
        Self {
            state: Mutex::default(),
            space: Notify::new(),
            bridge,
            commands: Mutex::new(Some(commands)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn deliver(&self, waiter: Waiter, event: WebsocketEvent) {
        self.bridge.schedule(Box::new(move |py| {
            (waiter.deliver)(py, waiter.future.bind(py), event);
        }));
    }

    /// The next message, or the close once the connection is over.
    pub fn receive(&self, py: Python<'_>, context: &LoopContext, deliver: WebsocketDeliver) -> PyResult<WebsocketRead> {
        let mut state = self.lock();
        if let Some(message) = state.queue.pop_front() {
            state.queued -= size(&message);
            drop(state);
            self.space.notify_one();
            return Ok(WebsocketRead::Now(WebsocketEvent::Message(message)));
        }
        if let Some((code, reason)) = &state.closed {
            return Ok(WebsocketRead::Now(WebsocketEvent::Closed {
                code: *code,
                reason: reason.clone(),
            }));
        }
        let future = context.future(py)?;
        // A second read while one waits replaces it; the older future stays pending.
        state.waiter = Some(Waiter {
            future: future.clone_ref(py),
            deliver,
        });
        Ok(WebsocketRead::Later(future))
    }

    /// Queue `command` for the connection. The awaitable returned completes at once when there
    /// was room, otherwise once the client has taken enough. A connection already over is
    /// `Err(closed())`; one that ends while the send waits fails the future with `closed()`.
    pub fn send(
        &self,
        py: Python<'_>,
        context: &LoopContext,
        command: Command,
        closed: fn() -> PyErr,
    ) -> PyResult<Py<PyAny>> {
        if self.is_closed() {
            return Err(closed());
        }
        let Some(sender) = self.commands.lock().unwrap_or_else(PoisonError::into_inner).clone() else {
            return Err(closed());
        };
        let command = match sender.try_send(command) {
            Ok(()) => return Ok(context.done(py)),
            Err(mpsc::error::TrySendError::Full(command)) => command,
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(closed()),
        };
        let future = context.future(py)?;
        let waiter = future.clone_ref(py);
        let bridge = self.bridge.clone();
        context.runtime().spawn(async move {
            let sent = sender.send(command).await.is_ok();
            drop(sender);
            bridge.schedule(Box::new(move |py| {
                let waiter = waiter.bind(py);
                if sent {
                    let _ = resolve(py, waiter, py.None());
                } else {
                    let _ = reject(py, waiter, &closed());
                }
            }));
        });
        Ok(future)
    }

    /// Queue `command` if there is room, without waiting; `false` when it could not be.
    pub fn send_now(&self, command: Command) -> bool {
        self.commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|sender| sender.try_send(command).is_ok())
    }

    /// The application is done sending: once what it queued is out, the connection closes
    /// normally (1000) unless it closed otherwise already.
    pub fn finish(&self) {
        self.commands.lock().unwrap_or_else(PoisonError::into_inner).take();
    }

    /// Whether the connection is over.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.lock().closed.is_some()
    }

    /// End the session with `code` and `reason` (the first call wins): a waiting read gets it,
    /// as do later reads once the queue is drained.
    pub fn close(&self, code: u16, reason: &str) {
        let mut state = self.lock();
        if state.closed.is_some() {
            return;
        }
        state.closed = Some((code, reason.to_owned()));
        let waiter = state.waiter.take();
        drop(state);
        self.space.notify_waiters();
        if let Some(waiter) = waiter {
            self.deliver(
                waiter,
                WebsocketEvent::Closed {
                    code,
                    reason: reason.to_owned(),
                },
            );
        }
    }
}

impl Inbox for WebsocketSession {
    async fn message(&self, message: Message) {
        loop {
            let space = self.space.notified();
            {
                let mut state = self.lock();
                if state.closed.is_some() {
                    return;
                }
                if let Some(waiter) = state.waiter.take() {
                    drop(state);
                    self.deliver(waiter, WebsocketEvent::Message(message));
                    return;
                }
                if state.queued < QUEUE_LIMIT || state.queue.is_empty() {
                    state.queued += size(&message);
                    state.queue.push_back(message);
                    return;
                }
            }
            space.await;
        }
    }

    fn closed(&self, code: u16, reason: &str) {
        self.close(code, reason);
    }
}

/// What the application decided about a websocket request.
#[derive(Debug)]
pub enum WebsocketDecision {
    /// Accept it, with this subprotocol and these extra headers on the handshake response.
    Accept {
        /// The subprotocol chosen among those offered.
        subprotocol: Option<HeaderValue>,
        /// Headers for the handshake response.
        headers: HeaderMap,
    },
    /// Deny it with this HTTP response.
    Respond(Response<ResponseBody>),
}

/// A websocket request handed to an interface on the loop thread, to start its application.
pub struct WebsocketStart {
    /// The request head.
    pub parts: Parts,
    /// The connection it came on.
    pub conn: Arc<ConnInfo>,
    /// The subprotocols the client offered.
    pub subprotocols: Vec<String>,
    /// The websocket, once accepted.
    pub session: Arc<WebsocketSession>,
    /// Where the application's decision goes; dropping it unsent answers 500.
    pub decide: oneshot::Sender<WebsocketDecision>,
    /// When the request reached the interface.
    pub started: Instant,
}

/// Closes the session (1006) when the protocol layer drops the request before the application
/// decided: the client left.
struct CloseOnDrop(Option<Arc<WebsocketSession>>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let Some(session) = self.0.take() {
            session.close(CLOSE_ABNORMAL, "");
        }
    }
}

/// Serve a websocket request with an application on the loop: run `start` on the loop thread,
/// wait for its decision, and answer: the handshake response (the connection then runs on a
/// task of its own until either side closes) or the application's denial.
pub async fn serve_websocket<S>(
    bridge: LoopHandle,
    request: Request<IncomingBody>,
    handshake: Handshake,
    conn: Arc<ConnInfo>,
    limits: WebsocketLimits,
    start: S,
) -> Response<ResponseBody>
where
    S: FnOnce(Python<'_>, WebsocketStart) + Send + 'static,
{
    let started = Instant::now();
    let (parts, _body) = request.into_parts();
    let (commands, receiver) = mpsc::channel(COMMAND_CAPACITY);
    let session = Arc::new(WebsocketSession::new(bridge.clone(), commands));
    let (decide, decision) = oneshot::channel();
    let mut guard = CloseOnDrop(Some(Arc::clone(&session)));
    {
        let session = Arc::clone(&session);
        let subprotocols = handshake.subprotocols().to_vec();
        bridge.schedule(Box::new(move |py| {
            start(
                py,
                WebsocketStart {
                    parts,
                    conn,
                    subprotocols,
                    session,
                    decide,
                    started,
                },
            );
        }));
    }
    let decision = decision.await;
    guard.0 = None;
    match decision {
        Ok(WebsocketDecision::Accept { subprotocol, headers }) => {
            let (response, pending) = handshake.accept(subprotocol, headers, limits);
            tokio::spawn(pending.run(receiver, session));
            response
        }
        Ok(WebsocketDecision::Respond(response)) => {
            session.close(CLOSE_ABNORMAL, "");
            response
        }
        Err(_) => {
            session.close(CLOSE_ABNORMAL, "");
            error_response(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::PyDict;

    fn deliver(py: Python<'_>, future: &Bound<'_, PyAny>, event: WebsocketEvent) {
        let value = match event {
            WebsocketEvent::Message(Message::Text(text)) => {
                text.as_str().into_pyobject(py).unwrap().into_any().unbind()
            }
            WebsocketEvent::Message(Message::Binary(data)) => pyo3::types::PyBytes::new(py, &data).into_any().unbind(),
            WebsocketEvent::Closed { code, .. } => code.into_pyobject(py).unwrap().into_any().unbind(),
        };
        resolve(py, future, value).unwrap();
    }

    fn closed() -> PyErr {
        pyo3::exceptions::PyConnectionError::new_err("gone")
    }

    #[test]
    fn messages_queue_then_the_close_repeats() {
        Python::attach(|py| {
            let locals = PyDict::new(py);
            py.run(c"import asyncio\nloop = asyncio.new_event_loop()", None, Some(&locals))
                .unwrap();
            let event_loop = locals.get_item("loop").unwrap().unwrap();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let context = LoopContext::new(py, &event_loop, runtime.handle().clone(), "granian.test").unwrap();
            let (tx, mut rx) = mpsc::channel(1);
            let session = WebsocketSession::new(context.handle().clone(), tx);
            // A read before anything arrived waits; the next message completes it.
            let WebsocketRead::Later(future) = session.receive(py, &context, deliver).unwrap() else {
                panic!("expected a pending read");
            };
            runtime.block_on(session.message(Message::Text("one".into())));
            runtime.block_on(session.message(Message::Binary(bytes::Bytes::from_static(b"two"))));
            locals.set_item("f", future).unwrap();
            py.run(c"assert loop.run_until_complete(f) == 'one'", None, Some(&locals))
                .unwrap();
            let next = session.receive(py, &context, deliver).unwrap();
            assert!(matches!(next, WebsocketRead::Now(WebsocketEvent::Message(Message::Binary(ref b))) if b == "two"));
            // Sends go to the connection; a full channel makes the send wait.
            let sent = session
                .send(py, &context, Command::Send(Message::Text("a".into())), closed)
                .unwrap();
            assert!(sent.bind(py).is_instance_of::<crate::Done>());
            assert_eq!(rx.try_recv().unwrap(), Command::Send(Message::Text("a".into())));
            session.close(4000, "bye");
            session.close(1000, "ignored");
            assert!(session.is_closed());
            for _ in 0..2 {
                let read = session.receive(py, &context, deliver).unwrap();
                assert!(
                    matches!(read, WebsocketRead::Now(WebsocketEvent::Closed { code: 4000, ref reason }) if reason == "bye")
                );
            }
            let err = session
                .send(py, &context, Command::Send(Message::Text("late".into())), closed)
                .unwrap_err();
            assert!(err.is_instance_of::<pyo3::exceptions::PyConnectionError>(py));
            context.handle().close(py).unwrap();
            py.run(c"loop.close()", None, Some(&locals)).unwrap();
        });
    }
}
