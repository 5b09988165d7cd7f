use std::sync::Arc;
use std::time::Duration;

use granian_aiobridge::{LoopHandle, resolve};
use granian_asgi::{AsgiHandler, AsgiOptions};
use granian_dispatch::Protocols;
use granian_rsgi::{RsgiHandler, RsgiOptions};
use granian_serve::{Counted, Handler, Phase, RequestCount, Scheme, Shutdown, accept_loop, listener_from_fd};
use granian_tls::{MaybeTls, TlsAcceptor};
use granian_wsgi::{WsgiHandler, WsgiOptions};
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::config::ServerConfig;
use crate::layers;

create_exception!(
    _native,
    ProtocolError,
    PyRuntimeError,
    "The server could not set up its socket or runtime."
);

create_exception!(
    _native,
    TlsError,
    PyValueError,
    "The TLS certificate, key or CA could not be loaded."
);

/// How long connections still open after the drain timeout get to close once told to.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

fn to_py(err: &granian_serve::Error) -> PyErr {
    ProtocolError::new_err(err.to_string())
}

/// An interface whose application runs on an asyncio loop: what a server needs of it beyond
/// serving requests is the bridge to that loop, to report the end of its shutdown.
trait LoopInterface: Handler {
    fn bridge(&self) -> &LoopHandle;
}

impl LoopInterface for AsgiHandler {
    fn bridge(&self) -> &LoopHandle {
        AsgiHandler::bridge(self)
    }
}

impl LoopInterface for RsgiHandler {
    fn bridge(&self) -> &LoopHandle {
        RsgiHandler::bridge(self)
    }
}

/// A server on a listening socket, whatever its interface: the runtime, the accept loop and
/// the shutdown phases. The `#[pyclass]` servers below wrap one each.
struct ServerCore<H> {
    fd: i32,
    config: Py<ServerConfig>,
    protocols: Arc<Protocols>,
    runtime: Option<tokio::runtime::Runtime>,
    handler: H,
    shutdown: Arc<Shutdown>,
    requests: RequestCount,
    tls: Option<TlsAcceptor>,
    started: bool,
}

impl<H: Handler> ServerCore<H> {
    /// Build the runtime, then the handler on it.
    fn new(
        fd: i32,
        config: &Bound<'_, ServerConfig>,
        handler: impl FnOnce(tokio::runtime::Handle) -> PyResult<H>,
    ) -> PyResult<Self> {
        if fd < 0 {
            return Err(PyValueError::new_err("fd must be a file descriptor"));
        }
        let settings = &config.get().settings;
        let tls = settings
            .tls
            .as_ref()
            .map(|tls| TlsAcceptor::new(tls, settings.tls_handshake_timeout()))
            .transpose()
            .map_err(|err| TlsError::new_err(err.to_string()))?;
        let runtime = granian_serve::runtime(settings.runtime_threads).map_err(|err| to_py(&err))?;
        let handler = handler(runtime.handle().clone())?;
        Ok(Self {
            fd,
            config: config.clone().unbind(),
            protocols: Arc::new(settings.protocols.clone()),
            runtime: Some(runtime),
            handler,
            shutdown: Arc::new(Shutdown::new()),
            requests: RequestCount::new(),
            tls,
            started: false,
        })
    }

    fn start(&mut self) -> PyResult<()> {
        if self.started {
            return Err(PyRuntimeError::new_err("the server is already started"));
        }
        let config = self.config.get();
        // With no layer asked for, requests go straight to the interface: the layers cost
        // nothing then, not even a branch each.
        if layers::any(config) {
            let handler = layers::compose(self.handler.clone(), config);
            self.accept(Counted::new(handler, self.requests.clone()))?;
        } else {
            let handler = granian_serve::Boxed::new(self.handler.clone());
            self.accept(Counted::new(handler, self.requests.clone()))?;
        }
        self.started = true;
        Ok(())
    }

