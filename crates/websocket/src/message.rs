use std::fmt;
use std::ops::Deref;

use bytes::Bytes;

/// Bytes that are valid UTF-8: a text message's payload, shared without copying.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps `bytes` without checking them.
    ///
    /// # Safety
    ///
    /// `bytes` must be valid UTF-8: [`Utf8Bytes::as_str`] hands them out as a `str`.
    #[must_use]
    pub unsafe fn from_bytes_unchecked(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checks the bytes or is given the caller's promise
        // (`from_bytes_unchecked`) that they are UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The UTF-8 bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The UTF-8 bytes, owned.
    #[must_use]
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;

    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Self(bytes))
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(text: &'static str) -> Self {
        Self(Bytes::from_static(text.as_bytes()))
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Self(Bytes::from(text))
    }
}

impl Deref for Utf8Bytes {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

    #[test]
    fn utf8_bytes() {
        let text = Utf8Bytes::try_from(Bytes::from_static("héllo".as_bytes())).unwrap();
        assert_eq!(text.as_str(), "héllo");
        assert_eq!(text.len(), 6);
        assert_eq!(text, Utf8Bytes::from("héllo"));
        assert_eq!(text, Utf8Bytes::from("héllo".to_owned()));
        assert_eq!(format!("{text:?}"), "\"héllo\"");
        assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xff")).is_err());
    }
}
