use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use granian_serve::{Handler, Phase, Shutdown};
use tokio::task::JoinSet;

use crate::conn::{H3_NO_ERROR, Shared, serve_connection};
use crate::{Error, Http3Limits, Steering};

/// The ALPN identifier of HTTP/3 (RFC 9114 §3.1).
pub const ALPN_H3: &[u8] = b"h3";

/// Once the last connection is gone, how long the endpoint waits for its closing packets to go
/// out (QUIC keeps a closed connection for three PTOs to repeat its close to a late peer).
const CLOSE_LINGER: Duration = Duration::from_millis(500);

/// One worker's HTTP/3 endpoint: a QUIC endpoint on a UDP socket, serving each connection it
/// accepts with a [`Handler`].
#[derive(Debug)]
pub struct Http3Server {
    endpoint: quinn::Endpoint,
    shared: Shared,
}

impl Http3Server {
    /// Serve on `socket` (bound by the caller, e.g. with [`bind_udp`](crate::bind_udp)) with the
    /// TLS configuration `tls`, which must offer `h3` through ALPN ([`ALPN_H3`]) and TLS 1.3.
    /// Must be called within a tokio runtime: the endpoint's I/O runs on a task of its own.
    pub fn new(socket: UdpSocket, tls: Arc<rustls::ServerConfig>, limits: Http3Limits) -> Result<Self, Error> {
        Self::build(socket, tls, limits, None)
    }

    /// As [`new`](Self::new), for one worker of several sharing a port: the connection IDs it
    /// issues carry `steering`, so that a BPF program on the socket group delivers each
    /// connection's datagrams to this worker's `socket` (see [`Steering`]).
    pub fn steered(
        socket: UdpSocket,
        tls: Arc<rustls::ServerConfig>,
        limits: Http3Limits,
        steering: Steering,
    ) -> Result<Self, Error> {
        Self::build(socket, tls, limits, Some(steering))
    }

    fn build(
        socket: UdpSocket,
        tls: Arc<rustls::ServerConfig>,
        limits: Http3Limits,
        steering: Option<Steering>,
    ) -> Result<Self, Error> {
        if !tls.alpn_protocols.iter().any(|protocol| protocol == ALPN_H3) {
            return Err(Error::NoH3Alpn);
        }
        let server = limits.server(tls)?;
        let mut endpoint_config = limits.endpoint()?;
        if let Some(steering) = steering {
            endpoint_config.cid_generator(steering.generator());
        }
        socket.set_nonblocking(true)?;
        let local = socket.local_addr()?;
        let endpoint = quinn::Endpoint::new(endpoint_config, Some(server), socket, Arc::new(quinn::TokioRuntime))?;
        Ok(Self {
            endpoint,
            shared: Shared {
                limits: Arc::new(limits),
                local,
                server_cert: None,
            },
        })
    }

    /// Report `pem` to interfaces as the server's certificate ([`granian_serve::TlsInfo`]).
    #[must_use]
    pub fn with_server_cert(mut self, pem: Option<Arc<str>>) -> Self {
        self.shared.server_cert = pem;
        self
    }

    /// The address the socket is bound to.
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Accept connections and serve them with `handler` until the server shuts down.
    ///
    /// Each connection runs on a task of its own holding a [`granian_serve::ShutdownWatch`] of
    /// `shutdown`, and follows its phases. While `Running`, a client beyond `max_connections` is
    /// refused, and with `validate_address` one whose address is not validated yet is sent a
    /// Retry. From `Draining` on, new connections are not answered and the open ones drain; this
    /// returns once they are all closed. At `Closing` every connection is closed at once.
    pub async fn serve<H: Handler>(self, handler: H, shutdown: &Shutdown) {
        let Self { endpoint, shared } = self;
        let limits = Arc::clone(&shared.limits);
        let shared = Arc::new(shared);
        let mut watch = shutdown.watch();
        let mut connections = JoinSet::new();
        let mut draining = false;
        loop {
            tokio::select! {
                biased;
                () = watch.reached(if draining { Phase::Closing } else { Phase::Draining }) => {
                    if watch.phase() == Phase::Closing {
                        endpoint.close(H3_NO_ERROR, b"server closing");
                        break;
                    }
                    draining = true;
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                () = std::future::ready(()), if draining && connections.is_empty() => break,
                incoming = endpoint.accept() => {
                    let Some(incoming) = incoming else {
                        break;
                    };
                    let full = limits.max_connections.is_some_and(|max| connections.len() >= max);
                    if draining {
                        // Dropped unanswered: the client sends its first packet again, and by
                        // then the workers that stay take it (a rolling restart steers new
                        // connections away from a draining worker). Refusing would fail a
                        // request that a retransmission can save; on a full shutdown the client
                        // times out as against a closed port.
                        incoming.ignore();
                    } else if full {
                        incoming.refuse();
                    } else if limits.validate_address && !incoming.remote_address_validated() && incoming.may_retry() {
                        // The client comes back with a token proving it owns its address.
                        let _ = incoming.retry();
                    } else {
                        connections.spawn(serve_connection(incoming, handler.clone(), Arc::clone(&shared), shutdown.watch()));
                    }
                }
            }
        }
        // Tasks of connections still open (at `Closing`) end here; their close is queued.
        drop(connections);
        let _ = tokio::time::timeout(CLOSE_LINGER, endpoint.wait_idle()).await;
    }
}