    /// Accept connections on the listening socket and serve each with `handler`.
    fn accept<G: Handler>(&self, handler: G) -> PyResult<()> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("the server is shut down"))?;
        let listener = {
            let _context = runtime.enter();
            listener_from_fd(self.fd).map_err(|err| to_py(&err))?
        };
        let shutdown = Arc::clone(&self.shutdown);
        let protocols = Arc::clone(&self.protocols);
        let tls = self.tls.clone();
        let scheme = if tls.is_some() { Scheme::Https } else { Scheme::Http };
        let metrics = self.config.get().metrics.clone();
        runtime.spawn(async move {
            accept_loop(listener, &shutdown, scheme, move |stream, conn, mut watch| {
                let handler = handler.clone();
                let protocols = Arc::clone(&protocols);
                let tls = tls.clone();
                // Counts the connection as open until its task ends.
                let connection = metrics.as_ref().map(granian_metrics::Recorder::connection);
                async move {
                    let connection = connection;
                    let Some(tls) = tls else {
                        let conn = Arc::new(conn);
                        granian_dispatch::serve(MaybeTls::Plain(stream), handler, conn, &protocols, watch).await;
                        return;
                    };
                    // The handshake runs on the connection's own task, bounded by its timeout
                    // and by the server's drain.
                    let accepted = tokio::select! {
                        accepted = tls.accept(stream) => accepted,
                        () = watch.reached(Phase::Draining) => return,
                    };
                    let Ok(accepted) = accepted else {
                        if let Some(connection) = &connection {
                            connection.failed();
                        }
                        return;
                    };
                    let conn = Arc::new(conn.with_tls(accepted.info));
                    let alpn = accepted.alpn.as_deref();
                    granian_dispatch::serve_tls(accepted.io, handler, conn, &protocols, watch, alpn).await;
                }
            })
            .await;
        });
        Ok(())
    }
}

impl<H: LoopInterface> ServerCore<H> {
    fn shutdown(&mut self, py: Python<'_>, timeout: f64) -> PyResult<Py<PyAny>> {
        let bridge = self.handler.bridge().clone();
        let future = bridge.event_loop().bind(py).call_method0("create_future")?.unbind();
        let waiter = future.clone_ref(py);
        let drain = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::MAX);
        let shutdown = Arc::clone(&self.shutdown);
        shutdown.advance(Phase::Draining);
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("the server is shut down"))?;
        runtime.spawn(async move {
            if tokio::time::timeout(drain, shutdown.wait_idle()).await.is_err() {
                shutdown.advance(Phase::Closing);
                let _ = tokio::time::timeout(CLOSE_GRACE, shutdown.wait_idle()).await;
            }
            let closer = bridge.clone();
            bridge.schedule(Box::new(move |py| {
                let _ = resolve(py, waiter.bind(py), py.None());
                let _ = closer.close(py);
            }));
        });
        Ok(future)
    }
}

impl<H> Drop for ServerCore<H> {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// An ASGI application served on a listening socket, driven by one asyncio loop.
#[pyclass(module = "granian._native")]
pub(crate) struct AsgiServer {
    core: ServerCore<AsgiHandler>,
}

#[pymethods]
impl AsgiServer {
    #[new]
    #[pyo3(signature = (fd, config, app, r#loop, *, state = None))]
    fn new(
        py: Python<'_>,
        fd: i32,
        config: &Bound<'_, ServerConfig>,
        app: Py<PyAny>,
        r#loop: &Bound<'_, PyAny>,
        state: Option<Py<PyDict>>,
    ) -> PyResult<Self> {
        let options = AsgiOptions {
            state,
            backpressure: config.get().settings.backpressure,
            websockets: config.get().settings.websockets.clone(),
        };
        let core = ServerCore::new(fd, config, |runtime| {
            AsgiHandler::new(py, app, r#loop, runtime, options)
        })?;
        Ok(Self { core })
    }

    /// Start accepting connections.
    fn start(&mut self) -> PyResult<()> {
        self.core.start()
    }

    /// Requests received since the server started (a relaxed read of an atomic counter).
    #[getter]
    fn requests(&self) -> u64 {
        self.core.requests.get()
    }

    /// Stop accepting, drain for up to `timeout` seconds, then close what is left. Returns a
    /// future of the server's loop that resolves when every connection is closed.
    fn shutdown(&mut self, py: Python<'_>, timeout: f64) -> PyResult<Py<PyAny>> {
        self.core.shutdown(py, timeout)
    }
}

/// An RSGI application served on a listening socket, driven by one asyncio loop.
#[pyclass(module = "granian._native")]
pub(crate) struct RsgiServer {
    core: ServerCore<RsgiHandler>,
}

#[pymethods]
impl RsgiServer {
    #[new]
    #[pyo3(signature = (fd, config, app, r#loop))]
    fn new(
        py: Python<'_>,
        fd: i32,
        config: &Bound<'_, ServerConfig>,
        app: Py<PyAny>,
        r#loop: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let options = RsgiOptions {
            backpressure: config.get().settings.backpressure,
            websockets: config.get().settings.websockets.clone(),
        };
        let core = ServerCore::new(fd, config, |runtime| {
            RsgiHandler::new(py, app, r#loop, runtime, options)
        })?;
        Ok(Self { core })
    }

