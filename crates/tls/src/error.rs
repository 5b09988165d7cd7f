use std::path::PathBuf;

/// Why a TLS configuration could not be built, or a handshake failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A certificate, key or CA file could not be read.
    #[error("cannot read {what} '{path}': {source}")]
    Read {
        /// Which file (`certificate`, `key`, `CA`, `CRL`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file holds no PEM section of the kind needed, or a malformed one.
    #[error("{what} '{path}': {reason}")]
    Pem {
        /// Which file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key is encrypted and no password was given.
    #[error("key '{path}' is encrypted: give its password (--ssl-keyfile-password)")]
    PasswordNeeded {
        /// The key file.
        path: PathBuf,
    },
    /// The password does not decrypt the key (or the key is corrupt).
    #[error("cannot decrypt key '{path}': wrong password, or an unsupported encryption scheme")]
    WrongPassword {
        /// The key file.
        path: PathBuf,
    },
    /// rustls refused the configuration (a key that does not match the certificate, an
    /// unusable CA...).
    #[error("tls configuration: {0}")]
    Config(String),
    /// The client did not complete the handshake in time.
    #[error("tls handshake timed out")]
    HandshakeTimeout,
    /// The handshake failed (bad client certificate, no common protocol version...).
    #[error("tls handshake: {0}")]
    Handshake(#[from] std::io::Error),
}
