/// Why an HTTP/3 endpoint could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TLS configuration does not offer `h3` through ALPN: no client would speak HTTP/3.
    #[error("tls configuration does not offer the h3 alpn protocol")]
    NoH3Alpn,
    /// The TLS configuration cannot carry QUIC (it lacks TLS 1.3 or its initial cipher suite).
    #[error("tls configuration unusable for quic: {0}")]
    Tls(String),
    /// A limit is outside what QUIC can express.
    #[error("{what} out of range: {value}")]
    Limit {
        /// Which limit.
        what: &'static str,
        /// The value given.
        value: u64,
    },
    /// The socket could not be set up.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}
