use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::{ConnInfo, ConnectionSlots, Error, Phase, Scheme, Shutdown, ShutdownWatch};

/// A listening stream socket: TCP (IPv4 or IPv6) or Unix.
#[derive(Debug)]
pub enum Listener {
    /// A TCP socket.
    Tcp(TcpListener),
    /// A Unix domain socket.
    Unix(UnixListener),
}

/// One accepted connection, from either kind of [`Listener`].
#[derive(Debug)]
pub enum Stream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix domain socket connection.
    Unix(UnixStream),
}

impl Listener {
    /// Wait for the next connection: the stream, the client's address and the local one
    /// (both `None` on a Unix socket, whose peers have no address worth reporting).
    async fn accept(&self) -> io::Result<(Stream, Option<SocketAddr>, Option<SocketAddr>)> {
        match self {
            Self::Tcp(listener) => {
                let (stream, peer) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().ok();
                Ok((Stream::Tcp(stream), Some(peer), local))
            }
            Self::Unix(listener) => {
                let (stream, _) = listener.accept().await?;
                Ok((Stream::Unix(stream), None, None))
            }
        }
    }

    /// The address a TCP listener is bound to.
    #[must_use]
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Self::Tcp(listener) => listener.local_addr().ok(),
            Self::Unix(_) => None,
        }
    }
}

/// Take a listening stream socket (TCP or Unix) by descriptor. The descriptor is duplicated:
/// the caller keeps its own (the master process and sibling workers share the one socket).
/// Must run inside a runtime context.
pub fn listener_from_fd(fd: RawFd) -> Result<Listener, Error> {
    // SAFETY: the descriptor is only borrowed for the duration of `try_clone_to_owned`, which
    // duplicates it; the caller's descriptor stays open and owned by the caller.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let owned: OwnedFd = borrowed.try_clone_to_owned()?;
    let socket = socket2::Socket::from(owned);
    if !socket.is_listener()? || socket.r#type()? != socket2::Type::STREAM {
        return Err(Error::NotListening { fd });
    }
    socket.set_nonblocking(true)?;
    if socket.domain()? == socket2::Domain::UNIX {
        let std_listener = std::os::unix::net::UnixListener::from(OwnedFd::from(socket));
        return Ok(Listener::Unix(UnixListener::from_std(std_listener)?));
    }
    let std_listener: std::net::TcpListener = socket.into();
    Ok(Listener::Tcp(TcpListener::from_std(std_listener)?))
}

/// Accept connections until the server leaves [`Phase::Running`], handing each to `serve`
/// on its own task with a [`ShutdownWatch`] that keeps the server's live count and holds the
/// connection's place among `slots`. Without a free slot the loop stops accepting: new
/// connections wait in the listen queue (see [`ConnectionSlots`]).
///
/// An accept that fails for want of resources (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`) leaves
/// the connection in the queue; the loop waits for a connection to close (or a pause growing
/// from 50 ms to 1 s) before it tries again, while the open connections are served as before.
/// `report` hears of such failures at most once per 10 seconds.
pub async fn accept_loop<F, Fut, R>(
    listener: Listener,
    shutdown: &Shutdown,
    scheme: Scheme,
    slots: &ConnectionSlots,
    mut report: R,
    serve: F,
) where
    F: Fn(Stream, ConnInfo, ShutdownWatch) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
    R: FnMut(&AcceptFailure),
{
    let mut watch = shutdown.watch();
    let bound = listener.local_addr();
    let mut failures = Failures::default();
    // The room of a failed accept, kept for the next one.
    let mut spare = None;
    loop {
        let room = if let Some(room) = spare.take() {
            room
        } else {
            tokio::select! {
                biased;
                () = watch.reached(Phase::Draining) => break,
                room = slots.acquire() => room,
            }
        };
        let accepted = tokio::select! {
            biased;
            () = watch.reached(Phase::Draining) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer, local)) => {
                failures.recovered();
                let conn = ConnInfo::with_addresses(peer, local.or(bound), scheme);
                tokio::spawn(serve(stream, conn, shutdown.watch_slot(slots.assign(room))));
            }
            Err(err) if is_transient(&err) => spare = Some(room),
            Err(err) => {
                spare = Some(room);
                // The spare room is not a connection.
                if let Some(failure) = failures.failed(err, slots.open().saturating_sub(1)) {
                    report(&failure);
                }
                let pause = failures.pause();
                tokio::select! {
                    biased;
                    () = watch.reached(Phase::Draining) => break,
                    () = slots.released() => {}
                    () = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}

/// An accept that failed for another reason than the client (out of descriptors, memory), as
/// the accept loop reports it: the error, the connections open, and how many failures the
/// report stands for (those since the previous one, this one included).
#[derive(Debug)]
pub struct AcceptFailure {
    /// What accept returned.
    pub error: io::Error,
    /// Connections open when it failed.
    pub open: usize,
    /// Failures since the previous report, this one included.
    pub count: u64,
}

impl std::fmt::Display for AcceptFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot accept connections: {} ({} failure{} since the last report); serving the {} open \
             connections, new ones wait in the listen queue",
            self.error,
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.open
        )
    }
}

