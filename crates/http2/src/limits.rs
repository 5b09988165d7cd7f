use std::time::Duration;

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
    /// The `Server` header put on every response that does not set one; `None` adds none.
    pub server: Option<HeaderValue>,
}
