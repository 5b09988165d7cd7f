use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use granian_aiobridge::{Done, LoopHandle};
use granian_serve::{ConnInfo, Handler, RequestBody, ResponseBody, error_response};
use http::request::Parts;
use http::{Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::BodyExt;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use tokio::sync::{Semaphore, oneshot};

use crate::done::RequestDone;
use crate::receive::{AsgiReceive, RequestIo};
use crate::send::AsgiSend;

/// Bodies declared this small are read whole before the application starts, so its first
/// `receive()` completes at once.
const PREFETCH_LIMIT: u64 = 64 * 1024;

/// How an [`AsgiHandler`] is set up beyond its application and loop.
#[derive(Debug)]
pub struct AsgiOptions {
    /// The lifespan state; each scope gets a shallow copy under `state`.
    pub state: Option<Py<PyDict>>,
    /// Called once per finished request as
    /// `(client, method, path, query_string, protocol, status, duration_ms)`.
    pub access_log: Option<Py<PyAny>>,
    /// Requests in flight at once; more wait for a slot.
    pub backpressure: usize,
}

/// Python objects built once per server and reused by every request.
pub(crate) struct PyCache {
    pub(crate) scope_template: Py<PyDict>,
    pub(crate) http_10: Py<PyString>,
    pub(crate) http_11: Py<PyString>,
    pub(crate) http_2: Py<PyString>,
    methods: Vec<(&'static str, Py<PyString>)>,
    pub(crate) create_task: Py<PyAny>,
    pub(crate) create_future: Py<PyAny>,
    pub(crate) done: Py<Done>,
    pub(crate) logger: Py<PyAny>,
}

impl PyCache {
    fn new(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Self> {
        let asgi = PyDict::new(py);
        asgi.set_item("version", "3.0")?;
        asgi.set_item("spec_version", "2.4")?;
        let template = PyDict::new(py);
        template.set_item("type", "http")?;
        template.set_item("asgi", asgi)?;
        template.set_item("scheme", "http")?;
        template.set_item("root_path", "")?;
        let methods = ["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]
            .into_iter()
            .map(|m| (m, PyString::intern(py, m).unbind()))
            .collect();
        Ok(Self {
            scope_template: template.unbind(),
            http_10: PyString::intern(py, "1.0").unbind(),
            http_11: PyString::intern(py, "1.1").unbind(),
            http_2: PyString::intern(py, "2").unbind(),
            methods,
            create_task: event_loop.getattr("create_task")?.unbind(),
            create_future: event_loop.getattr("create_future")?.unbind(),
            done: Done::new_object(py)?,
            logger: py
                .import("logging")?
                .call_method1("getLogger", ("granian.asgi",))?
                .unbind(),
        })
    }

    pub(crate) fn method<'py>(&self, py: Python<'py>, method: &str) -> Bound<'py, PyString> {
        match self.methods.iter().find(|(m, _)| *m == method) {
            Some((_, cached)) => cached.bind(py).clone(),
            None => PyString::new(py, method),
        }
    }

    /// Log `message` on `granian.asgi` at error level, with `exc` as its traceback.
    pub(crate) fn log_error(&self, py: Python<'_>, message: &str, exc: Option<&Bound<'_, PyAny>>) {
        let kwargs = PyDict::new(py);
        if let Some(exc) = exc {
            let _ = kwargs.set_item("exc_info", exc);
        }
        if self
            .logger
            .bind(py)
            .call_method("error", (message,), Some(&kwargs))
            .is_err()
        {
            // Logging itself failed (a broken handler): stderr is all that is left.
            eprintln!("[ERROR] {message}");
        }
    }
}

/// What every request of one server shares.
pub(crate) struct Shared {
    pub(crate) app: Py<PyAny>,
    pub(crate) bridge: LoopHandle,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) state: Option<Py<PyDict>>,
    pub(crate) access_log: Option<Py<PyAny>>,
    pub(crate) cache: PyCache,
    permits: Arc<Semaphore>,
}

/// Serves requests with an ASGI application on one asyncio loop.
#[derive(Clone)]
pub struct AsgiHandler {
    shared: Arc<Shared>,
}

impl AsgiHandler {
    /// Set up on the loop's thread: requests will run `app` on `event_loop`, and waiting
    /// `send`s resume on `runtime`.
    pub fn new(
        py: Python<'_>,
        app: Py<PyAny>,
        event_loop: &Bound<'_, PyAny>,
        runtime: tokio::runtime::Handle,
        options: AsgiOptions,
    ) -> PyResult<Self> {
        let bridge = LoopHandle::new(py, event_loop)?;
        Ok(Self {
            shared: Arc::new(Shared {
                app,
                bridge,
                runtime,
                state: options.state,
                access_log: options.access_log,
                cache: PyCache::new(py, event_loop)?,
                permits: Arc::new(Semaphore::new(options.backpressure.max(1))),
            }),
        })
    }

    /// The bridge to the loop, for scheduling work of the server's own (shutdown).
    #[must_use]
    pub fn bridge(&self) -> &LoopHandle {
        &self.shared.bridge
    }
}

impl Handler for AsgiHandler {
    fn handle(
        &self,
        request: Request<RequestBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
        serve_request(Arc::clone(&self.shared), request, Arc::clone(conn))
    }
}

/// Tells the application the client left if the protocol layer drops the request before
/// the application produced a response.
struct DisconnectOnDrop(Option<Arc<RequestIo>>);

impl Drop for DisconnectOnDrop {
    fn drop(&mut self) {
        if let Some(io) = self.0.take() {
            io.disconnect();
        }
    }
}

async fn serve_request(
    shared: Arc<Shared>,
    request: Request<RequestBody>,
    conn: Arc<ConnInfo>,
) -> Response<ResponseBody> {
    let Ok(_permit) = Arc::clone(&shared.permits).acquire_owned().await else {
        return error_response(StatusCode::SERVICE_UNAVAILABLE);
    };
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let io = Arc::new(RequestIo::new(shared.bridge.clone()));
    let streaming = if body.is_end_stream() {
        io.preload(None);
        None
    } else if declared_length(&parts).is_some_and(|length| length <= PREFETCH_LIMIT) {
        match read_whole(body).await {
            Some(bytes) => io.preload(Some(bytes)),
            // The client broke off mid-body: nobody is left to answer.
            None => return error_response(StatusCode::BAD_REQUEST),
        }
        None
    } else {
        Some(body)
    };
    let (tx, rx) = oneshot::channel();
    let mut guard = DisconnectOnDrop(Some(Arc::clone(&io)));
    {
        let shared = Arc::clone(&shared);
        let io = Arc::clone(&io);
        shared.bridge.clone().schedule(Box::new(move |py| {
            start_app(py, &shared, &parts, &conn, io, tx, started);
        }));
    }
    let response = wait_response(rx, streaming, &io).await;
    guard.0 = None;
    let io_for_body = io;
    response.map(move |body| body.on_drop(move || io_for_body.disconnect()))
}

fn declared_length(parts: &Parts) -> Option<u64> {
    parts.headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

async fn read_whole(body: RequestBody) -> Option<Bytes> {
    body.collect().await.ok().map(http_body_util::Collected::to_bytes)
}

async fn wait_response(
    mut rx: oneshot::Receiver<Response<ResponseBody>>,
    streaming: Option<RequestBody>,
    io: &Arc<RequestIo>,
) -> Response<ResponseBody> {
    let unavailable = || error_response(StatusCode::SERVICE_UNAVAILABLE);
    let Some(body) = streaming else {
        return rx.await.unwrap_or_else(|_| unavailable());
    };
    let mut pump = Box::pin(pump_body(body, Arc::clone(io)));
    tokio::select! {
        response = &mut rx => {
            // The application answered before reading all of the body: keep feeding it.
            tokio::spawn(pump);
            response.unwrap_or_else(|_| unavailable())
        }
        () = &mut pump => rx.await.unwrap_or_else(|_| unavailable()),
    }
}

/// Feed the request body to the application's `receive`, pausing while it has enough
/// unread bytes queued.
async fn pump_body(mut body: RequestBody, io: Arc<RequestIo>) {
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            // A malformed chunk or a client that left mid-body.
            io.disconnect();
            return;
        };
        if let Ok(data) = frame.into_data()
            && !data.is_empty()
            && !io.push(data).await
        {
            return;
        }
    }
    io.finish();
}

