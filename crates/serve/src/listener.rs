use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::{ConnInfo, Error, Phase, Scheme, Shutdown, ShutdownWatch};

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
/// on its own task with a [`ShutdownWatch`] that keeps the server's live count.
pub async fn accept_loop<F, Fut>(listener: Listener, shutdown: &Shutdown, scheme: Scheme, serve: F)
where
    F: Fn(Stream, ConnInfo, ShutdownWatch) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut watch = shutdown.watch();
    let bound = listener.local_addr();
    loop {
        let accepted = tokio::select! {
            biased;
            () = watch.reached(Phase::Draining) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer, local)) => {
                let conn = ConnInfo::with_addresses(peer, local.or(bound), scheme);
                tokio::spawn(serve(stream, conn, shutdown.watch()));
            }
            Err(err) if is_transient(&err) => {}
            // Out of descriptors or memory: back off instead of spinning on the error.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
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