    /// Start accepting connections.
    fn start(&mut self) -> PyResult<()> {
        self.core.start()
    }

    /// Requests received since the server started (a relaxed read of an atomic counter).
    #[getter]
    fn requests(&self) -> u64 {
        self.core.requests.get()
    }

    /// Stop accepting, drain for up to `timeout` seconds, then close what is left. Returns a
    /// future of the server's loop that resolves when every connection is closed.
    fn shutdown(&mut self, py: Python<'_>, timeout: f64) -> PyResult<Py<PyAny>> {
        self.core.shutdown(py, timeout)
    }
}

/// A WSGI application served on a listening socket: the runtime handles the connections and a
/// pool of blocking threads runs the application. No event loop is involved.
#[pyclass(module = "granian._native")]
pub(crate) struct WsgiServer {
    core: ServerCore<WsgiHandler>,
}

#[pymethods]
impl WsgiServer {
    #[new]
    #[pyo3(signature = (fd, config, app, *, blocking_threads, multiprocess))]
    fn new(
        py: Python<'_>,
        fd: i32,
        config: &Bound<'_, ServerConfig>,
        app: Py<PyAny>,
        blocking_threads: usize,
        multiprocess: bool,
    ) -> PyResult<Self> {
        let settings = &config.get().settings;
        let options = WsgiOptions {
            blocking_threads,
            backpressure: settings.backpressure,
            idle_timeout: settings.blocking_threads_idle_timeout,
            multiprocess,
        };
        let core = ServerCore::new(fd, config, |runtime| WsgiHandler::new(py, app, runtime, options))?;
        Ok(Self { core })
    }

    /// Start accepting connections.
    fn start(&mut self) -> PyResult<()> {
        self.core.start()
    }

    /// Requests received since the server started (a relaxed read of an atomic counter).
    #[getter]
    fn requests(&self) -> u64 {
        self.core.requests.get()
    }

    /// Stop accepting, drain for up to `timeout` seconds, close what is left, then stop the
    /// blocking threads. Blocks until done, without holding the GIL (the threads need it to
    /// finish their requests).
    fn shutdown(&mut self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let drain = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::MAX);
        let shutdown = Arc::clone(&self.core.shutdown);
        shutdown.advance(Phase::Draining);
        let runtime = self
            .core
            .runtime
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("the server is shut down"))?;
        let handler = &self.core.handler;
        py.detach(|| {
            runtime.block_on(async {
                if tokio::time::timeout(drain, shutdown.wait_idle()).await.is_err() {
                    shutdown.advance(Phase::Closing);
                    let _ = tokio::time::timeout(CLOSE_GRACE, shutdown.wait_idle()).await;
                }
            });
            handler.close();
            // A thread still inside the application after this is left to it; the process
            // exits regardless.
            let _ = handler.wait_closed(CLOSE_GRACE);
        });
        Ok(())
    }
}

impl Drop for WsgiServer {
    fn drop(&mut self) {
        self.core.handler.close();
    }
}