fn start_app(
    py: Python<'_>,
    shared: &Arc<Shared>,
    parts: &Parts,
    conn: &ConnInfo,
    io: Arc<RequestIo>,
    tx: oneshot::Sender<Response<ResponseBody>>,
    started: Instant,
) {
    let send = match Py::new(py, AsgiSend::new(tx, Arc::clone(&io), Arc::clone(shared))) {
        Ok(send) => send,
        Err(err) => {
            shared
                .cache
                .log_error(py, "ASGI request setup failed", Some(err.value(py).as_any()));
            return;
        }
    };
    let launched = (|| -> PyResult<()> {
        let scope = crate::scope::http_scope(py, shared, parts, conn)?;
        let receive = Py::new(py, AsgiReceive::new(io, Arc::clone(shared)))?;
        let coroutine = shared.app.bind(py).call1((scope, receive, send.clone_ref(py)))?;
        let task = shared.cache.create_task.bind(py).call1((coroutine,))?;
        let done = RequestDone::new(py, shared, send.clone_ref(py), parts, conn, started);
        task.call_method1(pyo3::intern!(py, "add_done_callback"), (done,))?;
        Ok(())
    })();
    if let Err(err) = launched {
        shared
            .cache
            .log_error(py, "Application exception", Some(err.value(py).as_any()));
        send.borrow_mut(py).fail();
    }
}
