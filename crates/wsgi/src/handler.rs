use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use granian_serve::{BodyError, ConnInfo, Handler, IncomingBody, ResponseBody, StreamSender, error_response};
use http::request::Parts;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::environ::{self, EnvironCache};
use crate::error::Error;
use crate::file::FileWrapper;
use crate::input::WsgiInput;
use crate::log::{Logger, WsgiErrors};
use crate::pool::{ClientWait, Grow, Next, Pool};
use crate::response::{ResponseState, SharedState, StartResponse, body_bytes, lock, push};

/// The stack of each blocking thread: what Python gives its own threads on Linux, so deep
/// recursion in an application behaves as it would under a pure-Python server.
const STACK_SIZE: usize = 8 * 1024 * 1024;
/// A sequence body this small is joined into one buffer (one write); larger ones go out
/// chunk by chunk without copies.
const JOIN_LIMIT: u64 = 64 * 1024;
/// Request body bytes read before a request is handed to a thread. A body that ends within them
/// (any body declared this small) reaches the thread whole, so a client that never sends the
/// body it announced holds no thread, only its own connection, until the read timeout ends the
/// request; as nginx does in front of a WSGI server. A larger body reaches a thread once this
/// much of it arrived, and the rest is read as `wsgi.input` asks for it.
const READ_AHEAD: usize = 64 * 1024;
/// Request body bytes the application left unread that are read and discarded after the
/// response, so the connection can carry another request. Beyond this the connection closes
/// instead.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// How a [`WsgiHandler`] is set up beyond its application.
#[derive(Debug, Clone, Copy)]
pub struct WsgiOptions {
    /// Most threads running the application; each request holds one from the call to the end
    /// of its body. One runs from the start, the others start when a request finds no thread
    /// free. A thread that waits on its client (a request body to come, a slow reader to take
    /// the response) stops counting, and another is started for the requests queued meanwhile,
    /// up to `backpressure` threads.
    pub blocking_threads: usize,
    /// Requests admitted at once (running or queued for a thread); more wait for a slot.
    pub backpressure: usize,
    /// How long a thread beyond the last one left waits for a request before it exits.
    pub idle_timeout: Duration,
    /// `wsgi.multiprocess`: whether other processes serve the same application.
    pub multiprocess: bool,
}

/// A request on its way from the runtime to a blocking thread.
struct Job {
    parts: Parts,
    /// The body read ahead (see [`READ_AHEAD`]), and what is still to come.
    head: Bytes,
    body: Option<IncomingBody>,
    conn: Arc<ConnInfo>,
    respond: oneshot::Sender<Response<ResponseBody>>,
    _permit: OwnedSemaphorePermit,
}

/// What every request of one server shares.
struct Shared {
    app: Py<PyAny>,
    runtime: Handle,
    environ: EnvironCache,
    logger: Logger,
    /// `io.TextIOBase`, to keep text files off the native file path.
    text_io: Py<PyAny>,
    permits: Arc<Semaphore>,
    pool: Pool<Job>,
    /// Threads started so far, to name the next one.
    started: AtomicUsize,
}

/// Serves requests with a WSGI application on a pool of blocking threads: the runtime parses
/// requests and writes responses, a thread per request in flight builds the environ, calls the
/// application and pushes its body back through a bounded channel. A thread waiting for the
/// client (request body, a full response channel) does so without the GIL.
#[derive(Clone)]
pub struct WsgiHandler {
    shared: Arc<Shared>,
}

