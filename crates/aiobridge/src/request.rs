use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use granian_serve::IncomingBody;
use granian_serve::{ConnInfo, ResponseBody, error_response};
use http::request::Parts;
use http::{Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::BodyExt;
use pyo3::intern;
use pyo3::prelude::*;
use tokio::sync::{Notify, Semaphore, oneshot};

use crate::{LoopContext, LoopHandle, resolve};

/// Bodies declared this small are read whole before the request takes a slot and the
/// application starts: its first read completes at once, and a client that never sends the body
/// it announced holds no slot, only its own connection, until the read timeout ends it.
const PREFETCH_LIMIT: u64 = 64 * 1024;
/// Unread request bytes queued for the application beyond which reading from the client
/// pauses.
const QUEUE_LIMIT: usize = 256 * 1024;
/// `client_disconnect` watchers kept before cancelled ones are pruned.
const WATCHERS_PRUNE_FROM: usize = 8;

/// What reading the request body gives.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyEvent {
    /// Body bytes; `more` is false on the last of them.
    Chunk {
        /// The bytes (empty only on the last, when the body ended without more).
        data: Bytes,
        /// Whether more of the body follows.
        more: bool,
    },
    /// The client left, or the response is complete, before the rest of the body was read.
    Disconnected,
    /// A whole read went past its `limit` (bytes): the rest of the body is not read.
    TooLarge {
        /// The limit the read was given.
        limit: usize,
    },
}

/// Completes a waiting read's future with what it waited for; runs on the loop thread.
pub type Deliver = fn(Python<'_>, &Bound<'_, PyAny>, BodyEvent);

/// A read of the request body: its result now, or a loop future that a [`Deliver`] completes
/// once the result is known.
#[derive(Debug)]
pub enum Read {
    /// Known at once.
    Now(BodyEvent),
    /// A pending future of the loop.
    Later(Py<PyAny>),
}

struct Waiter {
    future: Py<PyAny>,
    deliver: Deliver,
}

/// How much of the body a whole read may gather.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Gathering {
    /// No limit.
    #[default]
    Unlimited,
    /// At most this many bytes.
    UpTo(usize),
    /// The read went (or would have gone) past its limit: nothing more is read.
    Refused,
}

#[derive(Default)]
struct BodyState {
    chunks: VecDeque<Bytes>,
    queued: usize,
    /// The client sent the whole body.
    finished: bool,
    /// The last of the body went to the application.
    delivered_end: bool,
    /// The client left, or the response is complete.
    disconnected: bool,
    /// A read waiting for the next chunk.
    waiter: Option<Waiter>,
    /// A read waiting for the whole body; while there is one the queue has no limit but
    /// `whole`'s.
    collector: Option<Waiter>,
    /// What a whole read may gather.
    whole: Gathering,
    /// Futures resolved with `None` on disconnect.
    watchers: Vec<Py<PyAny>>,
}

impl BodyState {
    fn take_all(&mut self) -> Bytes {
        self.queued = 0;
        if self.chunks.len() <= 1 {
            return self.chunks.pop_front().unwrap_or_default();
        }
        let mut whole = BytesMut::with_capacity(self.chunks.iter().map(Bytes::len).sum());
        for chunk in self.chunks.drain(..) {
            whole.extend_from_slice(&chunk);
        }
        whole.freeze()
    }
}

/// One request's body on its way to the application, and whether its client is still there.
/// Written from tokio threads, read on the loop thread, chunk by chunk ([`RequestBody::next`])
/// or whole ([`RequestBody::whole`]).
pub struct RequestBody {
    state: Mutex<BodyState>,
    space: Notify,
    bridge: LoopHandle,
}

impl RequestBody {
    /// An empty body whose waiting reads complete on `bridge`'s loop.
    #[must_use]
    pub fn new(bridge: LoopHandle) -> Self {
        Self {
            state: Mutex::default(),
            space: Notify::new(),
            bridge,
        }
    }

