/// Why an HTTP/2 connection ended other than by a clean close.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A protocol error, a reset or a broken transport; hyper sent GOAWAY where it could.
    #[error("http/2 connection: {0}")]
    Protocol(#[from] hyper::Error),
}
