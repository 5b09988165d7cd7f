use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use granian_serve::{ClientAddr, ConnInfo, Handler, IncomingBody, RequestOrigin, ResponseBody};
use http::header::{FORWARDED, HOST, HeaderMap, HeaderName};
use http::{Request, Response};

use crate::forwarded::{ForwardedElement, forwarded_elements, parse_host, parse_scheme};
use crate::node::parse_node;
use crate::{Error, ProxyHeader, ProxyHeaderSet, TrustedProxies};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");

/// What the proxy layer does: believe some proxy headers from some peers, add a URL path
/// prefix, both, or neither.
#[derive(Debug, Clone, Default)]
pub struct ProxySettings {
    trusted: Option<TrustedProxies>,
    headers: ProxyHeaderSet,
    path_prefix: Option<Arc<str>>,
}

impl ProxySettings {
    /// Read the proxy `headers` of requests from `trusted` peers (`None`: from nobody, headers
    /// are left to the application), and mount the application under `url_path_prefix`:
    /// request paths start with it, and interfaces report it as the root path (`None`, `""` or
    /// `"/"`: no prefix).
    ///
    /// Peers on a Unix socket have no address; they are trusted whenever proxy headers are
    /// read, since reaching the socket takes file system permissions.
    pub fn new(
        trusted: Option<TrustedProxies>,
        headers: ProxyHeaderSet,
        url_path_prefix: Option<&str>,
    ) -> Result<Self, Error> {
        let path_prefix = match url_path_prefix {
            None | Some("") => None,
            Some(prefix) => {
                if !prefix.starts_with('/') || prefix.chars().any(char::is_control) {
                    return Err(Error::BadPathPrefix(prefix.to_owned()));
                }
                let prefix = prefix.trim_end_matches('/');
                (!prefix.is_empty()).then(|| Arc::from(prefix))
            }
        };
        Ok(Self {
            trusted,
            headers,
            path_prefix,
        })
    }

    /// The peers whose proxy headers are read; `None` reads them from nobody.
    #[must_use]
    pub fn trusted(&self) -> Option<&TrustedProxies> {
        self.trusted.as_ref()
    }

    /// The proxy headers read from trusted peers.
    #[must_use]
    pub fn headers(&self) -> ProxyHeaderSet {
        self.headers
    }

    /// The path the application is mounted under, without a trailing `/`; `None` for none.
    #[must_use]
    pub fn path_prefix(&self) -> Option<&str> {
        self.path_prefix.as_deref()
    }

    /// Whether requests pass through untouched.
    #[must_use]
    pub fn is_off(&self) -> bool {
        self.trusted.is_none() && self.path_prefix.is_none()
    }

    /// The origin of `request` from `peer` (`None`: a Unix socket peer), or `None` when there
    /// is nothing to say beyond what the connection says.
    #[must_use]
    pub fn origin<B>(&self, request: &Request<B>, peer: Option<SocketAddr>) -> Option<RequestOrigin> {
        let mut origin = RequestOrigin {
            path_prefix: self.path_prefix.clone(),
            ..RequestOrigin::default()
        };
        if let Some(trusted) = &self.trusted
            && peer.is_none_or(|peer| trusted.contains(peer.ip()))
        {
            read_headers(request, trusted, self.headers, &mut origin);
        }
        (origin != RequestOrigin::default()).then_some(origin)
    }
}

