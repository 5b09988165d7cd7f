use std::sync::Arc;
use std::time::Duration;

use granian_aiobridge::{LoopHandle, resolve};
use granian_asgi::{AsgiHandler, AsgiOptions};
use granian_dispatch::Protocols;
use granian_rsgi::{RsgiHandler, RsgiOptions};
use granian_serve::{
    AcceptFailure, ConnectionSlots, Counted, Handler, Listener, Phase, RequestCount, Runtimes, Scheme, Shutdown,
    accept_loop, listener_from_fd,
};
use granian_tls::{MaybeTls, TlsAcceptor};
use granian_wsgi::{WsgiHandler, WsgiOptions};
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::config::ServerConfig;
use crate::config::static_header;
use crate::http3::UdpEndpoint;
use crate::{http3, layers};

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

/// Log a failed accept (out of descriptors, memory) as a warning of the server's logger; the
/// accept loop calls this at most once per interval, however often accepts fail.
fn log_accept_failure(failure: &AcceptFailure) {
    let message = failure.to_string();
    Python::attach(|py| {
        let logged = py
            .import("logging")
            .and_then(|logging| logging.call_method1("getLogger", ("_granian",)))
            .and_then(|logger| logger.call_method1("warning", (&message,)));
        if logged.is_err() {
            // Logging itself failed (a broken handler): stderr is all that is left.
            eprintln!("[WARNING] {message}");
        }
    });
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

/// The protocols' settings for interface `H`: informational responses are offered only to one
/// that sends them.
fn protocols_for<H: Handler>(protocols: &Protocols) -> Protocols {
    let mut protocols = protocols.clone();
    protocols.http1.informational = H::INFORMATIONAL;
    protocols
}

/// A server on a listening socket, whatever its interface: the runtimes, the accept loops and
/// the shutdown phases. The `#[pyclass]` servers below wrap one each.
struct ServerCore<H> {
    fd: i32,
    config: Py<ServerConfig>,
    protocols: Arc<Protocols>,
    runtimes: Runtimes,
    handler: H,
    shutdown: Arc<Shutdown>,
    requests: RequestCount,
    tls: Option<TlsAcceptor>,
    /// The UDP socket HTTP/3 is served on, with `http3`.
    udp: Option<UdpEndpoint>,
    started: bool,
}

impl<H: Handler> ServerCore<H> {
    /// Build the runtimes, then the handler on them (its own tasks go to the first).
    fn new(
        fd: i32,
        udp: Option<UdpEndpoint>,
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
        let runtimes = Runtimes::new(settings.runtime).map_err(|err| to_py(&err))?;
        let handler = handler(runtimes.handle().clone())?;
        Ok(Self {
            fd,
            config: config.clone().unbind(),
            protocols: Arc::new(protocols_for::<H>(&settings.protocols)),
            runtimes,
            handler,
            shutdown: Arc::new(Shutdown::new()),
            requests: RequestCount::new(),
            tls,
            udp,
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
            self.serve(&layers::compose(self.handler.clone(), config, self.requests.clone()))?;
        } else {
            let handler = granian_serve::Boxed::new(self.handler.clone());
            self.serve(&Counted::new(handler, self.requests.clone()))?;
        }
        self.started = true;
        Ok(())
    }

    /// Stop accepting: readiness fails from now on, connections finish what they serve.
    fn begin_drain(&self) {
        self.config.get().readiness.drain();
        self.shutdown.advance(Phase::Draining);
    }

    /// Serve `handler` on the listening socket and, with `http3`, on the UDP socket too; TCP
    /// responses then advertise HTTP/3 unless `alt_svc` is off.
    fn serve<G: Handler>(&self, handler: &G) -> PyResult<()> {
        let settings = &self.config.get().settings;
        let advertised = match (&settings.http3, &self.udp, &settings.tls) {
            (None, _, _) => None,
            (Some(http3), Some(udp), Some(tls)) => {
                let server_cert = self.tls.as_ref().and_then(TlsAcceptor::server_cert);
                let port = http3::serve(
                    self.runtimes.handle(),
                    udp,
                    http3,
                    tls,
                    server_cert,
                    handler.clone(),
                    Arc::clone(&self.shutdown),
                )?;
                http3.alt_svc.then_some(port)
            }
            (Some(_), None, _) => return Err(ProtocolError::new_err("http3 needs a UDP socket (udp_fd)")),
            (Some(_), _, None) => return Err(ProtocolError::new_err("http3 needs TLS")),
        };
        let protocols = match advertised {
            // The protocol layers put `Alt-Svc` on every TCP response that carries none.
            Some(port) => {
                let value = granian_http3::alt_svc(port, granian_http3::ALT_SVC_MAX_AGE);
                let value = static_header(value.to_str().unwrap_or_default()).unwrap_or(value);
                let mut protocols = (*self.protocols).clone();
                protocols.http1.alt_svc = Some(value.clone());
                protocols.http2 = Arc::new(granian_http2::Http2Limits {
                    alt_svc: Some(value),
                    ..(*protocols.http2).clone()
                });
                Arc::new(protocols)
            }
            None => Arc::clone(&self.protocols),
        };
        self.accept(handler, &protocols)
    }

    /// Accept connections on the listening socket and serve each with `handler`: one accept loop
    /// per runtime that accepts (each single-threaded runtime has its own).
    fn accept<G: Handler>(&self, handler: &G, protocols: &Arc<Protocols>) -> PyResult<()> {
        // The connection cap is the worker's, shared by every accept loop.
        let slots = ConnectionSlots::new(self.config.get().settings.max_connections);
        for runtime in self.runtimes.accepting() {
            let listener = {
                let _context = runtime.enter();
                listener_from_fd(self.fd).map_err(|err| to_py(&err))?
            };
            runtime.spawn(self.accept_loop(listener, handler.clone(), Arc::clone(protocols), slots.clone()));
        }
        Ok(())
    }

    /// Serve every connection `listener` accepts with `handler` (TLS first, when configured),
    /// until the server drains.
    fn accept_loop<G: Handler>(
        &self,
        listener: Listener,
        handler: G,
        protocols: Arc<Protocols>,
        slots: ConnectionSlots,
    ) -> impl Future<Output = ()> + Send + use<G, H> {
        let shutdown = Arc::clone(&self.shutdown);
        let tls = self.tls.clone();
        let scheme = if tls.is_some() { Scheme::Https } else { Scheme::Http };
        let metrics = self.config.get().metrics.clone();
        let proxy_protocol = self.config.get().settings.proxy_protocol.clone();
        async move {
            accept_loop(
                listener,
                &shutdown,
                scheme,
                &slots,
                log_accept_failure,
                move |mut stream, conn, mut watch| {
                    let handler = handler.clone();
                    let protocols = Arc::clone(&protocols);
                    let tls = tls.clone();
                    let proxy_protocol = proxy_protocol.clone();
                    // Counts the connection as open until its task ends.
                    let connection = metrics.as_ref().map(granian_metrics::Recorder::connection);
                    async move {
                        let connection = connection;
                        // The PROXY header comes first, before the TLS handshake and the sniff.
                        let conn = if let Some(proxy_protocol) = &proxy_protocol {
                            let Some(conn) = proxy_protocol.accept(&mut stream, conn, &mut watch).await else {
                                if let Some(connection) = &connection {
                                    connection.failed();
                                }
                                return;
                            };
                            conn
                        } else {
                            conn
                        };
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
                },
            )
            .await;
        }
    }
}

impl<H: LoopInterface> ServerCore<H> {
    fn shutdown(&mut self, py: Python<'_>, timeout: f64) -> PyResult<Py<PyAny>> {
        let bridge = self.handler.bridge().clone();
        let future = bridge.event_loop().bind(py).call_method0("create_future")?.unbind();
        let waiter = future.clone_ref(py);
        let drain = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::MAX);
        let shutdown = Arc::clone(&self.shutdown);
        self.begin_drain();
        self.runtimes.handle().spawn(async move {
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

/// An ASGI application served on a listening socket, driven by one asyncio loop.
#[pyclass(module = "granian._native")]
pub(crate) struct AsgiServer {
    core: ServerCore<AsgiHandler>,
}

#[pymethods]
impl AsgiServer {
    #[new]
    #[pyo3(signature = (fd, config, app, r#loop, *, state = None, udp_fd = None, steering = None))]
    #[expect(clippy::too_many_arguments, reason = "the Python constructor's keywords")]
    fn new(
        py: Python<'_>,
        fd: i32,
        config: &Bound<'_, ServerConfig>,
        app: Py<PyAny>,
        r#loop: &Bound<'_, PyAny>,
        state: Option<Py<PyDict>>,
        udp_fd: Option<i32>,
        steering: Option<(u16, u16)>,
    ) -> PyResult<Self> {
        let options = AsgiOptions {
            state,
            backpressure: config.get().settings.backpressure,
            websockets: config.get().settings.websockets.clone(),
        };
        let udp = UdpEndpoint::new(udp_fd, steering)?;
        let core = ServerCore::new(fd, udp, config, |runtime| {
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
    #[pyo3(signature = (fd, config, app, r#loop, *, udp_fd = None, steering = None))]
    fn new(
        py: Python<'_>,
        fd: i32,
        config: &Bound<'_, ServerConfig>,
        app: Py<PyAny>,
        r#loop: &Bound<'_, PyAny>,
        udp_fd: Option<i32>,
        steering: Option<(u16, u16)>,
    ) -> PyResult<Self> {
        let options = RsgiOptions {
            backpressure: config.get().settings.backpressure,
            websockets: config.get().settings.websockets.clone(),
            max_body_buffer_size: config.get().settings.max_body_buffer_size,
        };
        let udp = UdpEndpoint::new(udp_fd, steering)?;
        let core = ServerCore::new(fd, udp, config, |runtime| {
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
    #[pyo3(signature = (fd, config, app, *, blocking_threads, multiprocess, udp_fd = None, steering = None))]
    #[expect(clippy::too_many_arguments, reason = "the Python constructor's keywords")]
    fn new(
        py: Python<'_>,
        fd: i32,
        config: &Bound<'_, ServerConfig>,
        app: Py<PyAny>,
        blocking_threads: usize,
        multiprocess: bool,
        udp_fd: Option<i32>,
        steering: Option<(u16, u16)>,
    ) -> PyResult<Self> {
        let settings = &config.get().settings;
        let options = WsgiOptions {
            blocking_threads,
            backpressure: settings.backpressure,
            idle_timeout: settings.blocking_threads_idle_timeout,
            multiprocess,
        };
        let udp = UdpEndpoint::new(udp_fd, steering)?;
        let core = ServerCore::new(fd, udp, config, |runtime| WsgiHandler::new(py, app, runtime, options))?;
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
    fn shutdown(&mut self, py: Python<'_>, timeout: f64) {
        let drain = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::MAX);
        let shutdown = Arc::clone(&self.core.shutdown);
        self.core.begin_drain();
        let runtimes = &self.core.runtimes;
        let handler = &self.core.handler;
        py.detach(|| {
            runtimes.block_on(async {
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
    }
}

impl Drop for WsgiServer {
    fn drop(&mut self) {
        self.core.handler.close();
    }
}
