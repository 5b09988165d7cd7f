/// Why a PROXY protocol header was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The connection does not start with a PROXY header of either version.
    #[error("connection does not start with a PROXY protocol header")]
    Missing,
    /// A version 1 header without its CRLF within 107 bytes.
    #[error("PROXY v1 header longer than 107 bytes")]
    TooLong,
    /// A version 1 line that does not follow the grammar.
    #[error("malformed PROXY v1 header: {0}")]
    MalformedV1(&'static str),
    /// A version 2 header with an unknown version, command or address family, or an address
    /// block shorter than its family needs.
    #[error("malformed PROXY v2 header: {0}")]
    MalformedV2(&'static str),
    /// A TLV that runs past the end of the header.
    #[error("malformed PROXY v2 TLV")]
    MalformedTlv,
    /// A header longer than [`MAX_HEADER`](crate::MAX_HEADER) bytes, refused by [`take`](crate::take).
    #[error("PROXY header longer than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The peer closed before the header was complete.
    #[error("connection closed inside the PROXY header")]
    Truncated,
    /// Reading the connection failed.
    #[error("reading the PROXY header: {0}")]
    Io(String),
}