impl WsgiHandler {
    /// Start the first thread that will run `app` (more start as requests need them); responses
    /// are written on `runtime`.
    pub fn new(py: Python<'_>, app: Py<PyAny>, runtime: Handle, options: WsgiOptions) -> PyResult<Self> {
        let shared = Arc::new(Shared {
            app,
            runtime,
            environ: EnvironCache::new(py, options.multiprocess)?,
            logger: Logger::new(py)?,
            text_io: py.import("io")?.getattr("TextIOBase")?.unbind(),
            permits: Arc::new(Semaphore::new(options.backpressure.max(1))),
            pool: Pool::new(options.blocking_threads, options.backpressure, options.idle_timeout),
            started: AtomicUsize::new(0),
        });
        shared.pool.thread_started();
        if let Err(err) = spawn_worker(&shared) {
            shared.pool.thread_exited();
            shared.pool.close();
            return Err(err.into());
        }
        Ok(Self { shared })
    }

    /// Take no more requests: queued ones get a 503, idle threads exit, busy ones exit once
    /// their request is done.
    pub fn close(&self) {
        self.shared.permits.close();
        self.shared.pool.close();
    }

    /// Wait up to `timeout` for every thread to exit after [`WsgiHandler::close`]; whether
    /// they all did. The threads need the interpreter to finish, so call this detached from
    /// it (inside `Python::detach`).
    #[must_use]
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        self.shared.pool.wait_exited(timeout)
    }
}

impl Handler for WsgiHandler {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
        serve_request(Arc::clone(&self.shared), request, Arc::clone(conn))
    }
}

async fn serve_request(
    shared: Arc<Shared>,
    request: Request<IncomingBody>,
    conn: Arc<ConnInfo>,
) -> Response<ResponseBody> {
    let (parts, body) = request.into_parts();
    let (head, body) = match read_ahead(body, READ_AHEAD).await {
        Ok(read) => read,
        // The client broke off, or stopped sending (408, the protocol layer says so too).
        Err(err) => return error_response(err.status()),
    };
    // A slot, and then a thread, only once the request can run.
    let Ok(permit) = Arc::clone(&shared.permits).acquire_owned().await else {
        return error_response(StatusCode::SERVICE_UNAVAILABLE);
    };
    let (respond, response) = oneshot::channel();
    let job = Job {
        parts,
        head,
        body,
        conn,
        respond,
        _permit: permit,
    };
    match shared.pool.submit(job) {
        Ok(grow) => grow_pool(&shared, grow),
        Err(_) => return error_response(StatusCode::SERVICE_UNAVAILABLE),
    }
    // A job dropped unserved: the pool closed under it.
    response
        .await
        .unwrap_or_else(|_| error_response(StatusCode::SERVICE_UNAVAILABLE))
}

/// Read `body` until it ends or `limit` bytes of it arrived: those bytes, and the rest of the
/// body when there is more.
async fn read_ahead(mut body: IncomingBody, limit: usize) -> Result<(Bytes, Option<IncomingBody>), BodyError> {
    let mut pieces = Vec::new();
    let mut read = 0;
    while read < limit && !body.is_end_stream() {
        let Some(frame) = body.frame().await else {
            return Ok((join(pieces), None));
        };
        if let Ok(data) = frame?.into_data()
            && !data.is_empty()
        {
            read += data.len();
            pieces.push(data);
        }
    }
    let rest = (!body.is_end_stream()).then_some(body);
    Ok((join(pieces), rest))
}

fn join(mut pieces: Vec<Bytes>) -> Bytes {
    if pieces.len() <= 1 {
        return pieces.pop().unwrap_or_default();
    }
    let mut joined = BytesMut::with_capacity(pieces.iter().map(Bytes::len).sum());
    for piece in pieces {
        joined.extend_from_slice(&piece);
    }
    joined.freeze()
}

/// Start a blocking thread, already counted by the pool.
fn spawn_worker(shared: &Arc<Shared>) -> std::io::Result<()> {
    let index = shared.started.fetch_add(1, Ordering::Relaxed);
    let worker_shared = Arc::clone(shared);
    std::thread::Builder::new()
        .name(format!("granian-wsgi-{index}"))
        .stack_size(STACK_SIZE)
        .spawn(move || worker(&worker_shared))
        .map(drop)
}