/// How often the accept loop reports failures, at most.
const REPORT_EVERY: Duration = Duration::from_secs(10);
/// The first pause after a failed accept, doubled at each failure in a row up to `MAX_PAUSE`.
const MIN_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// The accept loop's failures in a row: when to report, how long to pause.
#[derive(Debug)]
struct Failures {
    unreported: u64,
    reported: Option<tokio::time::Instant>,
    pause: Duration,
}

impl Default for Failures {
    fn default() -> Self {
        Self {
            unreported: 0,
            reported: None,
            pause: MIN_PAUSE,
        }
    }
}

impl Failures {
    /// Count a failure; the report to make, when the last one is old enough.
    fn failed(&mut self, error: io::Error, open: usize) -> Option<AcceptFailure> {
        self.unreported += 1;
        let now = tokio::time::Instant::now();
        if self.reported.is_some_and(|at| now.duration_since(at) < REPORT_EVERY) {
            return None;
        }
        self.reported = Some(now);
        let count = std::mem::take(&mut self.unreported);
        Some(AcceptFailure { error, open, count })
    }

    /// The pause before the next accept, longer each time in a row.
    fn pause(&mut self) -> Duration {
        let pause = self.pause;
        self.pause = (pause * 2).min(MAX_PAUSE);
        pause
    }

    /// An accept succeeded: the next failure pauses briefly again (reports stay spaced).
    fn recovered(&mut self) {
        self.pause = MIN_PAUSE;
    }
}

