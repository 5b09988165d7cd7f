//! HTTP/3 in a worker: the QUIC endpoint on the UDP socket the master bound for this worker,
//! serving the handler the TCP listener serves, and the layer that advertises it on TCP
//! responses (`Alt-Svc`).
//!
//! The master owns the UDP sockets (see `granian._quic`): each worker gets one of a
//! `SO_REUSEPORT` group, and the socket's index in the group, which the connection IDs it issues
//! carry so that the group's BPF program brings every datagram of a connection to its worker.

use std::net::UdpSocket;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use granian_http3::{Http3Server, Steering};
use granian_serve::{ConnInfo, Handler, IncomingBody, ResponseBody, Shutdown};
use granian_tls::{TlsSettings, TlsVersion};
use http::header::ALT_SVC;
use http::{HeaderValue, Request, Response};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::config::Http3Settings;
use crate::server::{ProtocolError, TlsError};

/// The UDP socket a worker serves HTTP/3 on, as the master handed it over.
#[derive(Debug)]
pub(crate) struct UdpEndpoint {
    fd: RawFd,
    steering: Option<Steering>,
}

impl UdpEndpoint {
    /// `fd`, a UDP socket the caller keeps open; `steering`, `(marker, socket index)` when the
    /// socket is one of a group the master steers.
    pub(crate) fn new(fd: Option<i32>, steering: Option<(u16, u16)>) -> PyResult<Option<Self>> {
        let Some(fd) = fd else {
            return Ok(None);
        };
        if fd < 0 {
            return Err(PyValueError::new_err("udp_fd must be a file descriptor"));
        }
        Ok(Some(Self {
            fd,
            steering: steering.map(|(marker, socket)| Steering { marker, socket }),
        }))
    }

    /// A socket of our own for the endpoint; the caller's descriptor stays open.
    fn socket(&self) -> PyResult<UdpSocket> {
        // SAFETY: the descriptor is only borrowed for `try_clone_to_owned`, which duplicates it;
        // the caller keeps its own open for as long as the server runs.
        let borrowed = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let owned: OwnedFd = borrowed
            .try_clone_to_owned()
            .map_err(|err| ProtocolError::new_err(format!("udp socket: {err}")))?;
        Ok(UdpSocket::from(owned))
    }
}

/// Serve HTTP/3 with `handler` on `runtime` until `shutdown` ends it; the endpoint counts as a
/// live connection of `shutdown` until it has closed. Returns the UDP port.
pub(crate) fn serve<H: Handler>(
    runtime: &tokio::runtime::Handle,
    endpoint: &UdpEndpoint,
    settings: &Http3Settings,
    tls: &TlsSettings,
    server_cert: Option<Arc<str>>,
    handler: H,
    shutdown: Arc<Shutdown>,
) -> PyResult<u16> {
    // RFC 9001 §4.2: QUIC runs TLS 1.3 only, and offers `h3` alone (RFC 9114 §3.1).
    let quic_tls = TlsSettings {
        alpn: vec![granian_http3::ALPN_H3.to_vec()],
        min_version: TlsVersion::Tls13,
        ..tls.clone()
    };
    let config = quic_tls
        .server_config()
        .map_err(|err| TlsError::new_err(err.to_string()))?;
    let socket = endpoint.socket()?;
    let limits = settings.limits.clone();
    let built = {
        // quinn registers the socket with the runtime's reactor.
        let _context = runtime.enter();
        match endpoint.steering {
            Some(steering) => Http3Server::steered(socket, config, limits, steering),
            None => Http3Server::new(socket, config, limits),
        }
    };
    let server = built.map_err(|err| ProtocolError::new_err(format!("http3: {err}")))?;
    let server = server.with_server_cert(server_cert);
    let port = server.local_addr().port();
    // The accept loop holds a watch of `shutdown` from here on, so a drain waits for it.
    let watch = shutdown.watch();
    runtime.spawn(async move {
        server.serve(handler, &shutdown).await;
        drop(watch);
    });
    Ok(port)
}

/// Puts `Alt-Svc` on responses that carry none, telling clients of the TCP listener that HTTP/3
/// is served on a UDP port (RFC 7838). Without a value, responses pass unchanged.
#[derive(Debug, Clone)]
pub(crate) struct AltSvc<H> {
    inner: H,
    value: Option<HeaderValue>,
}

impl<H> AltSvc<H> {
    /// Advertise HTTP/3 on UDP `port` when `port` is given.
    pub(crate) fn new(inner: H, port: Option<u16>) -> Self {
        Self {
            inner,
            value: port.map(|port| granian_http3::alt_svc(port, granian_http3::ALT_SVC_MAX_AGE)),
        }
    }
}

impl<H: Handler> Handler for AltSvc<H> {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<H> {
        Advertised {
            response: self.inner.handle(request, conn),
            value: self.value.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// A response with `Alt-Svc` added: a struct rather than an `async` block, which would keep
    /// room for the inner future twice.
    struct Advertised<F> {
        #[pin]
        response: F,
        value: Option<HeaderValue>,
    }
}

impl<F: Future<Output = Response<ResponseBody>>> Future for Advertised<F> {
    type Output = Response<ResponseBody>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.response.poll(cx));
        if let Some(value) = this.value.take()
            && !response.status().is_informational()
        {
            response.headers_mut().entry(ALT_SVC).or_insert(value);
        }
        Poll::Ready(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[derive(Clone)]
    struct Answer(StatusCode, Option<&'static str>);

    impl Handler for Answer {
        fn handle(
            &self,
            _request: Request<IncomingBody>,
            _conn: &Arc<ConnInfo>,
        ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
            let (status, own) = (self.0, self.1);
            async move {
                let mut response = granian_serve::error_response(status);
                if let Some(own) = own {
                    response.headers_mut().insert(ALT_SVC, HeaderValue::from_static(own));
                }
                response
            }
        }
    }

    fn respond(handler: &AltSvc<Answer>) -> Response<ResponseBody> {
        let conn = Arc::new(ConnInfo::with_addresses(None, None, granian_serve::Scheme::Https));
        let request = Request::new(IncomingBody::full(bytes::Bytes::new()));
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(handler.handle(request, &conn))
    }

    #[test]
    fn advertises_the_port_unless_the_application_did() {
        let ok = AltSvc::new(Answer(StatusCode::OK, None), Some(8443));
        assert_eq!(respond(&ok).headers()[ALT_SVC], "h3=\":8443\"; ma=86400");
        let own = AltSvc::new(Answer(StatusCode::OK, Some("clear")), Some(8443));
        assert_eq!(respond(&own).headers()[ALT_SVC], "clear");
        let off = AltSvc::new(Answer(StatusCode::OK, None), None);
        assert!(!respond(&off).headers().contains_key(ALT_SVC));
        let switching = AltSvc::new(Answer(StatusCode::SWITCHING_PROTOCOLS, None), Some(8443));
        assert!(!respond(&switching).headers().contains_key(ALT_SVC));
    }
}
