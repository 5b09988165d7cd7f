use std::time::Duration;

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How websocket connections are bounded and kept alive.
#[derive(Debug, Clone)]
pub struct WebsocketLimits {
    /// The largest message (and frame) accepted, in bytes; a larger one closes the connection
    /// with 1009.
    pub max_message_size: usize,
    /// Send a ping after this long without hearing from the peer; `None` sends none.
    pub ping_interval: Option<Duration>,
    /// Drop a peer that has sent nothing (not even the pong) this long after a ping.
    pub ping_timeout: Duration,
    /// How long a closing handshake waits for the peer's close frame.
    pub close_timeout: Duration,
}

impl Default for WebsocketLimits {
    fn default() -> Self {
        Self {
            max_message_size: 16 * 1024 * 1024,
            ping_interval: Some(Duration::from_secs(20)),
            ping_timeout: Duration::from_secs(20),
            close_timeout: Duration::from_secs(5),
        }
    }
}

impl WebsocketLimits {
    /// The tungstenite configuration for these limits. Buffers stay small so that many idle
    /// connections cost little memory.
    pub(crate) fn config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(16 * 1024)
            .write_buffer_size(0)
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_message_size))
    }
}
