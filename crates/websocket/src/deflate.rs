//! permessage-deflate (RFC 7692) negotiation: reading the offers in a client's
//! `Sec-WebSocket-Extensions` and choosing the answer. The compression itself is yawc's.

use std::fmt;

const PERMESSAGE_DEFLATE: &str = "permessage-deflate";
const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// The largest LZ77 window, and the only one this server compresses with: without zlib's
/// window control an offer asking the server for a smaller one is declined.
const MAX_WINDOW_BITS: u8 = 15;

/// The permessage-deflate parameters agreed with a client: the extension's answer in the
/// handshake response, and the settings the connection runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerMessageDeflate {
    /// The server resets its compressor after each message (the client asked).
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message, so the server resets its
    /// decompressor too.
    pub client_no_context_takeover: bool,
    /// The server's window, echoed when the client asked for a limit (RFC 7692 §7.1.2.1
    /// requires the answer then); always 15.
    pub server_max_window_bits: Option<u8>,
}

impl PerMessageDeflate {
    /// The first offer among `values` (the client's `Sec-WebSocket-Extensions` header values,
    /// in order) that this server can accept, or `None` to decline permessage-deflate.
    ///
    /// An offer is declined when it repeats a parameter, carries an unknown one or an invalid
    /// value (RFC 7692 §7.1), or asks for a server window below 15. `client_max_window_bits`
    /// is accepted and left out of the answer: the client then compresses with a window of at
    /// most what it offered, which a 15-bit decompressor reads.
    pub fn negotiate<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<Self> {
        values
            .into_iter()
            .filter_map(|value| std::str::from_utf8(value).ok())
            .flat_map(|value| split_unquoted(value, ','))
            .find_map(accept_offer)
    }
}

impl fmt::Display for PerMessageDeflate {
    /// The `Sec-WebSocket-Extensions` value of the answer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PERMESSAGE_DEFLATE)?;
        if self.server_no_context_takeover {
            write!(f, "; {SERVER_NO_CONTEXT_TAKEOVER}")?;
        }
        if self.client_no_context_takeover {
            write!(f, "; {CLIENT_NO_CONTEXT_TAKEOVER}")?;
        }
        if let Some(bits) = self.server_max_window_bits {
            write!(f, "; {SERVER_MAX_WINDOW_BITS}={bits}")?;
        }
        Ok(())
    }
}

/// One element of an extension list: `permessage-deflate; param; param=value`.
fn accept_offer(extension: &str) -> Option<PerMessageDeflate> {
    let mut parts = split_unquoted(extension, ';');
    let name = parts.next()?.trim();
    if !name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE) {
        return None;
    }
    let mut answer = PerMessageDeflate {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: None,
    };
    let mut client_max_window_bits = false;
    for param in parts {
        let (key, value) = match param.split_once('=') {
            Some((key, value)) => (key.trim(), Some(unquote(value.trim())?)),
            None => (param.trim(), None),
        };
        if key.eq_ignore_ascii_case(SERVER_NO_CONTEXT_TAKEOVER) {
            if answer.server_no_context_takeover || value.is_some() {
                return None;
            }
            answer.server_no_context_takeover = true;
        } else if key.eq_ignore_ascii_case(CLIENT_NO_CONTEXT_TAKEOVER) {
            if answer.client_no_context_takeover || value.is_some() {
                return None;
            }
            answer.client_no_context_takeover = true;
        } else if key.eq_ignore_ascii_case(SERVER_MAX_WINDOW_BITS) {
            // RFC 7692 §7.1.2.1: the value is required.
            let bits = window_bits(value.as_deref()?)?;
            if answer.server_max_window_bits.is_some() || bits < MAX_WINDOW_BITS {
                return None;
            }
            answer.server_max_window_bits = Some(bits);
        } else if key.eq_ignore_ascii_case(CLIENT_MAX_WINDOW_BITS) {
            // RFC 7692 §7.1.2.2: the value is optional.
            if client_max_window_bits || value.as_deref().is_some_and(|value| window_bits(value).is_none()) {
                return None;
            }
            client_max_window_bits = true;
        } else {
            return None;
        }
    }
    Some(answer)
}