/// Fill `origin` from the headers in `read` of a request a trusted proxy sent.
///
/// `Forwarded`, when read and present, is the only source of the client, scheme and host: a
/// client may send its own `X-Forwarded-*` through a proxy that speaks only `Forwarded`. The
/// client comes from a walk over the hops ([`client_hop`]); `X-Forwarded-Proto` and
/// `X-Forwarded-Host` are taken from their last value, the one the proxy talking to us wrote.
/// `X-Forwarded-Port` replaces the port of the host (the forwarded one, or the request's own).
/// A malformed value is ignored, except in the walk, where it ends the walk.
fn read_headers<B>(request: &Request<B>, trusted: &TrustedProxies, read: ProxyHeaderSet, origin: &mut RequestOrigin) {
    let headers = request.headers();
    if read.contains(ProxyHeader::Forwarded) && headers.contains_key(FORWARDED) {
        match client_hop(forwarded_hops(headers), trusted, |element| element.client.as_ref()) {
            Some(Hop::Client(element)) => {
                // An element without `for=` does not say who the client is.
                origin.client = Some(element.client.unwrap_or_else(unknown));
                origin.scheme = element.scheme;
                origin.host = element.host;
            }
            Some(Hop::Unknown) => origin.client = Some(unknown()),
            None => {}
        }
    } else {
        if read.contains(ProxyHeader::XForwardedFor) {
            origin.client = client_hop(x_forwarded_for(headers), trusted, |hop| Some(hop)).map(|hop| match hop {
                Hop::Client(client) => client,
                Hop::Unknown => unknown(),
            });
        }
        if read.contains(ProxyHeader::XForwardedProto) {
            origin.scheme =
                last_value(headers, &X_FORWARDED_PROTO).and_then(|proto| parse_scheme(proto).ok().flatten());
        }
        if read.contains(ProxyHeader::XForwardedHost) {
            origin.host = last_value(headers, &X_FORWARDED_HOST)
                .and_then(parse_host)
                .map(Box::from);
        }
    }
    if read.contains(ProxyHeader::XForwardedPort)
        && let Some(port) = last_value(headers, &X_FORWARDED_PORT).and_then(parse_port)
        && let Some(host) = origin.host.as_deref().or_else(|| request_host(request))
        && let Some(host) = with_port(host, port)
    {
        origin.host = Some(host.into());
    }
    if read.contains(ProxyHeader::XForwardedPrefix) {
        origin.forwarded_prefix = last_value(headers, &X_FORWARDED_PREFIX)
            .and_then(forwarded_prefix)
            .map(Box::from);
    }
}

/// Where a walk over the hops, nearest first, ends.
enum Hop<T> {
    /// The hop that describes the client.
    Client(T),
    /// A malformed entry was reached first: who the client is cannot be told.
    Unknown,
}

/// The hop that describes the client, walking from the nearest hop (the proxy talking to us
/// wrote it) towards the first: the first whose address is not trusted (names, `unknown` and
/// missing addresses never are), or the farthest when every one is. A malformed hop (`None`)
/// ends the walk: what lies beyond it was written by nobody we trust to have written it well.
/// `None` without any hop.
fn client_hop<T>(
    hops: impl Iterator<Item = Option<T>>,
    trusted: &TrustedProxies,
    address: impl Fn(&T) -> Option<&ClientAddr>,
) -> Option<Hop<T>> {
    let mut farthest = None;
    for hop in hops {
        let Some(hop) = hop else {
            return Some(Hop::Unknown);
        };
        if !matches!(address(&hop), Some(ClientAddr::Ip(addr)) if trusted.contains(addr.ip())) {
            return Some(Hop::Client(hop));
        }
        farthest = Some(hop);
    }
    farthest.map(Hop::Client)
}

/// The client a walk stopped short of: RFC 7239 §6.2's name for an unknown node.
fn unknown() -> ClientAddr {
    ClientAddr::Name("unknown".into())
}

/// The entries of every `X-Forwarded-For` line, nearest hop first (the last entry of the last
/// line), each `None` when it is no node ([`parse_node`]). Empty entries are skipped.
fn x_forwarded_for(headers: &HeaderMap) -> impl Iterator<Item = Option<ClientAddr>> + '_ {
    headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .rev()
        .flat_map(|line| line.as_bytes().rsplit(|&byte| byte == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|entry| !entry.is_empty())
        .map(|entry| std::str::from_utf8(entry).ok().and_then(parse_node))
}

/// The elements of every `Forwarded` line, nearest hop first, each `None` when malformed.
fn forwarded_hops(headers: &HeaderMap) -> impl Iterator<Item = Option<ForwardedElement>> + '_ {
    headers
        .get_all(FORWARDED)
        .iter()
        .rev()
        .flat_map(|line| forwarded_elements(line.as_bytes()).into_iter().rev())
}

/// The last entry of the last line of a header, trimmed, when not empty.
fn last_value<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    let line = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let value = line.rsplit(',').next()?.trim();
    (!value.is_empty()).then_some(value)
}

