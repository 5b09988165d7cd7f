//! TLS for granian's listeners, on rustls with the `ring` provider: a server configuration built
//! from PEM files ([`TlsSettings`], with encrypted PKCS#8 keys decrypted by the `pkcs8` crate,
//! client certificates verified against CAs and certificate revocation lists), the handshake on an
//! accepted connection ([`TlsAcceptor`]), and what the handshake tells an interface
//! ([`granian_serve::TlsInfo`]: version, cipher suite, client certificates). The negotiated ALPN
//! protocol is handed back so the caller picks HTTP/2 or HTTP/1.1 from it.

mod acceptor;
mod config;
mod error;
mod io;
mod pem;

pub use acceptor::{Accepted, TlsAcceptor};
pub use config::{ALPN_H2, ALPN_HTTP11, TlsSettings, TlsVersion};
pub use error::Error;
pub use io::MaybeTls;