/// RFC 7692 §7.1.2: a decimal integer from 8 to 15 without leading zeros.
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || !value.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|bits| (8..=MAX_WINDOW_BITS).contains(bits))
}

/// A parameter value as a token or a quoted-string (RFC 6455 §9.1), without the quotes and
/// escapes; `None` when a quoted-string is not closed.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Some(value.to_owned());
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return chars.as_str().trim().is_empty().then_some(out),
            _ => out.push(c),
        }
    }
    None
}

/// Split `text` at each `separator` outside a quoted-string.
fn split_unquoted(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (index, c) in text.char_indices() {
            if escaped {
                escaped = false;
            } else if quoted && c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = !quoted;
            } else if c == separator && !quoted {
                rest = Some(&text[index + c.len_utf8()..]);
                return Some(&text[..index]);
            }
        }
        rest = None;
        Some(text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiate(values: &[&str]) -> Option<String> {
        PerMessageDeflate::negotiate(values.iter().map(|value| value.as_bytes())).map(|answer| answer.to_string())
    }

    #[test]
    fn plain_offers() {
        assert_eq!(negotiate(&["permessage-deflate"]).unwrap(), "permessage-deflate");
        // What browsers and the Python `websockets` client offer.
        assert_eq!(
            negotiate(&["permessage-deflate; client_max_window_bits"]).unwrap(),
            "permessage-deflate"
        );
        assert_eq!(
            negotiate(&["Permessage-Deflate ; Client_Max_Window_Bits = \"10\""]).unwrap(),
            "permessage-deflate"
        );
        assert_eq!(negotiate(&[]), None);
        assert_eq!(negotiate(&["x-webkit-deflate-frame"]), None);
        assert_eq!(negotiate(&[""]), None);
    }

    #[test]
    fn context_takeover() {
        assert_eq!(
            negotiate(&["permessage-deflate; server_no_context_takeover; client_no_context_takeover"]).unwrap(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
        assert_eq!(
            negotiate(&["permessage-deflate; client_no_context_takeover; client_max_window_bits=12"]).unwrap(),
            "permessage-deflate; client_no_context_takeover"
        );
    }

    #[test]
    fn server_windows() {
        assert_eq!(
            negotiate(&["permessage-deflate; server_max_window_bits=15"]).unwrap(),
            "permessage-deflate; server_max_window_bits=15"
        );
        // A smaller window cannot be honoured: that offer is declined, the next one taken.
        assert_eq!(negotiate(&["permessage-deflate; server_max_window_bits=10"]), None);
        assert_eq!(
            negotiate(&["permessage-deflate; server_max_window_bits=10, permessage-deflate"]).unwrap(),
            "permessage-deflate"
        );
        assert_eq!(
            negotiate(&[
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate; server_no_context_takeover"
            ])
            .unwrap(),
            "permessage-deflate; server_no_context_takeover"
        );
    }

    #[test]
    fn invalid_offers_are_declined() {
        for offer in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=015",
            "permessage-deflate; server_max_window_bits=15; server_max_window_bits=15",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; client_max_window_bits=x",
            "permessage-deflate; client_max_window_bits; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_no_context_takeover=\"\"",
            "permessage-deflate; unknown",
            "permessage-deflate; client_max_window_bits=\"10",
            "permessage-deflate; client_max_window_bits=\"10\"x",
        ] {
            assert_eq!(negotiate(&[offer]), None, "{offer}");
        }
    }

    #[test]
    fn other_extensions_and_quotes() {
        assert_eq!(
            negotiate(&["x-foo; a=\"1, permessage-deflate\"; b, permessage-deflate; server_no_context_takeover"])
                .unwrap(),
            "permessage-deflate; server_no_context_takeover"
        );
        assert_eq!(negotiate(&["x-foo; a=\"permessage-deflate, \\\"y"]), None);
    }
}
