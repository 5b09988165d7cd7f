use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use granian_serve::ClientAddr;

/// One hop's address as a proxy writes it: in `X-Forwarded-For`, or as an RFC 7239 node (a
/// `for=` value, quotes already removed).
///
/// Understood: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`, a bare
/// `2001:db8::1`, and an obfuscated port (`192.0.2.1:_p`, RFC 7239 §6.3) as port 0. Anything
/// else made of visible ASCII (`unknown`, `_hidden`, a host name) is a
/// [`ClientAddr::Name`]. `None` for empty text, text with spaces, controls, quotes,
/// backslashes, commas or semicolons, and for an IP address with a malformed port.
#[must_use]
pub fn parse_node(text: &str) -> Option<ClientAddr> {
    if text.is_empty()
        || !text
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && !matches!(byte, b'"' | b'\\' | b',' | b';'))
    {
        return None;
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = ip.parse().ok()?;
        let port = match after {
            "" => 0,
            _ => parse_port(after.strip_prefix(':')?)?,
        };
        return Some(ClientAddr::Ip(SocketAddr::new(IpAddr::V6(ip), port)));
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ClientAddr::Ip(SocketAddr::new(ip, 0)));
    }
    if let Some((host, port)) = text.rsplit_once(':')
        && let Ok(ip) = host.parse::<Ipv4Addr>()
    {
        return Some(ClientAddr::Ip(SocketAddr::new(IpAddr::V4(ip), parse_port(port)?)));
    }
    Some(ClientAddr::Name(text.into()))
}

/// RFC 7239 §6: `port = 1*5DIGIT`, or an obfuscated `_` identifier, reported as 0.
fn parse_port(text: &str) -> Option<u16> {
    if let Some(obfuscated) = text.strip_prefix('_') {
        return obfuscated
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
            .then_some(0);
    }
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> ClientAddr {
        ClientAddr::Ip(text.parse().unwrap())
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_node("192.0.2.43"), Some(ip("192.0.2.43:0")));
        assert_eq!(parse_node("192.0.2.43:4711"), Some(ip("192.0.2.43:4711")));
        assert_eq!(parse_node("192.0.2.43:_port"), Some(ip("192.0.2.43:0")));
        assert_eq!(parse_node("[2001:db8:cafe::17]"), Some(ip("[2001:db8:cafe::17]:0")));
        assert_eq!(
            parse_node("[2001:db8:cafe::17]:4711"),
            Some(ip("[2001:db8:cafe::17]:4711"))
        );
        assert_eq!(parse_node("2001:db8:cafe::17"), Some(ip("[2001:db8:cafe::17]:0")));
    }

    #[test]
    fn names() {
        for name in ["unknown", "_hidden", "_SEVKISEK", "proxy.example"] {
            assert_eq!(parse_node(name), Some(ClientAddr::Name(name.into())));
        }
    }

    #[test]
    fn malformed() {
        for text in [
            "",
            " 192.0.2.1",
            "192.0.2.1:",
            "192.0.2.1:65536",
            "192.0.2.1:123456",
            "192.0.2.1:_bad!",
            "[2001:db8::1",
            "[2001:db8::1]:",
            "[2001:db8::1]x",
            "[192.0.2.1]",
            "a\"b",
            "a,b",
            "caf\u{e9}",
        ] {
            assert_eq!(parse_node(text), None, "{text:?}");
        }
    }
}