    fn lock(&self) -> MutexGuard<'_, BodyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn deliver(&self, waiter: Waiter, event: BodyEvent) {
        self.bridge.schedule(Box::new(move |py| {
            (waiter.deliver)(py, waiter.future.bind(py), event);
        }));
    }

    /// The whole body, read before the application started.
    pub fn preload(&self, body: Option<Bytes>) {
        let mut state = self.lock();
        if let Some(body) = body.filter(|b| !b.is_empty()) {
            state.queued = body.len();
            state.chunks.push_back(body);
        }
        state.finished = true;
    }

    /// Queue a chunk, waiting while too much is unread. `false` once nobody will read it.
    pub async fn push(&self, chunk: Bytes) -> bool {
        loop {
            let space = self.space.notified();
            {
                let mut state = self.lock();
                if state.disconnected || state.whole == Gathering::Refused {
                    return false;
                }
                if let Gathering::UpTo(limit) = state.whole
                    && state.queued + chunk.len() > limit
                {
                    Self::overflow(&mut state);
                    if let Some(collector) = state.collector.take() {
                        drop(state);
                        self.deliver(collector, BodyEvent::TooLarge { limit });
                    }
                    return false;
                }
                if let Some(waiter) = state.waiter.take() {
                    drop(state);
                    self.deliver(
                        waiter,
                        BodyEvent::Chunk {
                            data: chunk,
                            more: true,
                        },
                    );
                    return true;
                }
                if state.queued < QUEUE_LIMIT || state.collector.is_some() {
                    state.queued += chunk.len();
                    state.chunks.push_back(chunk);
                    return true;
                }
            }
            space.await;
        }
    }

    /// The client sent the last of the body.
    pub fn finish(&self) {
        let mut state = self.lock();
        state.finished = true;
        if let Some(collector) = state.collector.take() {
            let data = state.take_all();
            state.delivered_end = true;
            drop(state);
            self.deliver(collector, BodyEvent::Chunk { data, more: false });
        } else if state.chunks.is_empty()
            && !state.delivered_end
            && let Some(waiter) = state.waiter.take()
        {
            state.delivered_end = true;
            drop(state);
            self.deliver(
                waiter,
                BodyEvent::Chunk {
                    data: Bytes::new(),
                    more: false,
                },
            );
        }
    }

    /// The client left, or the response is complete: waiting reads get
    /// [`BodyEvent::Disconnected`], and so do later ones once the queue is drained.
    pub fn disconnect(&self) {
        let mut state = self.lock();
        if state.disconnected {
            return;
        }
        state.disconnected = true;
        let waiters = [state.waiter.take(), state.collector.take()];
        let watchers = std::mem::take(&mut state.watchers);
        drop(state);
        self.space.notify_waiters();
        for waiter in waiters.into_iter().flatten() {
            self.deliver(waiter, BodyEvent::Disconnected);
        }
        if !watchers.is_empty() {
            self.bridge.schedule(Box::new(move |py| {
                for watcher in watchers {
                    let _ = resolve(py, watcher.bind(py), py.None());
                }
            }));
        }
    }

    /// Whether the client left or the response is complete.
    #[must_use]
    pub fn is_disconnected(&self) -> bool {
        self.lock().disconnected
    }

    /// Whether the last of the body went to the application.
    #[must_use]
    pub fn end_delivered(&self) -> bool {
        self.lock().delivered_end
    }

    /// The next chunk. After the last one, a read waits for the disconnect.
    pub fn next(&self, py: Python<'_>, context: &LoopContext, deliver: Deliver) -> PyResult<Read> {
        let mut state = self.lock();
        let ready = if state.delivered_end {
            state.disconnected.then_some(BodyEvent::Disconnected)
        } else if let Some(data) = state.chunks.pop_front() {
            state.queued -= data.len();
            let more = !(state.finished && state.chunks.is_empty());
            state.delivered_end = !more;
            self.space.notify_one();
            Some(BodyEvent::Chunk { data, more })
        } else if state.finished {
            state.delivered_end = true;
            Some(BodyEvent::Chunk {
                data: Bytes::new(),
                more: false,
            })
        } else if state.disconnected {
            Some(BodyEvent::Disconnected)
        } else {
            None
        };
        if let Some(event) = ready {
            return Ok(Read::Now(event));
        }
        let future = context.future(py)?;
        // A second read while one waits replaces it; the older future stays pending, as it
        // would with any server that serves one reader.
        state.waiter = Some(Waiter {
            future: future.clone_ref(py),
            deliver,
        });
        Ok(Read::Later(future))
    }

    /// The rest of the body in one chunk (`more` false), once the client has sent all of it;
    /// [`BodyEvent::TooLarge`] instead when it is more than `limit` bytes, the rest then left
    /// unread.
    pub fn whole(
        &self,
        py: Python<'_>,
        context: &LoopContext,
        deliver: Deliver,
        limit: Option<usize>,
    ) -> PyResult<Read> {
        let mut state = self.lock();
        if let Some(limit) = limit
            && (state.whole == Gathering::Refused || (!state.delivered_end && state.queued > limit))
        {
            Self::overflow(&mut state);
            return Ok(Read::Now(BodyEvent::TooLarge { limit }));
        }
        if state.finished && !state.delivered_end {
            let data = state.take_all();
            state.delivered_end = true;
            return Ok(Read::Now(BodyEvent::Chunk { data, more: false }));
        }
        if state.delivered_end {
            return Ok(Read::Now(BodyEvent::Chunk {
                data: Bytes::new(),
                more: false,
            }));
        }
        if state.disconnected {
            return Ok(Read::Now(BodyEvent::Disconnected));
        }
        let future = context.future(py)?;
        state.collector = Some(Waiter {
            future: future.clone_ref(py),
            deliver,
        });
        state.whole = limit.map_or(Gathering::Unlimited, Gathering::UpTo);
        drop(state);
        // A pump parked on the queue limit may go on now.
        self.space.notify_waiters();
        Ok(Read::Later(future))
    }

    /// Refuse a whole read before any of the body is gathered (its declared length is beyond
    /// the limit): nothing more is read.
    pub fn refuse_whole(&self) {
        Self::overflow(&mut self.lock());
        self.space.notify_waiters();
    }

    /// Resolves once a whole read is refused.
    async fn refused(&self) {
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.too_large() {
                return;
            }
            notified.await;
        }
    }

    /// Whether a whole read went (or would have gone) past its limit.
    #[must_use]
    pub fn too_large(&self) -> bool {
        self.lock().whole == Gathering::Refused
    }

    /// Give up on a whole read past its limit: what was gathered goes, nothing more is read.
    fn overflow(state: &mut BodyState) {
        state.whole = Gathering::Refused;
        state.chunks.clear();
        state.queued = 0;
    }

    /// An awaitable completing with `None` once the client is gone or the response complete.
    pub fn disconnected(&self, py: Python<'_>, context: &LoopContext) -> PyResult<Py<PyAny>> {
        let mut state = self.lock();
        if state.disconnected {
            return Ok(context.done(py));
        }
        if state.watchers.len() >= WATCHERS_PRUNE_FROM {
            state.watchers.retain(|watcher| {
                !watcher
                    .bind(py)
                    .call_method0(intern!(py, "done"))
                    .and_then(|done| done.is_truthy())
                    .unwrap_or(true)
            });
        }
        let future = context.future(py)?;
        state.watchers.push(future.clone_ref(py));
        Ok(future)
    }
}

