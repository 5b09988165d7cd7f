use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::Scheme;

/// Where a request really came from and what it was addressed to, as a trusted proxy in front
/// reports it, and the path prefix the application is mounted under.
///
/// A layer in front of the interfaces inserts it into the request's [`http::Extensions`]; an
/// interface building its scope uses each field that is set over what the connection itself
/// says. Requests without one (the usual case: no proxy headers, no prefix) are described by
/// their [`ConnInfo`](crate::ConnInfo) alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOrigin {
    /// The client the proxy received the request from.
    pub client: Option<ClientAddr>,
    /// The scheme the client used (`wss` counts as [`Scheme::Https`]).
    pub scheme: Option<Scheme>,
    /// The `Host` the client addressed (`host` or `host:port`).
    pub host: Option<Box<str>>,
    /// The path prefix a proxy removed before passing the request on (`X-Forwarded-Prefix`):
    /// the request's own path lacks it. Starts with `/`, never ends with one.
    pub forwarded_prefix: Option<Box<str>>,
    /// The configured URL path prefix the application is mounted under: the request's own path
    /// starts with it. Starts with `/`, never ends with one.
    pub path_prefix: Option<Arc<str>>,
}

impl RequestOrigin {
    /// The path the application is reachable under from the client's side (ASGI `root_path`,
    /// WSGI `SCRIPT_NAME`): the forwarded prefix followed by the configured one.
    #[must_use]
    pub fn root_path(&self) -> Option<Cow<'_, str>> {
        match (&self.forwarded_prefix, &self.path_prefix) {
            (None, None) => None,
            (Some(forwarded), None) => Some(Cow::Borrowed(forwarded)),
            (None, Some(prefix)) => Some(Cow::Borrowed(prefix)),
            (Some(forwarded), Some(prefix)) => Some(Cow::Owned(format!("{forwarded}{prefix}"))),
        }
    }
}

/// A client address a proxy reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAddr {
    /// An IP address, with port 0 when the proxy gave none.
    Ip(SocketAddr),
    /// Anything else a proxy may say: an RFC 7239 obfuscated identifier (`_hidden`), `unknown`,
    /// or a name in `X-Forwarded-For`. Visible ASCII only.
    Name(Box<str>),
}

impl ClientAddr {
    /// The host part: the IP address without brackets, or the name.
    #[must_use]
    pub fn host(&self) -> String {
        match self {
            Self::Ip(addr) => addr.ip().to_string(),
            Self::Name(name) => name.to_string(),
        }
    }

    /// The port; 0 when unknown.
    #[must_use]
    pub fn port(&self) -> u16 {
        match self {
            Self::Ip(addr) => addr.port(),
            Self::Name(_) => 0,
        }
    }
}

/// `address:port` (`[v6]:port` for IPv6), or the name alone.
impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(addr) => addr.fmt(f),
            Self::Name(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_parts() {
        let v6 = ClientAddr::Ip("[2001:db8::1]:4711".parse().unwrap());
        assert_eq!((v6.host(), v6.port()), ("2001:db8::1".to_owned(), 4711));
        assert_eq!(v6.to_string(), "[2001:db8::1]:4711");
        let v4 = ClientAddr::Ip("192.0.2.1:0".parse().unwrap());
        assert_eq!(v4.to_string(), "192.0.2.1:0");
        let name = ClientAddr::Name("_hidden".into());
        assert_eq!((name.host(), name.port()), ("_hidden".to_owned(), 0));
        assert_eq!(name.to_string(), "_hidden");
    }

    #[test]
    fn root_path_joins_the_prefixes() {
        let mut origin = RequestOrigin::default();
        assert_eq!(origin.root_path(), None);
        origin.path_prefix = Some("/app".into());
        assert_eq!(origin.root_path().as_deref(), Some("/app"));
        origin.forwarded_prefix = Some("/edge".into());
        assert_eq!(origin.root_path().as_deref(), Some("/edge/app"));
        origin.path_prefix = None;
        assert_eq!(origin.root_path().as_deref(), Some("/edge"));
    }
}
