use std::sync::Arc;
use std::time::Duration;

use granian_serve::TlsInfo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{Error, MaybeTls, TlsSettings, pem};

/// Runs the server side of TLS handshakes with one configuration. Cheap to clone.
#[derive(Clone)]
pub struct TlsAcceptor {
    inner: tokio_rustls::TlsAcceptor,
    server_cert: Option<Arc<str>>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A connection whose handshake completed.
#[derive(Debug)]
pub struct Accepted<S> {
    /// The decrypted connection.
    pub io: MaybeTls<S>,
    /// What the handshake established, for interfaces.
    pub info: TlsInfo,
    /// The ALPN protocol agreed on, if the client offered any the server speaks.
    pub alpn: Option<Vec<u8>>,
}

impl TlsAcceptor {
    /// Build the configuration from `settings`; each handshake must complete within `timeout`.
    pub fn new(settings: &TlsSettings, timeout: Option<Duration>) -> Result<Self, Error> {
        let config = settings.server_config()?;
        let server_cert = pem::certificates("certificate", &settings.certificate)?
            .first()
            .map(|der| Arc::from(pem::certificate_pem(der)));
        Ok(Self {
            inner: tokio_rustls::TlsAcceptor::from(config),
            server_cert,
            timeout,
        })
    }

    /// The server's own certificate as PEM, as interfaces are told of it: for another endpoint
    /// serving the same certificate (HTTP/3).
    #[must_use]
    pub fn server_cert(&self) -> Option<Arc<str>> {
        self.server_cert.clone()
    }

    /// Run the handshake on `io`, on the calling task.
    pub async fn accept<S>(&self, io: S) -> Result<Accepted<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake = self.inner.accept(io);
        let stream = match self.timeout {
            Some(limit) => tokio::time::timeout(limit, handshake)
                .await
                .map_err(|_| Error::HandshakeTimeout)??,
            None => handshake.await?,
        };
        let (_, connection) = stream.get_ref();
        let chain = connection.peer_certificates().unwrap_or_default();
        let info = TlsInfo {
            version: connection.protocol_version().map(u16::from),
            cipher_suite: connection
                .negotiated_cipher_suite()
                .map(|suite| u16::from(suite.suite())),
            server_cert: self.server_cert.clone(),
            client_cert_name: chain.first().and_then(|der| pem::subject_name(der)),
            client_cert_chain: chain.iter().map(|der| pem::certificate_pem(der)).collect(),
        };
        let alpn = connection.alpn_protocol().map(<[u8]>::to_vec);
        Ok(Accepted {
            io: MaybeTls::Tls(Box::new(stream)),
            info,
            alpn,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TlsVersion;
    use std::path::PathBuf;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::{ALPN_H2, ALPN_HTTP11};

    /// Trusts any server: the handshake, not certificate validation, is under test here.
    #[derive(Debug)]
    struct AnyServer;

    impl ServerCertVerifier for AnyServer {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            _message: &[u8],
            _cert: &CertificateDer<'_>,
            _dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }

        fn verify_tls13_signature(
            &self,
            _message: &[u8],
            _cert: &CertificateDer<'_>,
            _dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            Ok(HandshakeSignatureValid::assertion())
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    fn data(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
    }

    fn settings(alpn: Vec<Vec<u8>>) -> TlsSettings {
        TlsSettings {
            certificate: data("cert.pem"),
            key: data("key.pem"),
            key_password: None,
            min_version: TlsVersion::Tls12,
            alpn,
            client_ca: None,
            client_verify: false,
            client_crls: Vec::new(),
        }
    }

    async fn handshake(client_alpn: &[&[u8]]) -> (Accepted<tokio::io::DuplexStream>, Vec<u8>) {
        let settings = settings(vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()]);
        let acceptor = TlsAcceptor::new(&settings, Some(Duration::from_secs(5))).unwrap();
        let mut client_config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServer))
                .with_no_client_auth();
        client_config.alpn_protocols = client_alpn.iter().map(|p| p.to_vec()).collect();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let client = tokio::spawn(async move {
            let name = ServerName::try_from("localhost").unwrap();
            let mut stream = connector.connect(name, client_io).await.unwrap();
            stream.write_all(b"ping").await.unwrap();
            stream.flush().await.unwrap();
            let mut reply = vec![0; 4];
            stream.read_exact(&mut reply).await.unwrap();
            reply
        });
        let mut accepted = acceptor.accept(server_io).await.unwrap();
        let mut ping = [0; 4];
        accepted.io.read_exact(&mut ping).await.unwrap();
        accepted.io.write_all(b"pong").await.unwrap();
        accepted.io.flush().await.unwrap();
        assert_eq!(&ping, b"ping");
        let reply = client.await.unwrap();
        (accepted, reply)
    }

