use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use granian_serve::{ConnInfo, Handler, Phase, Scheme, ShutdownWatch, TlsInfo};
use rustls::pki_types::CertificateDer;
use tokio::task::JoinSet;
use tokio::time::Instant;
use x509_cert::der::{Decode, EncodePem, pem::LineEnding};

use crate::Http3Limits;
use crate::request::serve_request;

/// What every connection of one endpoint shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) limits: Arc<Http3Limits>,
    /// The address the endpoint's socket is bound to.
    pub(crate) local: SocketAddr,
    /// The server's certificate as PEM, for [`TlsInfo`].
    pub(crate) server_cert: Option<Arc<str>>,
}

/// RFC 9114 §8.1: the code of a connection closed without error.
pub(crate) const H3_NO_ERROR: quinn::VarInt = quinn::VarInt::from_u32(0x100);

/// The protocol version QUIC's handshake runs (RFC 9001 §4.2: TLS 1.3 or later only).
const TLS13: u16 = 0x0304;

/// Serve HTTP/3 on one accepted QUIC connection until the client closes it, it breaks, or the
/// server shuts down: while draining, GOAWAY is sent and open requests finish, then the
/// connection closes once idle (after a few round trips, so the last responses are
/// acknowledged); when closing, the connection is closed at once.
pub(crate) async fn serve_connection<H: Handler>(
    incoming: quinn::Incoming,
    handler: H,
    shared: Arc<Shared>,
    mut shutdown: ShutdownWatch,
) {
    let Ok(connecting) = incoming.accept() else {
        return;
    };
    // The handshake is bounded by the idle timeout.
    let connection = tokio::select! {
        biased;
        () = shutdown.reached(Phase::Closing) => return,
        connected = connecting => match connected {
            Ok(connection) => connection,
            Err(_) => return,
        },
    };
    let conn = Arc::new(conn_info(&connection, &shared));
    let mut builder = h3::server::builder();
    builder.max_field_section_size(shared.limits.max_headers_size);
    // The client may withhold the credit for the control streams h3 opens first.
    let built = tokio::select! {
        biased;
        () = shutdown.reached(Phase::Closing) => return,
        built = builder.build::<_, Bytes>(h3_quinn::Connection::new(connection.clone())) => built,
    };
    let Ok(mut h3) = built else {
        return;
    };
    let mut requests = JoinSet::new();
    let mut draining = false;
    let mut quiet_until: Option<Instant> = None;
    loop {
        if draining && requests.is_empty() {
            quiet_until.get_or_insert_with(|| Instant::now() + linger(connection.rtt()));
        } else {
            quiet_until = None;
        }
        let quiet = async {
            match quiet_until {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            () = shutdown.reached(if draining { Phase::Closing } else { Phase::Draining }) => {
                if shutdown.phase() == Phase::Closing {
                    connection.close(H3_NO_ERROR, b"server closing");
                    return;
                }
                draining = true;
                // RFC 9114 §5.2: GOAWAY names the first request stream not served, the one after
                // the last accepted; later streams are refused by h3 (H3_REQUEST_REJECTED) and may
                // be retried elsewhere.
                tokio::select! {
                    biased;
                    () = shutdown.reached(Phase::Closing) => return,
                    sent = h3.shutdown(1) => if sent.is_err() { break },
                }
            }
            Some(_) = requests.join_next(), if !requests.is_empty() => {}
            accepted = h3.accept() => match accepted {
                Ok(Some(resolver)) => {
                    requests.spawn(serve_request(
                        resolver,
                        handler.clone(),
                        Arc::clone(&conn),
                        Arc::clone(&shared.limits),
                    ));
                }
                // The client sent GOAWAY and its requests are done, closed the connection, broke
                // the protocol (h3 closed it with the error), or it timed out.
                Ok(None) | Err(_) => break,
            },
            () = quiet => break,
        }
    }
    // Dropping `h3` closes the connection (H3_NO_ERROR); requests still running there have lost
    // their client, and dropping `requests` ends them.
}

/// How long a draining connection stays open once idle: enough for the client to acknowledge
/// the last responses (closing drops what is unacknowledged), and to send a request it began
/// before the GOAWAY reached it.
fn linger(rtt: Duration) -> Duration {
    (rtt * 3 + Duration::from_millis(100)).min(Duration::from_secs(2))
}

fn conn_info(connection: &quinn::Connection, shared: &Shared) -> ConnInfo {
    // A socket bound to a wildcard address learns the local address per packet where the system
    // reports it.
    let local = connection
        .local_ip()
        .map_or(shared.local, |ip| SocketAddr::new(ip, shared.local.port()));
    let chain = connection
        .peer_identity()
        .and_then(|identity| identity.downcast::<Vec<CertificateDer<'static>>>().ok())
        .map(|chain| *chain)
        .unwrap_or_default();
    let tls = TlsInfo {
        version: Some(TLS13),
        // quinn does not report the negotiated suite.
        cipher_suite: None,
        server_cert: shared.server_cert.clone(),
        client_cert_name: chain.first().and_then(|der| subject_name(der)),
        client_cert_chain: chain.iter().filter_map(|der| certificate_pem(der)).collect(),
    };
    ConnInfo::new(connection.remote_address(), local, Scheme::Https).with_tls(tls)
}

fn parse_certificate(der: &[u8]) -> Option<x509_cert::Certificate> {
    x509_cert::Certificate::from_der(der).ok()
}

/// A DER certificate as PEM text.
fn certificate_pem(der: &[u8]) -> Option<String> {
    parse_certificate(der)?.to_pem(LineEnding::LF).ok()
}

/// The subject of a DER certificate as an RFC 4514 string.
fn subject_name(der: &[u8]) -> Option<String> {
    Some(parse_certificate(der)?.tbs_certificate.subject.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linger_is_bounded() {
        assert_eq!(linger(Duration::ZERO), Duration::from_millis(100));
        assert_eq!(linger(Duration::from_millis(10)), Duration::from_millis(130));
        assert_eq!(linger(Duration::from_secs(5)), Duration::from_secs(2));
    }

    #[test]
    fn garbage_certificates_are_skipped() {
        assert_eq!(certificate_pem(b"not a certificate"), None);
        assert_eq!(subject_name(b""), None);
    }
}