/// Start the thread the pool asked for, if it did.
fn grow_pool(shared: &Arc<Shared>, grow: Grow) {
    // A thread that cannot start leaves the job to the threads there are.
    if grow == Grow::Spawn && spawn_worker(shared).is_err() {
        shared.pool.thread_exited();
    }
}

/// Lets a blocking thread say it waits on its client, so that the requests queued meanwhile
/// may get a thread of their own (see [`WsgiOptions::blocking_threads`]).
#[derive(Clone)]
pub(crate) struct Waits(Arc<Shared>);

impl Waits {
    /// This thread waits on its client until the returned guard drops.
    pub(crate) fn begin(&self) -> Waiting<'_> {
        let (waiting, grow) = self.0.pool.client_wait();
        grow_pool(&self.0, grow);
        Waiting(waiting)
    }
}

/// A blocking thread waiting on its client (see [`Waits::begin`]).
pub(crate) struct Waiting<'a>(#[expect(dead_code, reason = "held for its drop")] ClientWait<'a, Job>);

/// Marks a blocking thread gone however it leaves, unless the pool retired it (and counted it
/// out) already.
struct ExitGuard<'a> {
    pool: &'a Pool<Job>,
    counted: bool,
}

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        if self.counted {
            self.pool.thread_exited();
        }
    }
}

/// A blocking thread: attached to the interpreter for its whole life, so the thread state
/// (and with it `threading.local` data such as a framework's database connection) lasts from
/// one request to the next; detached while it waits for work.
fn worker(shared: &Arc<Shared>) {
    let mut exit = ExitGuard {
        pool: &shared.pool,
        counted: true,
    };
    Python::try_attach(|py| {
        loop {
            // A job already queued is taken while still holding the GIL: releasing it only to
            // take it back would hand it to another thread and cost a switch per request under
            // load.
            let next = match shared.pool.try_next() {
                Ok(Some(job)) => Next::Job(job),
                Ok(None) => py.detach(|| shared.pool.next()),
                Err(()) => Next::Closed,
            };
            match next {
                // The client left while the request waited for a thread.
                Next::Job(job) if job.respond.is_closed() => {}
                Next::Job(job) => serve_job(py, shared, job),
                Next::Closed => return,
                Next::Retire => {
                    exit.counted = false;
                    return;
                }
            }
        }
    });
}

fn serve_job(py: Python<'_>, shared: &Arc<Shared>, job: Job) {
    let Job {
        parts,
        head,
        body,
        conn,
        respond,
        _permit,
    } = job;
    let state = ResponseState::new(respond, shared.runtime.clone());
    let input = WsgiInput::new(head, body, shared.runtime.clone(), Some(Waits(Arc::clone(shared))));
    let outcome = catch_unwind(AssertUnwindSafe(|| run_app(py, shared, &parts, &conn, &state, input)));
    let input = outcome.unwrap_or_else(|_| {
        shared.logger.error(py, "WSGI request handling panicked", None);
        lock(&state).fail();
        None
    });
    if let Some(input) = input {
        drain(py, shared, &input);
    }
}

/// Call the application and send its response; returns the request's `wsgi.input`.
fn run_app(
    py: Python<'_>,
    shared: &Arc<Shared>,
    parts: &Parts,
    conn: &ConnInfo,
    state: &SharedState,
    input: WsgiInput,
) -> Option<Py<WsgiInput>> {
    let setup = (|| -> PyResult<_> {
        let input = Py::new(py, input)?;
        let errors = Py::new(py, WsgiErrors::new(py, &shared.logger))?;
        let environ = environ::build(
            py,
            &shared.environ,
            parts,
            conn,
            input.clone_ref(py),
            errors.clone_ref(py),
        )?;
        let waits = Waits(Arc::clone(shared));
        let start_response = Py::new(py, StartResponse::new(py, state, shared.runtime.clone(), waits)?)?;
        Ok((input, errors, environ, start_response))
    })();
    let (input, errors, environ, start_response) = match setup {
        Ok(setup) => setup,
        Err(err) => {
            shared.logger.exception(py, "WSGI request setup failed", err);
            lock(state).fail();
            return None;
        }
    };
    match shared.app.bind(py).call1((environ, start_response)) {
        Ok(result) => respond(py, shared, state, &result),
        Err(err) => {
            shared.logger.exception(py, "Application exception", err);
            lock(state).fail();
        }
    }
    errors.get().flush(py);
    Some(input)
}

