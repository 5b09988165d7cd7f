/// What can be wrong with the response layer's settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A compression algorithm this server does not implement.
    #[error("unknown compression algorithm {0:?} (expected br, zstd or gzip)")]
    UnknownEncoding(String),
    /// A `Server` header value that HTTP does not allow (control characters, non-ASCII).
    #[error("server header {0:?} is not a valid header value (printable ASCII only)")]
    BadServerHeader(String),
}
