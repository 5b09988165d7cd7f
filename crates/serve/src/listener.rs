use std::future::Future;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

use crate::{ConnInfo, Error, Phase, Scheme, Shutdown, ShutdownWatch};

/// Build the runtime connections run on: `threads` worker threads named `granian-rt`.
pub fn runtime(threads: usize) -> Result<tokio::runtime::Runtime, Error> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("granian-rt")
        .enable_all()
        .build()?)
}

/// Take a listening TCP socket by descriptor. The descriptor is duplicated: the caller keeps
/// its own (the master process and sibling workers share the one socket). Must run inside a
/// runtime context.
pub fn listener_from_fd(fd: RawFd) -> Result<TcpListener, Error> {
    // SAFETY: the descriptor is only borrowed for the duration of `try_clone_to_owned`, which
    // duplicates it; the caller's descriptor stays open and owned by the caller.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let owned: OwnedFd = borrowed.try_clone_to_owned()?;
    let socket = socket2::Socket::from(owned);
    if !socket.is_listener()? {
        return Err(Error::NotListening { fd });
    }
    socket.set_nonblocking(true)?;
    let std_listener: std::net::TcpListener = socket.into();
    Ok(TcpListener::from_std(std_listener)?)
}

/// Accept connections until the server leaves [`Phase::Running`], handing each to `serve`
/// on its own task with a [`ShutdownWatch`] that keeps the server's live count.
pub async fn accept_loop<F, Fut>(listener: TcpListener, shutdown: &Shutdown, scheme: Scheme, serve: F)
where
    F: Fn(TcpStream, Arc<ConnInfo>, ShutdownWatch) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut watch = shutdown.watch();
    let local = listener.local_addr().ok();
    loop {
        let accepted = tokio::select! {
            biased;
            () = watch.reached(Phase::Draining) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let local = stream.local_addr().ok().or(local).unwrap_or(peer);
                let conn = Arc::new(ConnInfo::new(peer, local, scheme));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
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
                        let _ = stream.write_all(conn.peer.ip().to_string().as_bytes()).await;
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
}
