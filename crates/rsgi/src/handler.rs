use std::sync::Arc;

use granian_aiobridge::{LoopContext, LoopHandle, RequestStart, launch, serve_request};
use granian_serve::IncomingBody;
use granian_serve::{ConnInfo, Handler, ResponseBody};
use granian_websocket::WebsocketLimits;
use http::{Request, Response};
use pyo3::prelude::*;
use tokio::sync::Semaphore;

use crate::protocol::{BodyHead, RsgiProtocol};
use crate::scope::RsgiScope;

/// How an [`RsgiHandler`] is set up beyond its application and loop.
#[derive(Debug)]
pub struct RsgiOptions {
    /// Requests in flight at once; more wait for a slot.
    pub backpressure: usize,
    /// Serve websockets with these limits; `None` serves websocket requests as plain HTTP.
    pub websockets: Option<WebsocketLimits>,
    /// The most bytes `await protocol()` gathers: a larger body is refused (413).
    pub max_body_buffer_size: usize,
}

/// What every request of one server shares.
pub(crate) struct Shared {
    pub(crate) app: Py<PyAny>,
    pub(crate) context: LoopContext,
    pub(crate) websockets: Option<WebsocketLimits>,
    pub(crate) max_body_buffer_size: usize,
    permits: Arc<Semaphore>,
}

impl AsRef<LoopContext> for Shared {
    fn as_ref(&self) -> &LoopContext {
        &self.context
    }
}

/// Serves requests with an RSGI application on one asyncio loop.
#[derive(Clone)]
pub struct RsgiHandler {
    shared: Arc<Shared>,
}

impl RsgiHandler {
    /// Set up on the loop's thread: requests will run `app` (the `__rsgi__` callable, already
    /// picked) on `event_loop`; waiting sends and file reads run on `runtime`.
    pub fn new(
        py: Python<'_>,
        app: Py<PyAny>,
        event_loop: &Bound<'_, PyAny>,
        runtime: tokio::runtime::Handle,
        options: RsgiOptions,
    ) -> PyResult<Self> {
        Ok(Self {
            shared: Arc::new(Shared {
                app,
                context: LoopContext::new(py, event_loop, runtime, "granian.rsgi")?,
                websockets: options.websockets,
                max_body_buffer_size: options.max_body_buffer_size,
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

impl Handler for RsgiHandler {
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
        mut parts,
        conn,
        body,
        respond,
        started: _,
    } = start;
    let head_only = parts.method == http::Method::HEAD;
    let protocol = RsgiProtocol::new(Arc::clone(shared), body, respond, BodyHead::of(&parts), head_only);
    launch(py, &shared.app, &shared.context, protocol, |protocol| {
        let scope = Py::new(py, RsgiScope::new(py, &mut parts, conn)?)?;
        Ok((scope, protocol.clone_ref(py)))
    });
}
