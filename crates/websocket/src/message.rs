use bytes::Bytes;
pub use tokio_tungstenite::tungstenite::Utf8Bytes;

/// RFC 6455 §7.4.1: normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// RFC 6455 §7.4.1: a close frame without a status code (never sent on the wire).
pub const CLOSE_NO_STATUS: u16 = 1005;
/// RFC 6455 §7.4.1: the connection ended without a close frame (never sent on the wire).
pub const CLOSE_ABNORMAL: u16 = 1006;

/// Close codes an application may send (RFC 6455 §7.4): the defined ones that may appear on
/// the wire, and the ranges for libraries (3000-3999) and applications (4000-4999).
#[must_use]
pub fn is_sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// One complete data message, either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// What an interface asks of the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send a message.
    Send(Message),
    /// Start the closing handshake with this code and reason.
    Close {
        /// The close code.
        code: u16,
        /// The reason, at most 123 bytes of UTF-8 (longer ones are cut).
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_close_codes() {
        assert!(is_sendable_close_code(1000));
        assert!(is_sendable_close_code(4999));
        assert!(!is_sendable_close_code(1005));
        assert!(!is_sendable_close_code(1006));
        assert!(!is_sendable_close_code(999));
        assert!(!is_sendable_close_code(5000));
    }
}
