use std::sync::Arc;

use granian_aiobridge::{LoopContext, LoopHandle, RequestStart, launch, serve_request};
use granian_serve::{ConnInfo, Handler, IncomingBody, Informational, ResponseBody, lists_token};
use granian_websocket::WebsocketLimits;
use http::{Request, Response};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use tokio::sync::Semaphore;

use crate::receive::AsgiReceive;
use crate::send::{AsgiSend, ResponseTraits};

/// How an [`AsgiHandler`] is set up beyond its application and loop.
#[derive(Debug)]
pub struct AsgiOptions {
    /// The lifespan state; each scope gets a shallow copy under `state`.
    pub state: Option<Py<PyDict>>,
    /// Requests in flight at once; more wait for a slot.
    pub backpressure: usize,
    /// Serve websockets with these limits; `None` serves websocket requests as plain HTTP.
    pub websockets: Option<WebsocketLimits>,
}

/// Python objects built once per server and reused by every request.
pub(crate) struct PyCache {
    pub(crate) scope_template: Py<PyDict>,
    /// The `extensions` of an http scope on a connection without TLS, copied for each request:
    /// `http.response.pathsend` and `http.response.trailers`. Their values, empty dicts, are
    /// shared by every request, as the `asgi` dict of the template is.
    pub(crate) http_extensions: Py<PyDict>,
    /// The same with `http.response.early_hint`, for a protocol that can send it.
    pub(crate) http_extensions_hints: Py<PyDict>,
    pub(crate) http_10: Py<PyString>,
    pub(crate) http_11: Py<PyString>,
    pub(crate) http_2: Py<PyString>,
    pub(crate) http_3: Py<PyString>,
    methods: Vec<(&'static str, Py<PyString>)>,
}

impl PyCache {
    fn new(py: Python<'_>) -> PyResult<Self> {
        let asgi = PyDict::new(py);
        asgi.set_item("version", "3.0")?;
        asgi.set_item("spec_version", "2.4")?;
        let template = PyDict::new(py);
        template.set_item("type", "http")?;
        template.set_item("asgi", asgi)?;
        template.set_item("scheme", "http")?;
        template.set_item("root_path", "")?;
        let http_extensions = PyDict::new(py);
        http_extensions.set_item("http.response.pathsend", PyDict::new(py))?;
        http_extensions.set_item("http.response.trailers", PyDict::new(py))?;
        let http_extensions_hints = http_extensions.copy()?;
        http_extensions_hints.set_item("http.response.early_hint", PyDict::new(py))?;
        let methods = ["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]
            .into_iter()
            .map(|m| (m, PyString::intern(py, m).unbind()))
            .collect();
        Ok(Self {
            scope_template: template.unbind(),
            http_extensions: http_extensions.unbind(),
            http_extensions_hints: http_extensions_hints.unbind(),
            http_10: PyString::intern(py, "1.0").unbind(),
            http_11: PyString::intern(py, "1.1").unbind(),
            http_2: PyString::intern(py, "2").unbind(),
            http_3: PyString::intern(py, "3").unbind(),
            methods,
        })
    }

    pub(crate) fn method<'py>(&self, py: Python<'py>, method: &str) -> Bound<'py, PyString> {
        match self.methods.iter().find(|(m, _)| *m == method) {
            Some((_, cached)) => cached.bind(py).clone(),
            None => PyString::new(py, method),
        }
    }
}

/// What every request of one server shares.
pub(crate) struct Shared {
    pub(crate) app: Py<PyAny>,
    pub(crate) context: LoopContext,
    pub(crate) state: Option<Py<PyDict>>,
    pub(crate) cache: PyCache,
    pub(crate) websockets: Option<WebsocketLimits>,
    permits: Arc<Semaphore>,
}

impl AsRef<LoopContext> for Shared {
    fn as_ref(&self) -> &LoopContext {
        &self.context
    }
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
        Ok(Self {
            shared: Arc::new(Shared {
                app,
                context: LoopContext::new(py, event_loop, runtime, "granian.asgi")?,
                state: options.state,
                cache: PyCache::new(py)?,
                websockets: options.websockets,
                permits: Arc::new(Semaphore::new(options.backpressure.max(1))),
            }),
        })
    }

    /// The bridge to the loop, for scheduling work of the server's own (shutdown).
    #[must_use]
    pub fn bridge(&self) -> &LoopHandle {
        self.shared.context.handle()
    }
}

impl Handler for AsgiHandler {
    /// `http.response.early_hint`.
    const INFORMATIONAL: bool = true;

    fn handle(
        &self,
        mut request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
        let shared = Arc::clone(&self.shared);
        let conn = Arc::clone(conn);
        let websocket = match &shared.websockets {
            Some(limits) => granian_websocket::handshake(&mut request)
                .map(|found| found.map(|handshake| (handshake, limits.clone()))),
            None => Ok(None),
        };
        async move {
            match websocket {
                Ok(None) => {
                    let permits = Arc::clone(&shared.permits);
                    let bridge = shared.context.handle().clone();
                    serve_request(bridge, permits, request, conn, move |py, start| {
                        start_app(py, &shared, start);
                    })
                    .await
                }
                Ok(Some((handshake, limits))) => {
                    crate::websocket::serve(shared, request, handshake, conn, limits).await
                }
                Err(err) => err.response(),
            }
        }
    }
}

fn start_app(py: Python<'_>, shared: &Arc<Shared>, start: RequestStart) {
    let RequestStart {
        parts,
        conn,
        body,
        respond,
        started: _,
    } = start;
    let traits = ResponseTraits {
        informational: parts.extensions.get::<Informational>().cloned(),
        accepts_trailers: lists_token(&parts.headers, &http::header::TE, "trailers"),
        head_only: parts.method == http::Method::HEAD,
    };
    let send = AsgiSend::new(respond, Arc::clone(&body), Arc::clone(shared), traits);
    launch(py, &shared.app, &shared.context, send, |send| {
        let scope = crate::scope::http_scope(py, shared, &parts, &conn)?;
        let receive = Py::new(py, AsgiReceive::new(body, Arc::clone(shared)))?;
        Ok((scope, receive, send.clone_ref(py)))
    });
}
