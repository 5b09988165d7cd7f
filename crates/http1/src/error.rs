/// Why an HTTP/1.1 connection ended other than by a clean close.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol, timed out or went away mid-message; hyper has already
    /// answered what could be answered (400, 431) before closing.
    #[error("http/1.1 connection: {0}")]
    Protocol(#[from] hyper::Error),
}
