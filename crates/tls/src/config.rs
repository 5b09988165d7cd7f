use std::path::PathBuf;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use crate::{Error, pem};

/// The ALPN identifier of HTTP/2 over TLS (RFC 9113 §3.2).
pub const ALPN_H2: &[u8] = b"h2";
/// The ALPN identifier of HTTP/1.1 (RFC 7301 §6).
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// The oldest TLS version a server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl TlsVersion {
    /// Parse the CLI spelling, `tls1.2` or `tls1.3`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "tls1.2" => Some(Self::Tls12),
            "tls1.3" => Some(Self::Tls13),
            _ => None,
        }
    }

    /// The CLI spelling, `tls1.2` or `tls1.3`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls12 => "tls1.2",
            Self::Tls13 => "tls1.3",
        }
    }

    fn versions(self) -> &'static [&'static SupportedProtocolVersion] {
        static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
        match self {
            Self::Tls12 => rustls::ALL_VERSIONS,
            Self::Tls13 => TLS13_ONLY,
        }
    }
}

/// Where a server's TLS material is and how clients are received.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// PEM file with the certificate chain, the server's own certificate first.
    pub certificate: PathBuf,
    /// PEM file with the private key.
    pub key: PathBuf,
    /// Password of an encrypted PKCS#8 key.
    pub key_password: Option<String>,
    /// The oldest protocol version accepted.
    pub min_version: TlsVersion,
    /// ALPN protocols offered, in the server's order of preference.
    pub alpn: Vec<Vec<u8>>,
    /// PEM file with the CAs client certificates are verified against; without it, clients
    /// are not asked for a certificate.
    pub client_ca: Option<PathBuf>,
    /// Refuse clients without a certificate signed by `client_ca` (otherwise a certificate is
    /// asked for, verified when given, and optional).
    pub client_verify: bool,
    /// PEM files of certificate revocation lists a client certificate is checked against (with
    /// `client_ca` only): a certificate of the chain its issuer's list revokes fails the
    /// handshake, and so does one whose issuer has no list here (the CA itself, a trust anchor,
    /// is not checked). Of several lists of one issuer the newest (`thisUpdate`) decides.
    pub client_crls: Vec<PathBuf>,
}

impl TlsSettings {
    /// Read the files and build the rustls configuration.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = pem::certificates("certificate", &self.certificate)?;
        let key = pem::private_key(&self.key, self.key_password.as_deref())?;
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(self.min_version.versions())
            .map_err(|err| Error::Config(err.to_string()))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for cert in pem::certificates("CA", path)? {
                    roots.add(cert).map_err(|err| Error::Pem {
                        what: "CA",
                        path: path.clone(),
                        reason: err.to_string(),
                    })?;
                }
                let mut crls = Vec::new();
                for path in &self.client_crls {
                    crls.extend(pem::revocation_lists(path)?);
                }
                // rustls checks a certificate against the first list of its issuer: the newest
                // goes first, as it holds every revocation still in force (RFC 5280 §5).
                crls.sort_by_key(|crl| std::cmp::Reverse(pem::issued_at(crl)));
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).with_crls(crls);
                let verifier = if self.client_verify {
                    verifier
                } else {
                    verifier.allow_unauthenticated()
                };
                builder.with_client_cert_verifier(verifier.build().map_err(|err| Error::Config(err.to_string()))?)
            }
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|err| Error::Config(err.to_string()))?;
        config.alpn_protocols.clone_from(&self.alpn);
        Ok(Arc::new(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
    }

    fn settings() -> TlsSettings {
        TlsSettings {
            certificate: data("cert.pem"),
            key: data("key-encrypted.pem"),
            key_password: Some("secret".into()),
            min_version: TlsVersion::Tls12,
            alpn: vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()],
            client_ca: None,
            client_verify: false,
            client_crls: Vec::new(),
        }
    }

    #[test]
    fn parses_versions() {
        assert_eq!(TlsVersion::parse("tls1.2"), Some(TlsVersion::Tls12));
        assert_eq!(TlsVersion::parse("tls1.3"), Some(TlsVersion::Tls13));
        assert_eq!(TlsVersion::parse("ssl3"), None);
        for version in [TlsVersion::Tls12, TlsVersion::Tls13] {
            assert_eq!(TlsVersion::parse(version.as_str()), Some(version));
        }
    }

    #[test]
    fn builds_with_alpn() {
        let config = settings().server_config().unwrap();
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    }

    #[test]
    fn builds_with_client_ca() {
        let config = TlsSettings {
            client_ca: Some(data("cert.pem")),
            client_verify: true,
            min_version: TlsVersion::Tls13,
            ..settings()
        };
        assert!(config.server_config().is_ok());
    }

    #[test]
    fn builds_with_revocation_lists() {
        let config = TlsSettings {
            client_ca: Some(data("cert.pem")),
            client_crls: vec![data("crl.pem"), data("crl.pem")],
            ..settings()
        };
        assert!(config.server_config().is_ok());
    }

    #[test]
    fn a_file_without_a_revocation_list_fails() {
        for (file, reason) in [("cert.pem", "no X509 CRL section"), ("missing.pem", "cannot read CRL")] {
            let config = TlsSettings {
                client_ca: Some(data("cert.pem")),
                client_crls: vec![data(file)],
                ..settings()
            };
            let err = config.server_config().unwrap_err().to_string();
            assert!(err.contains(reason), "{err}");
        }
    }

    #[test]
    fn wrong_password_fails() {
        let config = TlsSettings {
            key_password: Some("nope".into()),
            ..settings()
        };
        assert!(matches!(config.server_config(), Err(Error::WrongPassword { .. })));
    }

    #[test]
    fn key_file_without_key_fails() {
        let config = TlsSettings {
            key: data("cert.pem"),
            ..settings()
        };
        assert!(matches!(config.server_config(), Err(Error::Pem { .. })));
    }
}
