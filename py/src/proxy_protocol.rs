//! The PROXY protocol step of the accept path (`proxy_protocol`): before the TLS handshake and
//! the protocol sniff, take the header a load balancer wrote at the start of the connection and
//! describe the connection as it says (the client's address, `https` when the client spoke TLS
//! to the balancer). As nginx's `listen ... proxy_protocol`, every connection must start with
//! one: a peer outside `forwarded_allow_ips` (Unix socket peers are trusted, as for proxy
//! headers), a missing, malformed or truncated header, and a header not complete within the
//! header read timeout all close the connection before anything else reads from it.

use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use granian_proxy::TrustedProxies;
use granian_proxyprotocol::{Command, Peek, ProxyHeader, take};
use granian_serve::{ConnInfo, Phase, Scheme, ShutdownWatch, Stream};
use tokio::io::{AsyncRead, Interest, ReadBuf};

/// Whom PROXY headers are taken from, and how long one may take to arrive.
#[derive(Debug)]
pub(crate) struct ProxyProtocol {
    trusted: TrustedProxies,
    timeout: Option<Duration>,
}

impl ProxyProtocol {
    pub(crate) fn new(trusted: TrustedProxies, timeout: Option<Duration>) -> Self {
        Self { trusted, timeout }
    }

    /// The peers headers are taken from.
    pub(crate) fn trusted(&self) -> &TrustedProxies {
        &self.trusted
    }

    /// Take the header off `stream` and return `conn` as the header describes it; `None` when
    /// the connection is to be closed, or the server started draining meanwhile.
    pub(crate) async fn accept(
        &self,
        stream: &mut Stream,
        conn: ConnInfo,
        watch: &mut ShutdownWatch,
    ) -> Option<ConnInfo> {
        if conn.peer.is_some_and(|peer| !self.trusted.contains(peer.ip())) {
            return None;
        }
        let mut peeking = Peeking(stream);
        let taking = bounded(self.timeout, take(&mut peeking));
        let header = tokio::select! {
            taken = taking => taken?.ok()?,
            () = watch.reached(Phase::Draining) => return None,
        };
        Some(relayed(conn, &header))
    }
}

async fn bounded<F: Future>(limit: Option<Duration>, future: F) -> Option<F::Output> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, future).await.ok(),
        None => Some(future.await),
    }
}

/// `conn` as `header` describes it. A `LOCAL` header (the balancer's own connection, a health
/// check) and one without internet addresses leave the connection's own peer.
fn relayed(mut conn: ConnInfo, header: &ProxyHeader) -> ConnInfo {
    if header.command == Command::Local {
        return conn;
    }
    if let Some(client) = header.client() {
        conn.peer = Some(client);
    }
    if header.client_tls() {
        conn.scheme = Scheme::Https;
    }
    conn
}

/// An accepted connection as [`take`] reads it: peeked at first, then read.
struct Peeking<'a>(&'a mut Stream);

impl AsyncRead for Peeking<'_> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.get_mut().0).poll_read(cx, buf)
    }
}

impl Peek for Peeking<'_> {
    async fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut *self.0 {
            Stream::Tcp(tcp) => tcp.peek(buf).await,
            // tokio has no peek for Unix sockets: the same wait for readiness, then MSG_PEEK.
            Stream::Unix(unix) => loop {
                unix.readable().await?;
                match unix.try_io(Interest::READABLE, || peek_socket(&*unix, buf)) {
                    Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                    peeked => return peeked,
                }
            },
        }
    }
}