fn is_transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted
    )
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_read(cx, buf),
            Self::Unix(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_write(cx, buf),
            Self::Unix(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Self::Unix(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Tcp(stream) => stream.is_write_vectored(),
            Self::Unix(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_flush(cx),
            Self::Unix(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(stream) => Pin::new(stream).poll_shutdown(cx),
            Self::Unix(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn serves_until_draining() {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener = listener_from_fd(std_listener.as_raw_fd()).unwrap();
        let shutdown = Arc::new(Shutdown::new());
        let acceptor = {
            let shutdown = Arc::clone(&shutdown);
            tokio::spawn(async move {
                accept_loop(
                    listener,
                    &shutdown,
                    Scheme::Http,
                    &ConnectionSlots::new(8),
                    |_| {},
                    |mut stream, conn, _watch| async move {
                        let peer = conn.peer.map(|addr| addr.ip().to_string()).unwrap_or_default();
                        let _ = stream.write_all(peer.as_bytes()).await;
                    },
                )
                .await;
            })
        };
        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut reply = String::new();
        client.read_to_string(&mut reply).await.unwrap();
        assert_eq!(reply, "127.0.0.1");
        shutdown.advance(Phase::Draining);
        acceptor.await.unwrap();
        shutdown.wait_idle().await;
    }

    #[tokio::test]
    async fn stops_accepting_at_the_cap() {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener = listener_from_fd(std_listener.as_raw_fd()).unwrap();
        let shutdown = Arc::new(Shutdown::new());
        let slots = ConnectionSlots::new(2);
        let (served_tx, mut served) = tokio::sync::mpsc::unbounded_channel();
        let acceptor = {
            let shutdown = Arc::clone(&shutdown);
            let slots = slots.clone();
            tokio::spawn(async move {
                accept_loop(
                    listener,
                    &shutdown,
                    Scheme::Http,
                    &slots,
                    |_| {},
                    move |mut stream, _conn, watch| {
                        let served = served_tx.clone();
                        async move {
                            // Busy until the client closes, so never reclaimed.
                            let guard = watch.in_flight().enter();
                            let _ = served.send(());
                            let mut buf = [0u8; 1];
                            let _ = stream.read(&mut buf).await;
                            drop((guard, watch));
                        }
                    },
                )
                .await;
            })
        };
        let first = TcpStream::connect(addr).await.unwrap();
        let _second = TcpStream::connect(addr).await.unwrap();
        let _third = TcpStream::connect(addr).await.unwrap();
        served.recv().await.unwrap();
        served.recv().await.unwrap();
        // The third waits in the listen queue while both slots are busy.
        let waited = tokio::time::timeout(Duration::from_millis(300), served.recv()).await;
        assert!(waited.is_err(), "accepted beyond the cap");
        assert_eq!(slots.open(), 2);
        drop(first);
        served.recv().await.unwrap();
        shutdown.advance(Phase::Draining);
        acceptor.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_reported_once_per_interval_with_growing_pauses() {
        let mut failures = Failures::default();
        // EMFILE on Linux and the BSDs.
        let emfile = || io::Error::from_raw_os_error(24);
        let first = failures.failed(emfile(), 7).expect("the first failure is reported");
        assert_eq!((first.open, first.count), (7, 1));
        assert!(first.to_string().contains("serving the 7 open connections"), "{first}");
        let pauses: Vec<_> = (0..8).map(|_| failures.pause()).collect();
        assert_eq!(pauses[0], MIN_PAUSE);
        assert_eq!(pauses[1], MIN_PAUSE * 2);
        assert_eq!(pauses[7], MAX_PAUSE);
        for _ in 0..50 {
            assert!(failures.failed(emfile(), 7).is_none());
        }
        tokio::time::advance(REPORT_EVERY).await;
        let next = failures.failed(emfile(), 3).expect("reported again after the interval");
        assert_eq!(next.count, 51);
        failures.recovered();
        assert_eq!(failures.pause(), MIN_PAUSE);
    }

    #[tokio::test]
    async fn rejects_non_listening_socket() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(listener_from_fd(socket.as_raw_fd()).is_err());
    }

    #[tokio::test]
    async fn serves_unix_sockets_without_addresses() {
        let dir = std::env::temp_dir().join(format!("granian-serve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("uds.sock");
        let _ = std::fs::remove_file(&path);
        let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let listener = listener_from_fd(std_listener.as_raw_fd()).unwrap();
        assert!(matches!(listener, Listener::Unix(_)));
        assert_eq!(listener.local_addr(), None);
        let shutdown = Arc::new(Shutdown::new());
        let acceptor = {
            let shutdown = Arc::clone(&shutdown);
            tokio::spawn(async move {
                accept_loop(
                    listener,
                    &shutdown,
                    Scheme::Http,
                    &ConnectionSlots::new(8),
                    |_| {},
                    |mut stream, conn, _watch| async move {
                        let reply = format!("{:?} {:?}", conn.peer, conn.local);
                        let _ = stream.write_all(reply.as_bytes()).await;
                    },
                )
                .await;
            })
        };
        let mut client = UnixStream::connect(&path).await.unwrap();
        let mut reply = String::new();
        client.read_to_string(&mut reply).await.unwrap();
        assert_eq!(reply, "None None");
        shutdown.advance(Phase::Draining);
        acceptor.await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn serves_ipv6() {
        let Ok(std_listener) = std::net::TcpListener::bind("[::1]:0") else {
            return; // no IPv6 loopback on this machine
        };
        let addr = std_listener.local_addr().unwrap();
        let listener = listener_from_fd(std_listener.as_raw_fd()).unwrap();
        let shutdown = Arc::new(Shutdown::new());
        let acceptor = {
            let shutdown = Arc::clone(&shutdown);
            tokio::spawn(async move {
                accept_loop(
                    listener,
                    &shutdown,
                    Scheme::Http,
                    &ConnectionSlots::new(8),
                    |_| {},
                    |mut stream, conn, _watch| async move {
                        let reply = format!("{}", conn.local.unwrap());
                        let _ = stream.write_all(reply.as_bytes()).await;
                    },
                )
                .await;
            })
        };
        let mut client = TcpStream::connect(addr).await.unwrap();
        let mut reply = String::new();
        client.read_to_string(&mut reply).await.unwrap();
        assert_eq!(reply, addr.to_string());
        shutdown.advance(Phase::Draining);
        acceptor.await.unwrap();
    }
}