/// How sending a response body ended, short of success.
enum Failure {
    /// The client left; nobody is there to tell.
    Gone,
    /// The application raised (its traceback is logged).
    Raised(PyErr),
    /// The application broke the protocol (no `start_response`, a body item not bytes...).
    Protocol(Error),
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        match err {
            Error::Disconnected => Self::Gone,
            other => Self::Protocol(other),
        }
    }
}

/// Whether the response iterable is done with, or handed over.
enum Sent {
    /// Every byte was queued for the client (or the response failed).
    Complete,
    /// A native file transfer owns the iterable and closes it when it ends.
    HandedOver,
}

/// Send the application's response iterable, then close it (PEP 3333: `close()` is called
/// however the response ends, the client leaving included).
fn respond(py: Python<'_>, shared: &Arc<Shared>, state: &SharedState, result: &Bound<'_, PyAny>) {
    let sent = match send_body(py, shared, state, result) {
        Ok(sent) => sent,
        Err(failure) => {
            match failure {
                Failure::Gone => {}
                Failure::Raised(err) => shared.logger.exception(py, "Application exception", err),
                Failure::Protocol(err) => {
                    shared.logger.error(py, &format!("WSGI application error: {err}"), None);
                }
            }
            lock(state).fail();
            Sent::Complete
        }
    };
    if matches!(sent, Sent::Complete) {
        close_iterable(py, &shared.logger, result);
    }
}

fn close_iterable(py: Python<'_>, logger: &Logger, result: &Bound<'_, PyAny>) {
    if result.is_exact_instance_of::<PyList>()
        || result.is_exact_instance_of::<PyTuple>()
        || result.is_exact_instance_of::<PyBytes>()
    {
        return;
    }
    // No `close` attribute: nothing to call.
    if let Ok(close) = result.getattr(intern!(py, "close"))
        && let Err(err) = close.call0()
    {
        logger.exception(py, "Exception closing the response iterable", err);
    }
}

fn send_body(
    py: Python<'_>,
    shared: &Arc<Shared>,
    state: &SharedState,
    result: &Bound<'_, PyAny>,
) -> Result<Sent, Failure> {
    if let Ok(wrapper) = result.cast::<FileWrapper>()
        && send_file(py, shared, state, wrapper)?
    {
        return Ok(Sent::HandedOver);
    }
    if let Ok(list) = result.cast::<PyList>() {
        return send_sequence(py, shared, state, list.iter().collect());
    }
    if let Ok(tuple) = result.cast::<PyTuple>() {
        return send_sequence(py, shared, state, tuple.iter().collect());
    }
    let iterator = result.try_iter().map_err(Failure::Raised)?;
    let mut sender: Option<StreamSender> = None;
    let waits = Waits(Arc::clone(shared));
    for item in iterator {
        let item = item.map_err(Failure::Raised)?;
        let chunk = body_bytes(&item)?;
        // PEP 3333: the head waits for the first non-empty chunk, so an application may call
        // start_response as late as its first iteration.
        if chunk.is_empty() {
            continue;
        }
        if sender.is_none() {
            sender = Some(lock(state).stream("the first body chunk")?);
        }
        let Some(stream) = &sender else { continue };
        if !push(py, &shared.runtime, &waits, stream, chunk) {
            lock(state).client_gone();
            return Err(Failure::Gone);
        }
    }
    drop(sender);
    lock(state).finish()?;
    Ok(Sent::Complete)
}

