use std::sync::Arc;
use std::time::Duration;

use granian_aiobridge::resolve;
use granian_asgi::{AsgiHandler, AsgiOptions};
use granian_http2::Protocols;
use granian_serve::{Phase, Scheme, Shutdown, accept_loop, listener_from_fd};
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::config::ServerConfig;

create_exception!(
    _native,
    ProtocolError,
    PyRuntimeError,
    "The server could not set up its socket or runtime."
);

/// How long connections still open after the drain timeout get to close once told to.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

fn to_py(err: &granian_serve::Error) -> PyErr {
    ProtocolError::new_err(err.to_string())
}

/// An ASGI application served on a listening socket, driven by one asyncio loop.
#[pyclass(module = "granian._native")]
pub(crate) struct AsgiServer {
    fd: i32,
    protocols: Arc<Protocols>,
    runtime: Option<tokio::runtime::Runtime>,
    handler: AsgiHandler,
    shutdown: Arc<Shutdown>,
    started: bool,
}

#[pymethods]
impl AsgiServer {
    #[new]
    #[pyo3(signature = (fd, config, app, r#loop, *, state = None, access_log = None))]
    fn new(
        py: Python<'_>,
        fd: i32,
        config: &ServerConfig,
        app: Py<PyAny>,
        r#loop: &Bound<'_, PyAny>,
        state: Option<Py<PyDict>>,
        access_log: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        if fd < 0 {
            return Err(PyValueError::new_err("fd must be a file descriptor"));
        }
        let runtime = granian_serve::runtime(config.runtime_threads()).map_err(|err| to_py(&err))?;
        let options = AsgiOptions {
            state,
            access_log,
            backpressure: config.backpressure(),
        };
        let handler = AsgiHandler::new(py, app, r#loop, runtime.handle().clone(), options)?;
        Ok(Self {
            fd,
            protocols: Arc::new(config.protocols()),
            runtime: Some(runtime),
            handler,
            shutdown: Arc::new(Shutdown::new()),
            started: false,
        })
    }

    /// Start accepting connections.
    fn start(&mut self) -> PyResult<()> {
        if self.started {
            return Err(PyRuntimeError::new_err("the server is already started"));
        }
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| PyRuntimeError::new_err("the server is shut down"))?;
        let listener = {
            let _context = runtime.enter();
            listener_from_fd(self.fd).map_err(|err| to_py(&err))?
        };
        let shutdown = Arc::clone(&self.shutdown);
        let handler = self.handler.clone();
        let protocols = Arc::clone(&self.protocols);
        runtime.spawn(async move {
            accept_loop(listener, &shutdown, Scheme::Http, move |stream, conn, watch| {
                let handler = handler.clone();
                let protocols = Arc::clone(&protocols);
                async move { granian_http2::serve(stream, handler, conn, &protocols, watch).await }
            })
            .await;
        });
        self.started = true;
        Ok(())
    }

    /// Stop accepting, drain for up to `timeout` seconds, then close what is left. Returns a
    /// future of the server's loop that resolves when every connection is closed.
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

impl Drop for AsgiServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