    #[tokio::test]
    async fn negotiates_h2_and_reports_the_session() {
        let (accepted, reply) = handshake(&[b"h2", b"http/1.1"]).await;
        assert_eq!(reply, b"pong");
        assert_eq!(accepted.alpn.as_deref(), Some(&b"h2"[..]));
        assert_eq!(accepted.info.version, Some(0x0304));
        assert!(accepted.info.cipher_suite.is_some());
        assert!(accepted.info.client_cert_chain.is_empty());
        assert!(
            accepted
                .info
                .server_cert
                .as_deref()
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
    }

    #[tokio::test]
    async fn negotiates_http11_or_nothing() {
        let (accepted, _) = handshake(&[b"http/1.1"]).await;
        assert_eq!(accepted.alpn.as_deref(), Some(&b"http/1.1"[..]));
        let (accepted, _) = handshake(&[]).await;
        assert_eq!(accepted.alpn, None);
    }

    /// The server's side of a TLS 1.3 handshake with a client presenting the certificate of
    /// testdata `name` (signed by `cert.pem`), against a server that checks the lists `crls`.
    async fn client_certificate_handshake(
        name: &str,
        crls: &[&str],
    ) -> Result<Accepted<tokio::io::DuplexStream>, Error> {
        use rustls_pki_types::pem::PemObject;
        let settings = TlsSettings {
            client_ca: Some(data("cert.pem")),
            client_verify: true,
            client_crls: crls.iter().map(|crl| data(crl)).collect(),
            min_version: TlsVersion::Tls13,
            ..settings(Vec::new())
        };
        let acceptor = TlsAcceptor::new(&settings, Some(Duration::from_secs(5))).unwrap();
        let chain = vec![CertificateDer::from_pem_file(data(&format!("{name}.pem"))).unwrap()];
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(data(&format!("{name}-key.pem"))).unwrap();
        let client_config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServer))
                .with_client_auth_cert(chain, key)
                .unwrap();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config));
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let client = tokio::spawn(async move {
            let name = ServerName::try_from("localhost").unwrap();
            // In TLS 1.3 the client learns of a refused certificate on its first read.
            let mut stream = connector.connect(name, client_io).await?;
            let mut byte = [0; 1];
            stream.read(&mut byte).await
        });
        let accepted = acceptor.accept(server_io).await;
        drop(client);
        accepted
    }

    #[tokio::test]
    async fn a_revoked_client_certificate_fails_the_handshake() {
        let accepted = client_certificate_handshake("client-valid", &["crl.pem"])
            .await
            .unwrap();
        assert_eq!(
            accepted.info.client_cert_name.as_deref(),
            Some("CN=client-valid.granian.test")
        );
        let err = client_certificate_handshake("client-revoked", &["crl.pem"])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("Revoked"), "{err}");
    }

    #[tokio::test]
    async fn the_newest_list_of_an_issuer_decides() {
        // The older list revokes nothing: alone, it lets the certificate through.
        assert!(
            client_certificate_handshake("client-revoked", &["crl-older-empty.pem"])
                .await
                .is_ok()
        );
        for crls in [["crl-older-empty.pem", "crl.pem"], ["crl.pem", "crl-older-empty.pem"]] {
            let refused = client_certificate_handshake("client-revoked", &crls).await;
            assert!(refused.is_err(), "{crls:?}");
        }
    }

    #[tokio::test]
    async fn handshake_times_out() {
        let acceptor = TlsAcceptor::new(&settings(Vec::new()), Some(Duration::from_millis(50))).unwrap();
        let (_client, server_io) = tokio::io::duplex(1024);
        assert!(matches!(acceptor.accept(server_io).await, Err(Error::HandshakeTimeout)));
    }
}
