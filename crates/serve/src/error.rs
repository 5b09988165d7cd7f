/// Why the listener or the runtime could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file descriptor handed over is not a listening stream socket.
    #[error("file descriptor {fd} is not a listening socket")]
    NotListening {
        /// The descriptor that was checked.
        fd: i32,
    },
    /// The operating system refused an operation on the socket or the runtime threads.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