/// An `X-Forwarded-Prefix` as a root path: starting with `/`, visible ASCII without `%`, `?`
/// or `#`, trailing slashes removed; `None` otherwise or when nothing is left.
fn forwarded_prefix(value: &str) -> Option<&str> {
    let well_formed = value.starts_with('/')
        && value
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && !matches!(byte, b'%' | b'?' | b'#'));
    let prefix = value.trim_end_matches('/');
    (well_formed && !prefix.is_empty()).then_some(prefix)
}

/// An `X-Forwarded-Port`: 1 to 5 digits, from 1 to 65535.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&port| port != 0)
}

/// The host the request itself names: its `Host` header, or else its authority (HTTP/2
/// `:authority`, which hyper moves into the URI).
fn request_host<B>(request: &Request<B>) -> Option<&str> {
    match request.headers().get(HOST) {
        Some(host) => host.to_str().ok(),
        None => request.uri().authority().map(http::uri::Authority::as_str),
    }
}

/// A `Host` value with its port replaced by `port`, or `None` when it is no `host[:port]`.
fn with_port(host: &str, port: u16) -> Option<String> {
    let host = parse_host(host)?;
    Some(match host.split_once(']') {
        Some((literal, _)) => format!("{literal}]:{port}"),
        None => format!("{}:{port}", host.rsplit_once(':').map_or(host, |(name, _)| name)),
    })
}

/// A [`Handler`] that attaches a [`RequestOrigin`] to requests, from proxy headers and the URL
/// path prefix ([`ProxySettings`]), before passing them on.
#[derive(Debug, Clone)]
pub struct ProxyHeaders<H> {
    handler: H,
    /// `None` when switched off.
    settings: Option<Arc<ProxySettings>>,
}

impl<H> ProxyHeaders<H> {
    /// Pass requests to `handler` with their origin as `settings` find it.
    #[must_use]
    pub fn new(handler: H, settings: ProxySettings) -> Self {
        Self {
            handler,
            settings: (!settings.is_off()).then(|| Arc::new(settings)),
        }
    }
}