fn peek_socket(socket: &impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the initialised bytes are viewed as `MaybeUninit<u8>` only for `peek`, which
    // writes received bytes into them and never uninitialised ones (as socket2 documents for
    // its receive calls), so the slice stays initialised for the caller.
    let uninit = unsafe { &mut *(std::ptr::from_mut::<[u8]>(buf) as *mut [MaybeUninit<u8>]) };
    socket2::SockRef::from(socket).peek(uninit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use granian_proxyprotocol::{Addresses, TlsTlv, encode_v1, encode_v2};
    use granian_serve::Shutdown;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn header(command: Command, tls: bool) -> ProxyHeader {
        ProxyHeader {
            command,
            addresses: Addresses::Inet {
                source: "198.51.100.9:51000".parse().unwrap(),
                destination: "10.0.0.1:443".parse().unwrap(),
            },
            tls: tls.then_some(TlsTlv {
                client: TlsTlv::CLIENT_SSL,
                verify: 0,
                version: None,
            }),
            authority: None,
            alpn: None,
        }
    }

    fn conn(peer: Option<&str>) -> ConnInfo {
        ConnInfo::with_addresses(peer.map(|peer| peer.parse().unwrap()), None, Scheme::Http)
    }

    #[test]
    fn the_header_describes_the_connection() {
        let proxied = relayed(conn(Some("127.0.0.1:4000")), &header(Command::Proxy, true));
        assert_eq!(proxied.peer, Some("198.51.100.9:51000".parse().unwrap()));
        assert_eq!(proxied.scheme, Scheme::Https);
        let local = relayed(conn(Some("127.0.0.1:4000")), &header(Command::Local, true));
        assert_eq!(local.peer, Some("127.0.0.1:4000".parse().unwrap()));
        assert_eq!(local.scheme, Scheme::Http);
        let mut unknown = header(Command::Proxy, false);
        unknown.addresses = Addresses::Unspecified;
        assert_eq!(relayed(conn(None), &unknown).peer, None);
    }

    /// Run `accept` on the server end of a Unix socket pair after the client end wrote `wire`;
    /// the resulting peer and what is left to read.
    async fn accept_unix(wire: &[u8], peer: Option<&str>, trusted: &str) -> Option<(Option<String>, Vec<u8>)> {
        let (server, mut client) = tokio::net::UnixStream::pair().unwrap();
        client.write_all(wire).await.unwrap();
        client.shutdown().await.unwrap();
        let mut stream = Stream::Unix(server);
        let shutdown = Shutdown::new();
        let mut watch = shutdown.watch();
        let proxy = ProxyProtocol::new(trusted.parse().unwrap(), Some(Duration::from_secs(5)));
        let conn = proxy.accept(&mut stream, conn(peer), &mut watch).await?;
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        Some((conn.peer.map(|peer| peer.to_string()), rest))
    }

    #[tokio::test]
    async fn takes_the_header_and_nothing_more() {
        let wire = [
            encode_v2(&header(Command::Proxy, false)),
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        ]
        .concat();
        let (peer, rest) = accept_unix(&wire, None, "127.0.0.1").await.unwrap();
        assert_eq!(peer.as_deref(), Some("198.51.100.9:51000"));
        assert_eq!(rest, b"GET / HTTP/1.1\r\n\r\n");
        let wire = [encode_v1(&header(Command::Proxy, false)), b"PRI * HTTP/2.0".to_vec()].concat();
        let (_, rest) = accept_unix(&wire, None, "127.0.0.1").await.unwrap();
        assert_eq!(rest, b"PRI * HTTP/2.0");
    }

    #[tokio::test]
    async fn refuses_untrusted_peers_and_bad_headers() {
        let wire = encode_v2(&header(Command::Proxy, false));
        assert!(accept_unix(&wire, Some("192.0.2.1:1"), "127.0.0.1").await.is_none());
        assert!(accept_unix(&wire, Some("127.0.0.1:1"), "127.0.0.1").await.is_some());
        assert!(accept_unix(b"GET / HTTP/1.1\r\n\r\n", None, "*").await.is_none());
        assert!(accept_unix(&wire[..wire.len() - 1], None, "*").await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_is_dropped_at_the_deadline() {
        let (server, _client) = tokio::net::UnixStream::pair().unwrap();
        let mut stream = Stream::Unix(server);
        let shutdown = Shutdown::new();
        let mut watch = shutdown.watch();
        let proxy = ProxyProtocol::new(TrustedProxies::everyone(), Some(Duration::from_secs(3)));
        let started = tokio::time::Instant::now();
        assert!(proxy.accept(&mut stream, conn(None), &mut watch).await.is_none());
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }
}
