//! HTTP/3 in a worker: the QUIC endpoint on the UDP socket the master bound for this worker,
//! serving the handler the TCP listener serves. The TCP protocol layers advertise it
//! (`Alt-Svc`, set in their limits by the server once the port is known).
//!
//! The master owns the UDP sockets (see `granian._quic`): each worker gets one of a
//! `SO_REUSEPORT` group, and the socket's index in the group, which the connection IDs it issues
//! carry so that the group's BPF program brings every datagram of a connection to its worker.

use std::net::UdpSocket;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;

use granian_http3::{Http3Server, Steering};
use granian_serve::{Handler, Shutdown};
use granian_tls::{TlsSettings, TlsVersion};
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