impl<H: Handler> Handler for ProxyHeaders<H> {
    fn handle(
        &self,
        mut request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<H> {
        if let Some(settings) = &self.settings
            && let Some(origin) = settings.origin(&request, conn.peer)
        {
            request.extensions_mut().insert(origin);
        }
        self.handler.handle(request, conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use granian_serve::Scheme;
    use http::{HeaderValue, StatusCode};

    const DEFAULT: &[ProxyHeader] = &[ProxyHeader::XForwardedFor, ProxyHeader::XForwardedProto];

    fn settings(trusted: &str, read: &[ProxyHeader], prefix: Option<&str>) -> ProxySettings {
        ProxySettings::new(Some(trusted.parse().unwrap()), read.iter().copied().collect(), prefix).unwrap()
    }

    fn every(trusted: &str) -> ProxySettings {
        settings(trusted, &ProxyHeader::ALL, None)
    }

    fn request(pairs: &[(&str, &str)]) -> Request<()> {
        let mut request = Request::new(());
        for (name, value) in pairs {
            request.headers_mut().append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        request
    }

    fn local() -> Option<SocketAddr> {
        "127.0.0.1:40000".parse().ok()
    }

    fn ip(text: &str) -> ClientAddr {
        ClientAddr::Ip(text.parse().unwrap())
    }

    const SPOOFED: &[(&str, &str)] = &[
        ("forwarded", "for=1.2.3.4;proto=https;host=evil.example"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-port", "444"),
        ("x-forwarded-prefix", "/evil"),
    ];

    #[test]
    fn by_default_only_x_forwarded_for_and_proto_are_read() {
        let mut pairs = SPOOFED.to_vec();
        pairs.extend([
            ("x-forwarded-for", "203.0.113.7, 127.0.0.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let origin = settings("127.0.0.1", DEFAULT, None)
            .origin(&request(&pairs), local())
            .unwrap();
        assert_eq!(origin.client, Some(ip("203.0.113.7:0")));
        assert_eq!(origin.scheme, Some(Scheme::Https));
        assert_eq!(origin.host, None);
        assert_eq!(origin.forwarded_prefix, None);
        // Without X-Forwarded-*, the client's own Forwarded changes nothing at all.
        assert_eq!(
            settings("127.0.0.1", DEFAULT, None).origin(&request(SPOOFED), local()),
            None
        );
    }

    #[test]
    fn x_forwarded_headers_when_named() {
        let origin = every("127.0.0.1")
            .origin(
                &request(&[
                    ("x-forwarded-for", "203.0.113.7, 127.0.0.1"),
                    ("x-forwarded-proto", "https"),
                    ("x-forwarded-host", "example.com"),
                    ("x-forwarded-prefix", "/api/"),
                ]),
                local(),
            )
            .unwrap();
        assert_eq!(origin.client, Some(ip("203.0.113.7:0")));
        assert_eq!(origin.scheme, Some(Scheme::Https));
        assert_eq!(origin.host.as_deref(), Some("example.com"));
        assert_eq!(origin.forwarded_prefix.as_deref(), Some("/api"));
        assert_eq!(origin.path_prefix, None);
        let only_host = settings("127.0.0.1", &[ProxyHeader::XForwardedHost], None)
            .origin(
                &request(&[("x-forwarded-for", "203.0.113.7"), ("x-forwarded-host", "example.com")]),
                local(),
            )
            .unwrap();
        assert_eq!(
            (only_host.client, only_host.host.as_deref()),
            (None, Some("example.com"))
        );
    }

    #[test]
    fn walk_stops_at_the_first_untrusted_hop() {
        let trusted = settings("127.0.0.1,10.0.0.0/8", DEFAULT, None);
        let client = |value: &str| {
            trusted
                .origin(&request(&[("x-forwarded-for", value)]), local())
                .and_then(|origin| origin.client)
        };
        // A client-supplied first entry is not believed past an untrusted hop.
        assert_eq!(client("6.6.6.6, 203.0.113.7, 10.1.1.1"), Some(ip("203.0.113.7:0")));
        assert_eq!(client("10.0.0.2, 10.0.0.1"), Some(ip("10.0.0.2:0")));
        assert_eq!(client("unknown, 10.0.0.1"), Some(unknown()));
        assert_eq!(client("[2001:db8::5]:1234"), Some(ip("[2001:db8::5]:1234")));
        assert_eq!(client(" , "), None);
        // A malformed entry beyond the client is never reached; one before it ends the walk,
        // and the client is unknown, not the trusted proxy that passed the entry on.
        assert_eq!(client("a\"b, 203.0.113.9"), Some(ip("203.0.113.9:0")));
        assert_eq!(client("1.2.3.4:99999,203.0.113.9"), Some(ip("203.0.113.9:0")));
        assert_eq!(client("a\"b"), Some(unknown()));
        assert_eq!(client("203.0.113.7, not an address"), Some(unknown()));
        assert_eq!(client("6.6.6.6, a\"b, 10.0.0.5"), Some(unknown()));
        let everyone = settings("*", DEFAULT, None);
        let origin = everyone.origin(&request(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7")]), local());
        assert_eq!(origin.unwrap().client, Some(ip("6.6.6.6:0")));
    }

    #[test]
    fn bytes_beyond_ascii_are_one_malformed_entry() {
        let trusted = settings("127.0.0.1", DEFAULT, None);
        let client = |value: &[u8]| {
            let mut request = Request::new(());
            request
                .headers_mut()
                .insert(X_FORWARDED_FOR, HeaderValue::from_bytes(value).unwrap());
            trusted.origin(&request, local()).and_then(|origin| origin.client)
        };
        assert_eq!(client(b"\xff1.2.3.4"), Some(unknown()));
        assert_eq!(client(b"\xff, 203.0.113.7"), Some(ip("203.0.113.7:0")));
    }

    #[test]
    fn several_lines_join() {
        let origin = settings("127.0.0.1", DEFAULT, None)
            .origin(
                &request(&[
                    ("x-forwarded-for", "203.0.113.7"),
                    ("x-forwarded-for", "127.0.0.1"),
                    ("x-forwarded-proto", "http"),
                    ("x-forwarded-proto", "wss"),
                ]),
                local(),
            )
            .unwrap();
        assert_eq!(origin.client, Some(ip("203.0.113.7:0")));
        assert_eq!(origin.scheme, Some(Scheme::Https));
    }

    #[test]
    fn forwarded_when_named_wins_over_x_forwarded() {
        let pairs = [
            (
                "forwarded",
                "for=198.51.100.1;proto=http, for=\"192.0.2.9:5555\";proto=https;host=a.example",
            ),
            ("forwarded", "for=127.0.0.1;proto=http"),
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "http"),
            ("x-forwarded-host", "evil.example"),
        ];
        let origin = every("127.0.0.1").origin(&request(&pairs), local()).unwrap();
        assert_eq!(origin.client, Some(ip("192.0.2.9:5555")));
        assert_eq!(origin.scheme, Some(Scheme::Https));
        assert_eq!(origin.host.as_deref(), Some("a.example"));
        let only_forwarded = settings("127.0.0.1", &[ProxyHeader::Forwarded], None)
            .origin(&request(&pairs), local())
            .unwrap();
        assert_eq!(only_forwarded.client, Some(ip("192.0.2.9:5555")));
    }

    #[test]
    fn forwarded_walk_stops_at_a_malformed_element() {
        let trusted = settings("127.0.0.1,10.0.0.0/8", &[ProxyHeader::Forwarded], None);
        let origin = |lines: &[&str]| {
            let pairs: Vec<_> = lines.iter().map(|line| ("forwarded", *line)).collect();
            trusted.origin(&request(&pairs), local()).unwrap()
        };
        let seen = origin(&["for=\"oops", "for=198.51.100.1;proto=https", "for=10.0.0.1"]);
        assert_eq!(seen.client, Some(ip("198.51.100.1:0")));
        assert_eq!(seen.scheme, Some(Scheme::Https));
        let seen = origin(&["for=198.51.100.1;proto=https", "for=\"oops"]);
        assert_eq!((seen.client, seen.scheme), (Some(unknown()), None));
        let seen = origin(&["for=192.0.2.1;for=192.0.2.2, for=203.0.113.5;host=b.example"]);
        assert_eq!(seen.client, Some(ip("203.0.113.5:0")));
        assert_eq!(seen.host.as_deref(), Some("b.example"));
        // An element without `for=` is where the walk stops: its proto and host are the
        // client's, who is unknown (never the trusted peer).
        let seen = origin(&["for=6.6.6.6, proto=https;host=c.example, for=10.0.0.9"]);
        assert_eq!((seen.client, seen.scheme), (Some(unknown()), Some(Scheme::Https)));
        assert_eq!(seen.host.as_deref(), Some("c.example"));
    }

    #[test]
    fn x_forwarded_port_replaces_the_port_of_the_host() {
        let port_only = settings("127.0.0.1", &[ProxyHeader::XForwardedPort], None);
        let host = |pairs: &[(&str, &str)], settings: &ProxySettings| {
            settings
                .origin(&request(pairs), local())
                .and_then(|origin| origin.host.map(String::from))
        };
        let with_port =
            |host_header: &str, port: &str| host(&[("host", host_header), ("x-forwarded-port", port)], &port_only);
        assert_eq!(with_port("example.com:8000", "443").as_deref(), Some("example.com:443"));
        assert_eq!(with_port("example.com", "8443").as_deref(), Some("example.com:8443"));
        assert_eq!(with_port("[::1]:80", "443").as_deref(), Some("[::1]:443"));
        for bad in ["0", "65536", "123456", "-1", "a", ""] {
            assert_eq!(with_port("example.com", bad), None, "{bad:?}");
        }
        assert_eq!(with_port("a b", "443"), None);
        // Over HTTP/2 the request names its host in the URI, not in a Host header.
        let mut h2 = Request::new(());
        *h2.uri_mut() = "http://h2.example:8080/x".parse().unwrap();
        h2.headers_mut()
            .insert(X_FORWARDED_PORT, HeaderValue::from_static("443"));
        let origin = port_only.origin(&h2, local()).unwrap();
        assert_eq!(origin.host.as_deref(), Some("h2.example:443"));
        // With X-Forwarded-Host read too, the port goes on the forwarded host.
        let pairs = [
            ("host", "internal:8000"),
            ("x-forwarded-host", "public.example"),
            ("x-forwarded-port", "8443"),
        ];
        assert_eq!(
            host(&pairs, &every("127.0.0.1")).as_deref(),
            Some("public.example:8443")
        );
    }

    #[test]
    fn malformed_headers_are_ignored() {
        let trusted = every("127.0.0.1");
        let junk = request(&[
            ("x-forwarded-proto", "1nvalid"),
            ("x-forwarded-host", "a b"),
            ("x-forwarded-port", "http"),
            ("x-forwarded-prefix", "api"),
        ]);
        assert_eq!(trusted.origin(&junk, local()), None);
        for prefix in ["/a?b", "/a%20b", "/", "//"] {
            assert_eq!(forwarded_prefix(prefix), None, "{prefix}");
        }
    }

    #[test]
    fn untrusted_peers_and_unix_sockets() {
        let only_ten = settings("10.0.0.0/8", &ProxyHeader::ALL, Some("/mount"));
        let sent = request(&[("x-forwarded-for", "203.0.113.7"), ("x-forwarded-prefix", "/api")]);
        let origin = only_ten.origin(&sent, local()).unwrap();
        assert_eq!(origin.client, None);
        assert_eq!(origin.forwarded_prefix, None);
        assert_eq!(origin.path_prefix.as_deref(), Some("/mount"));
        // A Unix socket peer is trusted.
        let origin = only_ten.origin(&sent, None).unwrap();
        assert_eq!(origin.client, Some(ip("203.0.113.7:0")));
        assert_eq!(origin.root_path().as_deref(), Some("/api/mount"));
    }

    #[test]
    fn path_prefix_only() {
        let prefix = ProxySettings::new(None, ProxyHeader::ALL.into_iter().collect(), Some("/app//")).unwrap();
        assert!(!prefix.is_off());
        let origin = prefix
            .origin(&request(&[("x-forwarded-for", "203.0.113.7")]), local())
            .unwrap();
        assert_eq!(origin.client, None);
        assert_eq!(origin.path_prefix.as_deref(), Some("/app"));
        assert_eq!(origin.root_path().as_deref(), Some("/app"));
        let none = ProxyHeaderSet::default();
        for off in [None, Some(""), Some("/")] {
            assert!(ProxySettings::new(None, none, off).unwrap().is_off());
        }
        assert!(matches!(
            ProxySettings::new(None, none, Some("app")),
            Err(Error::BadPathPrefix(_))
        ));
        assert!(matches!(
            ProxySettings::new(None, none, Some("/a\nb")),
            Err(Error::BadPathPrefix(_))
        ));
    }

    #[test]
    fn nothing_to_say_inserts_nothing() {
        let trusted = every("127.0.0.1");
        assert_eq!(trusted.origin(&request(&[("host", "a")]), local()), None);
    }

    #[derive(Clone)]
    struct Echo;

    impl Handler for Echo {
        fn handle(
            &self,
            request: Request<IncomingBody>,
            _conn: &Arc<ConnInfo>,
        ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
            let client = request
                .extensions()
                .get::<RequestOrigin>()
                .and_then(|origin| origin.client.as_ref())
                .map_or_else(|| "none".to_owned(), ToString::to_string);
            async move {
                let mut response = granian_serve::error_response(StatusCode::OK);
                response
                    .headers_mut()
                    .insert("x-client", HeaderValue::from_str(&client).unwrap());
                response
            }
        }
    }

    async fn client_seen(layer: &ProxyHeaders<Echo>, conn: &Arc<ConnInfo>) -> HeaderValue {
        let mut request = Request::new(IncomingBody::full(bytes::Bytes::new()));
        request
            .headers_mut()
            .insert(X_FORWARDED_FOR, HeaderValue::from_static("203.0.113.7"));
        let response = layer.handle(request, conn).await;
        response.headers()["x-client"].clone()
    }

    #[tokio::test]
    async fn layer_inserts_the_origin() {
        let conn = Arc::new(ConnInfo::new(
            local().unwrap(),
            "127.0.0.1:8000".parse().unwrap(),
            Scheme::Http,
        ));
        let on = ProxyHeaders::new(Echo, settings("127.0.0.1", DEFAULT, None));
        assert_eq!(client_seen(&on, &conn).await, "203.0.113.7:0");
        let off = ProxyHeaders::new(Echo, ProxySettings::default());
        assert!(off.settings.is_none());
        assert_eq!(client_seen(&off, &conn).await, "none");
    }
}
