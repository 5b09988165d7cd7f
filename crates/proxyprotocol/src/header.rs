use std::net::SocketAddr;

/// What a PROXY header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHeader {
    /// Whether the connection is relayed for a client or is the balancer's own.
    pub command: Command,
    /// The client's and the server's addresses, as the balancer saw them.
    pub addresses: Addresses,
    /// Version 2 `PP2_TYPE_SSL`: the client spoke TLS to the balancer.
    pub tls: Option<TlsTlv>,
    /// Version 2 `PP2_TYPE_AUTHORITY`: the host name the client asked for (SNI).
    pub authority: Option<String>,
    /// Version 2 `PP2_TYPE_ALPN`: the protocol agreed with the client.
    pub alpn: Option<Vec<u8>>,
}

impl ProxyHeader {
    /// The client address to report, when the header carries one: a `Proxy` command with
    /// internet addresses.
    #[must_use]
    pub fn client(&self) -> Option<SocketAddr> {
        match (&self.command, &self.addresses) {
            (Command::Proxy, Addresses::Inet { source, .. }) => Some(*source),
            _ => None,
        }
    }

    /// Whether the client reached the balancer over TLS (version 2 only; version 1 cannot say).
    #[must_use]
    pub fn client_tls(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|tls| tls.client & TlsTlv::CLIENT_SSL != 0)
    }
}

/// The command of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Relayed for a client (v1 always; v2 `PROXY`).
    Proxy,
    /// The balancer's own connection, a health check for instance (v2 `LOCAL`): the
    /// addresses are those of the connection itself.
    Local,
}

/// The addresses of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addresses {
    /// `UNKNOWN` (v1) or `AF_UNSPEC` (v2): the balancer did not say.
    Unspecified,
    /// TCP or UDP over IPv4 or IPv6.
    Inet {
        /// The client.
        source: SocketAddr,
        /// The address the client connected to.
        destination: SocketAddr,
    },
    /// Unix sockets (v2 only), paths without their trailing NULs.
    Unix {
        /// The client's socket path.
        source: Vec<u8>,
        /// The server's socket path.
        destination: Vec<u8>,
    },
}

/// The `PP2_TYPE_SSL` TLV: how the client connected to the balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsTlv {
    /// `PP2_CLIENT_*` bits.
    pub client: u8,
    /// 0 when the client presented a certificate that the balancer verified.
    pub verify: u32,
    /// `PP2_SUBTYPE_SSL_VERSION`, such as `TLSv1.3`.
    pub version: Option<String>,
}

impl TlsTlv {
    /// The client connected over TLS.
    pub const CLIENT_SSL: u8 = 0x01;
    /// The client sent a certificate on this connection.
    pub const CLIENT_CERT_CONN: u8 = 0x02;
    /// The client sent a certificate on this TLS session.
    pub const CLIENT_CERT_SESS: u8 = 0x04;
}
