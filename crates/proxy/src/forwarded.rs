use granian_serve::{ClientAddr, Scheme};

use crate::node::parse_node;

/// One `forwarded-element` of an RFC 7239 `Forwarded` header: what one proxy saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForwardedElement {
    /// `for=`: who sent the request to that proxy.
    pub client: Option<ClientAddr>,
    /// `proto=`, when it is `http`, `https`, `ws` or `wss` (other schemes are ignored).
    pub scheme: Option<Scheme>,
    /// `host=`: the `Host` that proxy received.
    pub host: Option<Box<str>>,
}

/// The elements of a `Forwarded` header value (several header lines joined with `,`), first
/// hop first, or `None` when one of them breaks the RFC 7239 §4 grammar or there are none:
///
/// ```text
/// Forwarded         = 1#forwarded-element
/// forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
/// forwarded-pair    = token "=" value
/// value             = token / quoted-string
/// ```
///
/// Parameter names are case-insensitive and each may appear once per element; `by=` and
/// extension parameters are accepted and ignored. Spaces around `,` and `;` are allowed, and
/// empty list elements are skipped (RFC 9110 §5.6.1). A `for=` that is no node
/// ([`parse_node`]) or a `host=` that is no `host[:port]` makes its element malformed.
#[must_use]
pub fn parse_forwarded(value: &str) -> Option<Vec<ForwardedElement>> {
    let elements = forwarded_elements(value.as_bytes())
        .into_iter()
        .collect::<Option<Vec<_>>>()?;
    (!elements.is_empty()).then_some(elements)
}

/// The elements of a `Forwarded` header value, first hop first, each parsed on its own: `None`
/// stands for an element that breaks the grammar (see [`parse_forwarded`]), so that one bad
/// element leaves the others readable. Empty elements are skipped.
///
/// Elements are separated by the commas outside quoted-strings; a quoted-string left open
/// runs to the end of the value, and that last element is malformed.
#[must_use]
pub fn forwarded_elements(value: &[u8]) -> Vec<Option<ForwardedElement>> {
    split_elements(value)
        .filter_map(|bytes| {
            let mut parser = Parser { bytes, at: 0 };
            match parser.element().filter(|_| parser.rest_is_blank()) {
                Some((_, 0)) => None,
                Some((element, _)) => Some(Some(element)),
                None => Some(None),
            }
        })
        .collect()
}

/// The bytes of each list element: split at the commas outside quoted-strings.
fn split_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(value);
    std::iter::from_fn(move || {
        let bytes = rest?;
        let (mut quoted, mut escaped) = (false, false);
        let comma = bytes.iter().position(|&byte| {
            match (quoted, escaped, byte) {
                (true, true, _) => escaped = false,
                (true, false, b'\\') => escaped = true,
                (_, _, b'"') => quoted = !quoted,
                (false, _, b',') => return true,
                _ => {}
            }
            false
        });
        match comma {
            Some(at) => {
                rest = bytes.get(at + 1..);
                bytes.get(..at)
            }
            None => rest.take(),
        }
    })
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// Whether only spaces are left.
    fn rest_is_blank(&mut self) -> bool {
        self.skip_spaces();
        self.peek().is_none()
    }

    /// One element and how many pairs it held; stops after its last pair.
    fn element(&mut self) -> Option<(ForwardedElement, usize)> {
        let mut element = ForwardedElement::default();
        let mut seen = [false; 4];
        let mut pairs = 0;
        loop {
            self.skip_spaces();
            if matches!(self.peek(), None | Some(b',' | b';')) {
                // An empty pair: `a=1;;b=2`, or an empty element.
            } else {
                let name = self.token()?.to_ascii_lowercase();
                if self.next()? != b'=' {
                    return None;
                }
                let value = self.value()?;
                let slot = match name.as_str() {
                    "for" => Some(0),
                    "by" => Some(1),
                    "host" => Some(2),
                    "proto" => Some(3),
                    _ => None,
                };
                if let Some(slot) = slot {
                    // RFC 7239 §4: a parameter MUST NOT occur more than once per element.
                    if std::mem::replace(&mut seen[slot], true) {
                        return None;
                    }
                }
                match name.as_str() {
                    "for" => element.client = Some(parse_node(&value)?),
                    "by" => {
                        parse_node(&value)?;
                    }
                    "host" => element.host = Some(parse_host(&value)?.into()),
                    "proto" => element.scheme = parse_scheme(&value).ok()?,
                    _ => {}
                }
                pairs += 1;
                self.skip_spaces();
            }
            if self.peek() == Some(b';') {
                self.at += 1;
            } else {
                return Some((element, pairs));
            }
        }
    }

    /// RFC 9110 §5.6.2: `token = 1*tchar`.
    fn token(&mut self) -> Option<String> {
        let start = self.at;
        while self.peek().is_some_and(is_tchar) {
            self.at += 1;
        }
        let token = self.bytes.get(start..self.at)?;
        if token.is_empty() {
            return None;
        }
        Some(String::from_utf8_lossy(token).into_owned())
    }

    /// A token, or a quoted-string (RFC 9110 §5.6.4) with its escapes resolved.
    fn value(&mut self) -> Option<String> {
        if self.peek() != Some(b'"') {
            return self.token();
        }
        self.at += 1;
        let mut text = Vec::new();
        loop {
            match self.next()? {
                b'"' => return String::from_utf8(text).ok(),
                b'\\' => {
                    let escaped = self.next()?;
                    if !(escaped == b'\t' || escaped == b' ' || escaped.is_ascii_graphic() || escaped >= 0x80) {
                        return None;
                    }
                    text.push(escaped);
                }
                byte if byte == b'\t' || byte == b' ' || byte.is_ascii_graphic() || byte >= 0x80 => text.push(byte),
                _ => return None,
            }
        }
    }
}

fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// A `Host` value (RFC 9110 §7.2: `uri-host [ ":" port ]`), or `None`. The host is an IP
/// literal in brackets or a registered name (RFC 3986 §3.2.2); no user information.
pub(crate) fn parse_host(text: &str) -> Option<&str> {
    let port = if let Some(rest) = text.strip_prefix('[') {
        let (literal, after) = rest.split_once(']')?;
        literal.parse::<std::net::Ipv6Addr>().ok()?;
        match after {
            "" => None,
            _ => Some(after.strip_prefix(':')?),
        }
    } else {
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        let reg_name = !host.is_empty()
            && host
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&byte));
        if !reg_name {
            return None;
        }
        port
    };
    let port_ok =
        port.is_none_or(|port| !port.is_empty() && port.len() <= 5 && port.bytes().all(|byte| byte.is_ascii_digit()));
    port_ok.then_some(text)
}

/// Text that is no URI scheme (RFC 3986 §3.1).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotAScheme;

/// `Some(scheme)` for the schemes a request can be served under, `None` for other well-formed
/// schemes (RFC 3986 §3.1).
pub(crate) fn parse_scheme(text: &str) -> Result<Option<Scheme>, NotAScheme> {
    let mut bytes = text.bytes();
    let well_formed = bytes.next().is_some_and(|first| first.is_ascii_alphabetic())
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.'));
    if !well_formed {
        return Err(NotAScheme);
    }
    let scheme = if text.eq_ignore_ascii_case("https") || text.eq_ignore_ascii_case("wss") {
        Some(Scheme::Https)
    } else if text.eq_ignore_ascii_case("http") || text.eq_ignore_ascii_case("ws") {
        Some(Scheme::Http)
    } else {
        None
    };
    Ok(scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> ClientAddr {
        ClientAddr::Ip(text.parse().unwrap())
    }

    #[test]
    fn rfc_examples() {
        // RFC 7239 §4 and §7.1.
        let elements = parse_forwarded(r#"for="_gazonk""#).unwrap();
        assert_eq!(elements[0].client, Some(ClientAddr::Name("_gazonk".into())));
        let elements = parse_forwarded(r#"For="[2001:db8:cafe::17]:4711""#).unwrap();
        assert_eq!(elements[0].client, Some(ip("[2001:db8:cafe::17]:4711")));
        let elements = parse_forwarded("for=192.0.2.60;proto=http;by=203.0.113.43").unwrap();
        assert_eq!(
            elements,
            vec![ForwardedElement {
                client: Some(ip("192.0.2.60:0")),
                scheme: Some(Scheme::Http),
                host: None,
            }]
        );
        let elements = parse_forwarded("for=192.0.2.43, for=198.51.100.17").unwrap();
        assert_eq!(elements.len(), 2);
        assert_eq!(elements[1].client, Some(ip("198.51.100.17:0")));
        let elements = parse_forwarded(r#"for=192.0.2.43,for="[2001:db8:cafe::17]",for=unknown"#).unwrap();
        assert_eq!(elements[1].client, Some(ip("[2001:db8:cafe::17]:0")));
        assert_eq!(elements[2].client, Some(ClientAddr::Name("unknown".into())));
    }

    #[test]
    fn host_and_proto() {
        let elements = parse_forwarded(r#"host="example.com:8443"; proto=HTTPS ;for=10.0.0.1"#).unwrap();
        assert_eq!(elements[0].host.as_deref(), Some("example.com:8443"));
        assert_eq!(elements[0].scheme, Some(Scheme::Https));
        let elements = parse_forwarded("proto=wss").unwrap();
        assert_eq!(elements[0].scheme, Some(Scheme::Https));
        let elements = parse_forwarded(r#"proto=ftp;host="[::1]:80""#).unwrap();
        assert_eq!(elements[0].scheme, None);
        assert_eq!(elements[0].host.as_deref(), Some("[::1]:80"));
    }

    #[test]
    fn quoted_strings() {
        // Commas and semicolons inside quotes belong to the value.
        let elements = parse_forwarded(r#"for="192.0.2.1";ext="a,b;c=\"d\"", for=10.0.0.1"#).unwrap();
        assert_eq!(elements.len(), 2);
        assert_eq!(elements[0].client, Some(ip("192.0.2.1:0")));
        assert_eq!(elements[1].client, Some(ip("10.0.0.1:0")));
        let elements = parse_forwarded(r#"for="\1\9\2.0.2.1""#).unwrap();
        assert_eq!(elements[0].client, Some(ip("192.0.2.1:0")));
    }

    #[test]
    fn empty_elements_and_pairs() {
        let elements = parse_forwarded(" , for=192.0.2.1;;proto=https ,, ").unwrap();
        assert_eq!(elements.len(), 1);
        assert_eq!(parse_forwarded(""), None);
        assert_eq!(parse_forwarded(" , ,"), None);
    }

    #[test]
    fn malformed() {
        for value in [
            "for",
            "for=",
            "=192.0.2.1",
            "for=192.0.2.1 proto=http",
            "for=192.0.2.1;for=192.0.2.2",
            "for=\"192.0.2.1",
            "for=[2001:db8::1]",
            "for=192.0.2.1:80",
            "for=\"[2001:db8::1\"",
            "for=\"not an address\"",
            "host=\"a@b\"",
            "host=\"\"",
            "proto=\"1http\"",
            "for=192.0.2.1,x",
            "for=192.0.2.1\u{0}",
            "for=\"\u{7f}\"",
        ] {
            assert_eq!(parse_forwarded(value), None, "{value:?}");
        }
    }

    #[test]
    fn one_bad_element_leaves_the_others() {
        let elements = forwarded_elements(b"for=192.0.2.1;for=192.0.2.2, , ext=\"a,b\";for=_c, for=10.0.0.1");
        assert_eq!(elements.len(), 3);
        assert_eq!(elements[0], None);
        assert_eq!(
            elements[1].as_ref().unwrap().client,
            Some(ClientAddr::Name("_c".into()))
        );
        assert_eq!(elements[2].as_ref().unwrap().client, Some(ip("10.0.0.1:0")));
        // An open quote runs to the end: the commas after it are inside it.
        let elements = forwarded_elements(b"for=10.0.0.1, for=\"oops, for=10.0.0.2");
        assert_eq!(elements.len(), 2);
        assert_eq!((elements[0].is_some(), elements[1].is_none()), (true, true));
        let elements = forwarded_elements(b"for=\"\\\",\", proto=\xffhttp, ;;");
        assert_eq!(elements, [None, None]);
        assert!(forwarded_elements(b"").is_empty());
    }

    #[test]
    fn scheme_spellings() {
        assert_eq!(parse_scheme("http"), Ok(Some(Scheme::Http)));
        assert_eq!(parse_scheme("WS"), Ok(Some(Scheme::Http)));
        assert_eq!(parse_scheme("https"), Ok(Some(Scheme::Https)));
        assert_eq!(parse_scheme("h2c"), Ok(None));
        assert_eq!(parse_scheme(""), Err(NotAScheme));
        assert_eq!(parse_scheme("ht tp"), Err(NotAScheme));
    }

    #[test]
    fn hosts() {
        assert_eq!(parse_host("example.com"), Some("example.com"));
        assert_eq!(parse_host("example.com:80"), Some("example.com:80"));
        assert_eq!(parse_host("[2001:db8::1]:8080"), Some("[2001:db8::1]:8080"));
        for bad in ["", "a b", "user@example.com", "example.com:port", "/path", ":80"] {
            assert_eq!(parse_host(bad), None, "{bad:?}");
        }
    }
}