/// A request handed to an interface on the loop thread, to start its application with.
pub struct RequestStart {
    /// The request head.
    pub parts: Parts,
    /// The connection it came on.
    pub conn: Arc<ConnInfo>,
    /// Its body, fed as the client sends it.
    pub body: Arc<RequestBody>,
    /// Where the response goes; dropping it unsent answers 503.
    pub respond: oneshot::Sender<Response<ResponseBody>>,
    /// When the request reached the interface.
    pub started: Instant,
}

/// Tells the application the client left if the protocol layer drops the request before
/// the application produced a response.
struct DisconnectOnDrop(Option<Arc<RequestBody>>);

impl Drop for DisconnectOnDrop {
    fn drop(&mut self) {
        if let Some(body) = self.0.take() {
            body.disconnect();
        }
    }
}

/// Serve one request with an application on the loop: read a small body whole, wait for one of
/// `permits` (503 if they are closed), run `start` on the loop thread, stream the rest of a
/// larger body as it arrives, and return the response `start`'s sender delivers. The body
/// learns of the disconnect when the response is written out or the client goes away.
pub async fn serve_request<S>(
    bridge: LoopHandle,
    permits: Arc<Semaphore>,
    request: Request<IncomingBody>,
    conn: Arc<ConnInfo>,
    start: S,
) -> Response<ResponseBody>
where
    S: FnOnce(Python<'_>, RequestStart) + Send + 'static,
{
    let (parts, incoming) = request.into_parts();
    let body = Arc::new(RequestBody::new(bridge.clone()));
    // The declared length first: asking an HTTP/2 stream whether it ended takes its
    // connection's lock.
    let streaming = if declared_length(&parts).is_some_and(|length| length <= PREFETCH_LIMIT) {
        match incoming.collect().await {
            Ok(whole) => body.preload(Some(whole.to_bytes())),
            // The client broke off, or stopped sending (408, the protocol layer says so too).
            Err(err) => return error_response(err.status()),
        }
        None
    } else if incoming.is_end_stream() {
        body.preload(None);
        None
    } else {
        Some(incoming)
    };
    // A slot only once the request can run.
    let Ok(_permit) = permits.acquire_owned().await else {
        return error_response(StatusCode::SERVICE_UNAVAILABLE);
    };
    let started = Instant::now();
    let (respond, rx) = oneshot::channel();
    let mut guard = DisconnectOnDrop(Some(Arc::clone(&body)));
    {
        let body = Arc::clone(&body);
        bridge.schedule(Box::new(move |py| {
            start(
                py,
                RequestStart {
                    parts,
                    conn,
                    body,
                    respond,
                    started,
                },
            );
        }));
    }
    let response = wait_response(rx, streaming, &body).await;
    guard.0 = None;
    response.map(move |response_body| response_body.on_drop(move || body.disconnect()))
}

fn declared_length(parts: &Parts) -> Option<u64> {
    parts.headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

async fn wait_response(
    mut rx: oneshot::Receiver<Response<ResponseBody>>,
    streaming: Option<IncomingBody>,
    body: &Arc<RequestBody>,
) -> Response<ResponseBody> {
    let unavailable = || error_response(StatusCode::SERVICE_UNAVAILABLE);
    let Some(incoming) = streaming else {
        return rx.await.unwrap_or_else(|_| unavailable());
    };
    let mut pump = Box::pin(pump_body(incoming, Arc::clone(body)));
    tokio::select! {
        response = &mut rx => {
            // The application answered before reading all of the body: keep feeding it.
            tokio::spawn(pump);
            response.unwrap_or_else(|_| unavailable())
        }
        () = &mut pump => rx.await.unwrap_or_else(|_| unavailable()),
    }
}

/// Feed the request body to the application, pausing while it has enough unread bytes queued.
async fn pump_body(mut incoming: IncomingBody, body: Arc<RequestBody>) {
    loop {
        let frame = tokio::select! {
            frame = incoming.frame() => frame,
            // A whole read was refused: the rest is not wanted, and the connection may close.
            () = body.refused() => return,
        };
        let Some(frame) = frame else {
            break;
        };
        let Ok(frame) = frame else {
            // A malformed chunk or a client that left mid-body.
            body.disconnect();
            return;
        };
        if let Ok(data) = frame.into_data()
            && !data.is_empty()
            && !body.push(data).await
        {
            return;
        }
    }
    body.finish();
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::IntoPyObjectExt;
    use pyo3::types::{PyBytes, PyDict};
    use std::time::Duration;

    /// Resolves a read with `(bytes, more)`, or `None` for a disconnect.
    fn deliver(py: Python<'_>, future: &Bound<'_, PyAny>, event: BodyEvent) {
        let value = match event {
            BodyEvent::Chunk { data, more } => (PyBytes::new(py, &data), more).into_py_any(py).unwrap(),
            BodyEvent::Disconnected | BodyEvent::TooLarge { .. } => py.None(),
        };
        resolve(py, future, value).unwrap();
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    /// Run `test` with a fresh asyncio loop (`loop` in `locals`) and a context bridged to it.
    fn with_loop(test: impl FnOnce(Python<'_>, &Bound<'_, PyDict>, &LoopContext, &tokio::runtime::Runtime)) {
        Python::attach(|py| {
            let locals = PyDict::new(py);
            py.run(c"import asyncio\nloop = asyncio.new_event_loop()", None, Some(&locals))
                .unwrap();
            let event_loop = locals.get_item("loop").unwrap().unwrap();
            let runtime = runtime();
            let context = LoopContext::new(py, &event_loop, runtime.handle().clone(), "granian.test").unwrap();
            test(py, &locals, &context, &runtime);
            context.handle().close(py).unwrap();
            py.run(c"loop.close()", None, Some(&locals)).unwrap();
        });
    }

    /// Run the loop until `future` is done; its result's repr.
    fn outcome(py: Python<'_>, locals: &Bound<'_, PyDict>, future: Py<PyAny>) -> String {
        locals.set_item("f", future).unwrap();
        py.run(c"result = repr(loop.run_until_complete(f))", None, Some(locals))
            .unwrap();
        locals.get_item("result").unwrap().unwrap().to_string()
    }

    fn later(read: Read) -> Py<PyAny> {
        match read {
            Read::Later(future) => future,
            Read::Now(event) => panic!("expected a pending read, got {event:?}"),
        }
    }

    #[test]
    fn preloaded_body_reads_at_once() {
        with_loop(|py, _locals, context, _runtime| {
            let body = RequestBody::new(context.handle().clone());
            body.preload(Some(Bytes::from_static(b"abc")));
            let first = body.next(py, context, deliver).unwrap();
            assert!(matches!(first, Read::Now(BodyEvent::Chunk { ref data, more: false }) if data == "abc"));
            assert!(body.end_delivered());
            // After the end, a read waits for the disconnect.
            later(body.next(py, context, deliver).unwrap());
            let whole = RequestBody::new(context.handle().clone());
            whole.preload(None);
            let read = whole.whole(py, context, deliver, None).unwrap();
            assert!(matches!(read, Read::Now(BodyEvent::Chunk { ref data, more: false }) if data.is_empty()));
        });
    }

    #[test]
    fn waiting_read_gets_the_next_chunk() {
        with_loop(|py, locals, context, runtime| {
            let body = RequestBody::new(context.handle().clone());
            let future = later(body.next(py, context, deliver).unwrap());
            assert!(runtime.block_on(body.push(Bytes::from_static(b"hello"))));
            assert_eq!(outcome(py, locals, future), "(b'hello', True)");
            body.finish();
            let end = body.next(py, context, deliver).unwrap();
            assert!(matches!(end, Read::Now(BodyEvent::Chunk { ref data, more: false }) if data.is_empty()));
        });
    }

    #[test]
    fn reading_whole_lifts_the_queue_limit() {
        with_loop(|py, locals, context, runtime| {
            let body = RequestBody::new(context.handle().clone());
            let big = Bytes::from(vec![b'x'; QUEUE_LIMIT]);
            assert!(runtime.block_on(body.push(big)));
            // Nobody reads and the queue is full: the next push waits.
            let blocked = runtime.block_on(async {
                tokio::time::timeout(Duration::from_millis(50), body.push(Bytes::from_static(b"y"))).await
            });
            assert!(blocked.is_err());
            let future = later(body.whole(py, context, deliver, None).unwrap());
            let pushed = runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), body.push(Bytes::from_static(b"z"))).await
            });
            assert_eq!(pushed.ok(), Some(true));
            body.finish();
            locals.set_item("f", future).unwrap();
            py.run(c"data, more = loop.run_until_complete(f)", None, Some(locals))
                .unwrap();
            let data = locals.get_item("data").unwrap().unwrap();
            let data = data.cast::<PyBytes>().unwrap().as_bytes();
            assert_eq!(data.len(), QUEUE_LIMIT + 1);
            assert_eq!(data.last(), Some(&b'z'));
        });
    }

    #[test]
    fn whole_reads_stop_at_their_limit() {
        with_loop(|py, locals, context, runtime| {
            let body = RequestBody::new(context.handle().clone());
            let future = later(body.whole(py, context, deliver, Some(10)).unwrap());
            assert!(runtime.block_on(body.push(Bytes::from_static(b"0123456789"))));
            // One byte past the limit: the read ends, nothing more is taken from the client.
            assert!(!runtime.block_on(body.push(Bytes::from_static(b"x"))));
            assert_eq!(outcome(py, locals, future), "None");
            assert!(body.too_large() && !body.is_disconnected());
            assert!(!runtime.block_on(body.push(Bytes::from_static(b"y"))));
            // A body already queued beyond the limit is refused at once; within it, it is read.
            let queued = RequestBody::new(context.handle().clone());
            assert!(runtime.block_on(queued.push(Bytes::from_static(b"abcdef"))));
            assert!(matches!(
                queued.whole(py, context, deliver, Some(5)).unwrap(),
                Read::Now(BodyEvent::TooLarge { limit: 5 })
            ));
            let fits = RequestBody::new(context.handle().clone());
            fits.preload(Some(Bytes::from_static(b"abcdef")));
            let read = fits.whole(py, context, deliver, Some(6)).unwrap();
            assert!(matches!(read, Read::Now(BodyEvent::Chunk { ref data, more: false }) if data == "abcdef"));
            // Refused up front (a declared length beyond the limit).
            let refused = RequestBody::new(context.handle().clone());
            refused.refuse_whole();
            assert!(!runtime.block_on(refused.push(Bytes::from_static(b"a"))));
            assert!(refused.too_large());
        });
    }

    #[test]
    fn disconnect_wakes_readers_and_watchers() {
        with_loop(|py, locals, context, runtime| {
            let body = RequestBody::new(context.handle().clone());
            let read = later(body.next(py, context, deliver).unwrap());
            let watcher = body.disconnected(py, context).unwrap();
            body.disconnect();
            assert_eq!(outcome(py, locals, read), "None");
            assert_eq!(outcome(py, locals, watcher), "None");
            assert!(!runtime.block_on(body.push(Bytes::from_static(b"late"))));
            assert!(matches!(
                body.next(py, context, deliver).unwrap(),
                Read::Now(BodyEvent::Disconnected)
            ));
            // Once disconnected, watching completes at once.
            let done = body.disconnected(py, context).unwrap();
            assert!(done.bind(py).is_instance_of::<crate::Done>());
        });
    }
}
