use std::time::Duration;

use granian_serve::BodyLimits;
use http::HeaderValue;

/// How HTTP/2 connections are bounded.
#[derive(Debug, Clone)]
pub struct Http2Limits {
    /// Streams a client may have open at once.
    pub max_concurrent_streams: u32,
    /// The connection-level flow control window, in bytes.
    pub initial_connection_window_size: u32,
    /// The per-stream flow control window, in bytes.
    pub initial_stream_window_size: u32,
    /// The largest frame payload accepted, in bytes.
    pub max_frame_size: u32,
    /// The largest decoded header list accepted, in bytes.
    pub max_headers_size: u32,
    /// The most bytes buffered per stream for sending.
    pub max_send_buffer_size: usize,
    /// Adapt windows to the measured bandwidth-delay product.
    pub adaptive_window: bool,
    /// Send a PING this often when the connection is quiet.
    pub keep_alive_interval: Option<Duration>,
    /// Close the connection when a PING is not answered in this time.
    pub keep_alive_timeout: Duration,
    /// Drop a connection whose client preface and SETTINGS frame have not arrived in this time.
    pub handshake_timeout: Option<Duration>,
    /// Send GOAWAY and close once the connection had no open stream for this long.
    pub idle_timeout: Option<Duration>,
    /// The largest request body, in bytes: 413 beyond it (see [`granian_serve::admit`]).
    pub max_body_size: Option<u64>,
    /// The longest a read of a request body waits for the client's next bytes: beyond it the
    /// request ends with 408, or its stream is reset once its response started.
    pub body_read_timeout: Option<Duration>,
    /// The longest a response waits for the client to take more of it (its stream's or the
    /// connection's window held at zero, or the socket not read): beyond it the stream is reset
    /// (the connection closed, when the socket itself is not read).
    pub send_timeout: Option<Duration>,
    /// Streams of one connection that may be receiving their request bodies at once; a request
    /// with a body beyond it is refused (`REFUSED_STREAM`, which a client may retry).
    pub max_receiving_streams: usize,
    /// The `Server` header put on every response that does not set one; `None` adds none.
    pub server: Option<HeaderValue>,
    /// The `Alt-Svc` header put on every final response that does not set one: HTTP/3 offered on
    /// a UDP port (RFC 7838); `None` adds none.
    pub alt_svc: Option<HeaderValue>,
}

impl Http2Limits {
    /// What request bodies are bounded by.
    pub(crate) fn body_limits(&self) -> BodyLimits {
        BodyLimits {
            max_size: self.max_body_size,
            read_timeout: self.body_read_timeout,
        }
    }
}