/// A list or tuple body: its length is known before the head goes out, so it gets a
/// `Content-Length` (unless the application set one) instead of chunked framing.
fn send_sequence(
    py: Python<'_>,
    shared: &Arc<Shared>,
    state: &SharedState,
    items: Vec<Bound<'_, PyAny>>,
) -> Result<Sent, Failure> {
    let mut chunks = Vec::with_capacity(items.len());
    let mut total = 0u64;
    for item in items {
        let chunk = body_bytes(&item)?;
        total += chunk.len() as u64;
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
    }
    let mut guard = lock(state);
    if guard.headers_sent() {
        // write() went first: the rest follows on the same stream.
        let sender = guard.stream("the body")?;
        drop(guard);
        let waits = Waits(Arc::clone(shared));
        for chunk in chunks {
            if !push(py, &shared.runtime, &waits, &sender, chunk) {
                lock(state).client_gone();
                return Err(Failure::Gone);
            }
        }
        drop(sender);
        lock(state).finish()?;
        return Ok(Sent::Complete);
    }
    let body = match chunks.len() {
        0 => ResponseBody::empty(),
        1 => ResponseBody::full(chunks.pop().unwrap_or_default()),
        _ if total <= JOIN_LIMIT => {
            let mut joined = BytesMut::with_capacity(usize::try_from(total).unwrap_or(0));
            for chunk in &chunks {
                joined.extend_from_slice(chunk);
            }
            ResponseBody::full(joined.freeze())
        }
        count => {
            let (sender, body) = ResponseBody::channel(count);
            for chunk in chunks {
                let _ = sender.try_send(chunk);
            }
            body
        }
    };
    guard.respond(body, Some(total), "the end of the response")?;
    Ok(Sent::Complete)
}

/// A `wsgi.file_wrapper` around a regular file: the head goes out with the file's length and
/// the runtime streams the file from its descriptor. `false` when the wrapper must be
/// iterated instead (no head yet, `write()` used, not a regular file).
fn send_file(
    py: Python<'_>,
    shared: &Arc<Shared>,
    state: &SharedState,
    wrapper: &Bound<'_, FileWrapper>,
) -> Result<bool, Failure> {
    let declared = {
        let guard = lock(state);
        match guard.head() {
            Some(head) if !guard.headers_sent() => head.content_length(),
            _ => return Ok(false),
        }
    };
    // Outside the lock: looking at the file calls its Python methods.
    let Some(file) = wrapper.get().native(py, shared.text_io.bind(py)) else {
        return Ok(false);
    };
    // PEP 3333: no more than the Content-Length the application declared.
    let length = declared.map_or(file.length, |declared| declared.min(file.length));
    let (sender, body) = ResponseBody::channel(2);
    lock(state).respond(body, Some(length), "the file")?;
    let wrapper = wrapper.clone().unbind();
    let closing = Arc::clone(shared);
    file.stream(&shared.runtime, length, sender, move || {
        // close() is Python: run it off the runtime's threads.
        tokio::task::spawn_blocking(move || {
            Python::try_attach(|py| close_iterable(py, &closing.logger, wrapper.bind(py).as_any()));
        });
    });
    Ok(true)
}

/// Read and discard what the application left of the request body, so the connection can
/// carry the next request; a body too large to be worth it closes the connection instead.
fn drain(py: Python<'_>, shared: &Shared, input: &Py<WsgiInput>) {
    let Ok(mut input) = input.bind(py).try_borrow_mut() else {
        return;
    };
    let Some(mut body) = input.take_body() else {
        return;
    };
    shared.runtime.spawn(async move {
        let mut drained = 0;
        while let Some(Ok(frame)) = body.frame().await {
            drained += frame.data_ref().map_or(0, Bytes::len);
            if drained > DRAIN_LIMIT {
                return;
            }
        }
    });
}
