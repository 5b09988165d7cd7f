/// What can be wrong with the response layer's settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A compression algorithm this server does not implement.
    #[error("unknown compression algorithm {0:?} (expected br, zstd or gzip)")]
    UnknownEncoding(String),
}
