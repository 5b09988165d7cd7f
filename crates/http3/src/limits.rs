use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use quinn::{EndpointConfig, IdleTimeout, TransportConfig, VarInt};

use crate::Error;

/// How HTTP/3 connections are bounded. No `Default`: the values come from the CLI's, which the
/// Python side owns.
#[derive(Debug, Clone)]
pub struct Http3Limits {
    /// Request streams (QUIC bidirectional streams) a client may have open at once.
    pub max_concurrent_streams: u32,
    /// Close a connection that carried no packet for this long; `None` never does (the client's
    /// own timeout still applies). Also bounds a handshake.
    pub idle_timeout: Option<Duration>,
    /// Send a PING this often when the connection is quiet, to keep it (and NAT bindings) alive.
    pub keep_alive_interval: Option<Duration>,
    /// The largest UDP payload received, in bytes (the `max_udp_payload_size` transport
    /// parameter, RFC 9000 §18.2): 1200 to 65527.
    pub max_udp_payload_size: u16,
    /// The per-stream flow control window: request body bytes a client may send ahead of the
    /// application reading them.
    pub initial_stream_window_size: u32,
    /// The connection-level flow control window, in bytes, shared by all its streams.
    pub initial_connection_window_size: u32,
    /// The largest request header section accepted, in bytes as RFC 9114 §4.2.2 counts them
    /// (names and values plus 32 per field): 431 beyond it.
    pub max_headers_size: u64,
    /// The largest request body, in bytes: 413 beyond it.
    pub max_body_size: Option<u64>,
    /// Close a request stream whose header section has not arrived in this time.
    pub header_read_timeout: Option<Duration>,
    /// The longest a read of a request body waits for the client's next bytes: beyond it the
    /// request is answered 408 (or its response cut off, once started) and the client is told
    /// to stop sending. `None` waits as long as the connection lives (its idle timeout).
    pub body_read_timeout: Option<Duration>,
    /// The longest a response waits for the client to take more of it (QUIC flow control):
    /// beyond it the response stream is reset (`H3_REQUEST_CANCELLED`). `None` waits as long as
    /// the connection lives.
    pub send_timeout: Option<Duration>,
    /// Connections this worker serves at once; new ones beyond it are refused
    /// (`CONNECTION_REFUSED`). `None` for no cap.
    pub max_connections: Option<usize>,
    /// Answer a client whose address is not yet validated with a Retry packet (RFC 9000 §8.1.2):
    /// it costs a round trip per connection, and keeps a spoofed source from making the server
    /// spend a handshake (or send its certificate) to someone else.
    pub validate_address: bool,
    /// Let a client move a connection to a new address (RFC 9000 §9). Only sound when a moved
    /// client's datagrams still reach this process: with `SO_REUSEPORT` workers left to the
    /// kernel's address hash they land on another worker; with [`crate::Steering`] they follow
    /// the connection ID (see the crate's front page).
    pub migration: bool,
    /// The `Server` header put on responses that carry none.
    pub server_header: Option<HeaderValue>,
}

impl Http3Limits {
    /// The QUIC transport parameters these limits set.
    pub(crate) fn transport(&self) -> Result<TransportConfig, Error> {
        let mut transport = TransportConfig::default();
        let idle = match self.idle_timeout {
            Some(timeout) => Some(IdleTimeout::try_from(timeout).map_err(|_| Error::Limit {
                what: "idle timeout",
                value: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            })?),
            None => None,
        };
        transport
            .max_concurrent_bidi_streams(VarInt::from_u32(self.max_concurrent_streams))
            // RFC 9114 §6.2: a client opens a control stream and, for QPACK, up to two more; the
            // rest of the credit covers reserved (grease) streams a client may open to exercise
            // the server, which h3 stops at once. Push is not used.
            .max_concurrent_uni_streams(VarInt::from_u32(16))
            .max_idle_timeout(idle)
            .keep_alive_interval(self.keep_alive_interval)
            .stream_receive_window(VarInt::from_u32(self.initial_stream_window_size))
            .receive_window(VarInt::from_u32(self.initial_connection_window_size))
            // QUIC datagrams (RFC 9221) are not offered: HTTP/3 needs none of them.
            .datagram_receive_buffer_size(None);
        Ok(transport)
    }

    /// The endpoint settings these limits set.
    pub(crate) fn endpoint(&self) -> Result<EndpointConfig, Error> {
        let mut endpoint = EndpointConfig::default();
        endpoint
            .max_udp_payload_size(self.max_udp_payload_size)
            .map_err(|_| Error::Limit {
                what: "max UDP payload size",
                value: u64::from(self.max_udp_payload_size),
            })?;
        Ok(endpoint)
    }

    /// The QUIC server settings: TLS, the transport parameters and migration.
    pub(crate) fn server(&self, tls: Arc<rustls::ServerConfig>) -> Result<quinn::ServerConfig, Error> {
        let crypto =
            quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(|err| Error::Tls(err.to_string()))?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        server
            .transport_config(Arc::new(self.transport()?))
            .migration(self.migration);
        Ok(server)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Limits as a test builds them (there is no `Default`).
    pub(crate) fn limits() -> Http3Limits {
        Http3Limits {
            max_concurrent_streams: 100,
            idle_timeout: Some(Duration::from_secs(30)),
            keep_alive_interval: None,
            max_udp_payload_size: 1472,
            initial_stream_window_size: 1024 * 1024,
            initial_connection_window_size: 4 * 1024 * 1024,
            max_headers_size: 16 * 1024,
            max_body_size: None,
            header_read_timeout: Some(Duration::from_secs(5)),
            body_read_timeout: None,
            send_timeout: None,
            max_connections: None,
            validate_address: false,
            migration: false,
            server_header: None,
        }
    }

    #[test]
    fn defaults_convert() {
        let limits = limits();
        assert!(limits.transport().is_ok());
        assert_eq!(limits.endpoint().unwrap().get_max_udp_payload_size(), 1472);
    }

    #[test]
    fn no_idle_timeout_converts() {
        let limits = Http3Limits {
            idle_timeout: None,
            ..limits()
        };
        assert!(limits.transport().is_ok());
    }

    #[test]
    fn idle_timeout_beyond_a_varint_is_refused() {
        let limits = Http3Limits {
            idle_timeout: Some(Duration::from_millis(1 << 62)),
            ..limits()
        };
        assert!(matches!(
            limits.transport(),
            Err(Error::Limit {
                what: "idle timeout",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn udp_payload_bounds(size in any::<u16>()) {
            let limits = Http3Limits { max_udp_payload_size: size, ..limits() };
            let converted = limits.endpoint();
            // RFC 9000 §18.2: below 1200 is invalid; 65527 is the largest a UDP datagram holds.
            prop_assert_eq!(converted.is_ok(), (1200..=65_527).contains(&size));
            if let Ok(endpoint) = converted {
                prop_assert_eq!(endpoint.get_max_udp_payload_size(), u64::from(size));
            }
        }

        #[test]
        fn windows_and_streams_always_convert(
            streams in any::<u32>(),
            stream_window in any::<u32>(),
            connection_window in any::<u32>(),
            idle_ms in 0u64..(1 << 40),
        ) {
            let limits = Http3Limits {
                max_concurrent_streams: streams,
                initial_stream_window_size: stream_window,
                initial_connection_window_size: connection_window,
                idle_timeout: Some(Duration::from_millis(idle_ms)),
                ..limits()
            };
            prop_assert!(limits.transport().is_ok());
        }
    }
}
