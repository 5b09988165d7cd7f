/// A setting of the proxy layer that cannot be used. Malformed headers are no error: a request
/// carrying them is served as if they were absent (or, in the walk over the hops, with an
/// unknown client).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An entry of the trusted list is neither an IP address, a network nor `*`.
    #[error("{0:?} is not an IP address, a network (address/length) or '*'")]
    BadAddress(String),
    /// A network's prefix length exceeds its address size (32 bits IPv4, 128 IPv6).
    #[error("{0:?}: the prefix length must be at most 32 (IPv4) or 128 (IPv6)")]
    BadPrefixLength(String),
    /// A network's address has bits set past its prefix length (`10.0.0.1/8`).
    #[error("{0:?} has host bits set; write the network address (such as 10.0.0.0/8)")]
    HostBits(String),
    /// A name given for a proxy header to read is none of those the layer knows.
    #[error(
        "{0:?} is not a proxy header read here (forwarded, x-forwarded-for, x-forwarded-proto, \
         x-forwarded-host, x-forwarded-port, x-forwarded-prefix)"
    )]
    UnknownHeader(String),
    /// The URL path prefix does not start with `/` or holds control characters.
    #[error("url path prefix {0:?} must start with '/' and hold no control characters")]
    BadPathPrefix(String),
}
