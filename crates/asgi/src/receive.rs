use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use granian_aiobridge::{LoopHandle, Ready, resolve};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use tokio::sync::Notify;

use crate::handler::Shared;

/// Unread request bytes queued for the application beyond which reading from the client
/// pauses.
const QUEUE_LIMIT: usize = 256 * 1024;

/// What `receive()` hands the application next.
enum Message {
    Body { chunk: Bytes, more: bool },
    Disconnect,
}

impl Message {
    fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let message = PyDict::new(py);
        match self {
            Self::Body { chunk, more } => {
                message.set_item(intern!(py, "type"), intern!(py, "http.request"))?;
                message.set_item(intern!(py, "body"), PyBytes::new(py, &chunk))?;
                message.set_item(intern!(py, "more_body"), more)?;
            }
            Self::Disconnect => {
                message.set_item(intern!(py, "type"), intern!(py, "http.disconnect"))?;
            }
        }
        Ok(message.into_any().unbind())
    }
}

#[derive(Default)]
struct BodyState {
    chunks: VecDeque<Bytes>,
    queued: usize,
    /// The client sent the whole body.
    finished: bool,
    /// The last body message went to the application.
    delivered_end: bool,
    /// The client left, or the response is complete.
    disconnected: bool,
    /// A `receive()` future waiting for the next message.
    waiter: Option<Py<PyAny>>,
}

/// One request's body on its way to the application, and whether its client is still there.
/// Written from tokio threads, read from the loop thread.
pub(crate) struct RequestIo {
    state: Mutex<BodyState>,
    space: Notify,
    bridge: LoopHandle,
}

impl RequestIo {
    pub(crate) fn new(bridge: LoopHandle) -> Self {
        Self {
            state: Mutex::default(),
            space: Notify::new(),
            bridge,
        }
    }

    fn lock(&self) -> MutexGuard<'_, BodyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hand a waiting `receive()` its message on the loop thread.
    fn deliver(&self, waiter: Py<PyAny>, message: Message) {
        self.bridge.schedule(Box::new(move |py| {
            if let Ok(message) = message.into_py(py) {
                let _ = resolve(py, waiter.bind(py), message);
            }
        }));
    }

    /// The whole body, read before the application started.
    pub(crate) fn preload(&self, body: Option<Bytes>) {
        let mut state = self.lock();
        if let Some(body) = body.filter(|b| !b.is_empty()) {
            state.queued = body.len();
            state.chunks.push_back(body);
        }
        state.finished = true;
    }

    /// Queue a chunk, waiting while too much is unread. `false` once nobody will read it.
    pub(crate) async fn push(&self, chunk: Bytes) -> bool {
        loop {
            let space = self.space.notified();
            {
                let mut state = self.lock();
                if state.disconnected {
                    return false;
                }
                if let Some(waiter) = state.waiter.take() {
                    drop(state);
                    self.deliver(waiter, Message::Body { chunk, more: true });
                    return true;
                }
                if state.queued < QUEUE_LIMIT {
                    state.queued += chunk.len();
                    state.chunks.push_back(chunk);
                    return true;
                }
            }
            space.await;
        }
    }

    /// The client sent the last of the body.
    pub(crate) fn finish(&self) {
        let mut state = self.lock();
        state.finished = true;
        if state.chunks.is_empty()
            && !state.delivered_end
            && let Some(waiter) = state.waiter.take()
        {
            state.delivered_end = true;
            drop(state);
            self.deliver(
                waiter,
                Message::Body {
                    chunk: Bytes::new(),
                    more: false,
                },
            );
        }
    }

    /// The client left, or the response is complete: a waiting `receive()` gets
    /// `http.disconnect`, and so do later ones.
    pub(crate) fn disconnect(&self) {
        let mut state = self.lock();
        if state.disconnected {
            return;
        }
        state.disconnected = true;
        let waiter = state.waiter.take();
        drop(state);
        self.space.notify_waiters();
        if let Some(waiter) = waiter {
            self.deliver(waiter, Message::Disconnect);
        }
    }

    pub(crate) fn is_disconnected(&self) -> bool {
        self.lock().disconnected
    }

    /// `receive()`: an awaitable that completes at once when a message is ready, or a loop
    /// future resolved when one arrives.
    fn receive(&self, py: Python<'_>, shared: &Shared) -> PyResult<Py<PyAny>> {
        let mut state = self.lock();
        let ready = if state.delivered_end {
            state.disconnected.then_some(Message::Disconnect)
        } else if let Some(chunk) = state.chunks.pop_front() {
            state.queued -= chunk.len();
            let more = !(state.finished && state.chunks.is_empty());
            state.delivered_end = !more;
            self.space.notify_one();
            Some(Message::Body { chunk, more })
        } else if state.finished {
            state.delivered_end = true;
            Some(Message::Body {
                chunk: Bytes::new(),
                more: false,
            })
        } else if state.disconnected {
            Some(Message::Disconnect)
        } else {
            None
        };
        if let Some(message) = ready {
            drop(state);
            return Ok(Ready::new_object(py, message.into_py(py)?)?.into_any());
        }
        let future = shared.cache.create_future.bind(py).call0()?.unbind();
        // A second receive() while one waits replaces it; the older future stays pending,
        // as it would with any server that serves one reader.
        state.waiter = Some(future.clone_ref(py));
        Ok(future)
    }
}

/// The `receive` callable handed to the application.
#[pyclass(frozen, module = "granian._native", name = "ASGIReceive")]
pub(crate) struct AsgiReceive {
    io: Arc<RequestIo>,
    shared: Arc<Shared>,
}

impl AsgiReceive {
    pub(crate) fn new(io: Arc<RequestIo>, shared: Arc<Shared>) -> Self {
        Self { io, shared }
    }
}

#[pymethods]
impl AsgiReceive {
    fn __call__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.io.receive(py, &self.shared)
    }
}
