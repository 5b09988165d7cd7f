use std::time::Duration;

use yawc::{CompressionLevel, Options};

/// How websocket connections are bounded and kept alive.
#[derive(Debug, Clone)]
pub struct WebsocketLimits {
    /// The largest message (and frame) accepted, in bytes, after decompression; a larger one
    /// closes the connection with 1009.
    pub max_message_size: usize,
    /// Send a ping after this long without hearing from the peer; `None` sends none.
    pub ping_interval: Option<Duration>,
    /// Drop a peer that has sent nothing (not even the pong) this long after a ping.
    pub ping_timeout: Duration,
    /// How long a closing handshake waits for the peer's close frame.
    pub close_timeout: Duration,
    /// How long a write may wait for the peer to take more (a peer that stopped reading): beyond
    /// it the connection is dropped and the application sees 1006. `None` waits for ever.
    pub send_timeout: Option<Duration>,
    /// Accept permessage-deflate (RFC 7692) when a client offers it.
    pub deflate: bool,
}

impl WebsocketLimits {
    /// How long a closing handshake waits for the peer's close frame, unless a test says
    /// otherwise: no option sets it.
    pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

    /// The yawc options for these limits, compressing when `deflate` was agreed. Buffers stay
    /// small so that many idle connections cost little memory.
    pub(crate) fn options(&self, deflate: bool) -> Options {
        // yawc refuses a frame, a reassembled message or a decompressed payload once it
        // reaches its limit; one more byte lets a message of exactly the limit through. The
        // decompressor stops at the limit, so a small compressed frame cannot make it
        // allocate more.
        let limit = self.max_message_size.saturating_add(1);
        let options = Options::default()
            .with_limits(limit, limit)
            .with_read_buffer_capacity(16 * 1024);
        if deflate {
            options.with_compression_level(CompressionLevel::default())
        } else {
            options.without_compression()
        }
    }
}
