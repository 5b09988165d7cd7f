use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use granian_serve::{ClientAddr, ConnInfo, Handler, IncomingBody, RequestOrigin, ResponseBody};
use http::header::{FORWARDED, HeaderMap, HeaderName};
use http::{Request, Response};

use crate::forwarded::{parse_forwarded, parse_host, parse_scheme};
use crate::node::parse_node;
use crate::{Error, TrustedProxies};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");

/// What the proxy layer does: believe proxy headers from some peers, add a URL path prefix,
/// both, or neither.
#[derive(Debug, Clone, Default)]
pub struct ProxySettings {
    trusted: Option<TrustedProxies>,
    path_prefix: Option<Arc<str>>,
}

impl ProxySettings {
    /// Read proxy headers from `trusted` peers (`None`: from nobody, headers are left to the
    /// application), and mount the application under `url_path_prefix`: request paths start
    /// with it, and interfaces report it as the root path (`None`, `""` or `"/"`: no prefix).
    ///
    /// Peers on a Unix socket have no address; they are trusted whenever proxy headers are
    /// read, since reaching the socket takes file system permissions.
    pub fn new(trusted: Option<TrustedProxies>, url_path_prefix: Option<&str>) -> Result<Self, Error> {
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
        Ok(Self { trusted, path_prefix })
    }

    /// The peers whose proxy headers are read; `None` reads them from nobody.
    #[must_use]
    pub fn trusted(&self) -> Option<&TrustedProxies> {
        self.trusted.as_ref()
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

    /// The origin of a request with `headers` from `peer` (`None`: a Unix socket peer), or
    /// `None` when there is nothing to say beyond what the connection says.
    #[must_use]
    pub fn origin(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<RequestOrigin> {
        let mut origin = RequestOrigin {
            path_prefix: self.path_prefix.clone(),
            ..RequestOrigin::default()
        };
        if let Some(trusted) = &self.trusted
            && peer.is_none_or(|peer| trusted.contains(peer.ip()))
        {
            read_headers(headers, trusted, &mut origin);
        }
        (origin != RequestOrigin::default()).then_some(origin)
    }
}

/// Fill `origin` from the headers of a request a trusted proxy sent.
///
/// `Forwarded`, when present, is the only source of the client, scheme and host: a client may
/// send its own `X-Forwarded-*` through a proxy that speaks only `Forwarded`. Its elements are
/// walked from the last (the hop nearest to us) to the first, past those whose `for=` is a
/// trusted address; the first other element describes the client. Without `Forwarded`,
/// `X-Forwarded-For` is walked the same way, and `X-Forwarded-Proto` and `X-Forwarded-Host`
/// are taken from their last value, the one the proxy talking to us wrote. A malformed header
/// is ignored as a whole.
fn read_headers(headers: &HeaderMap, trusted: &TrustedProxies, origin: &mut RequestOrigin) {
    if headers.contains_key(FORWARDED) {
        if let Some(value) = joined(headers, &FORWARDED)
            && let Some(elements) = parse_forwarded(&value)
            && let Some(element) = client_hop(&elements, trusted, |element| element.client.as_ref())
        {
            origin.client.clone_from(&element.client);
            origin.scheme = element.scheme;
            origin.host.clone_from(&element.host);
        }
    } else {
        if let Some(value) = joined(headers, &X_FORWARDED_FOR)
            && let Some(hops) = forwarded_for(&value)
        {
            origin.client = client_hop(&hops, trusted, |hop| Some(hop)).cloned();
        }
        origin.scheme = last_value(headers, &X_FORWARDED_PROTO).and_then(|proto| parse_scheme(proto).ok().flatten());
        origin.host = last_value(headers, &X_FORWARDED_HOST)
            .and_then(parse_host)
            .map(Box::from);
    }
    origin.forwarded_prefix = last_value(headers, &X_FORWARDED_PREFIX)
        .and_then(forwarded_prefix)
        .map(Box::from);
}

/// The hop that describes the client: walking from the nearest hop, the first whose address is
/// not trusted (names, `unknown` and missing addresses never are); the farthest when all are.
fn client_hop<'a, T>(
    hops: &'a [T],
    trusted: &TrustedProxies,
    address: impl Fn(&T) -> Option<&ClientAddr>,
) -> Option<&'a T> {
    if trusted.trusts_everyone() {
        return hops.first();
    }
    hops.iter()
        .rev()
        .find(|hop| !matches!(address(hop), Some(ClientAddr::Ip(addr)) if trusted.contains(addr.ip())))
        .or_else(|| hops.first())
}

/// Every line of a header as one comma-separated list, or `None` without any line or with one
/// that is not visible ASCII.
fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut lines = headers.get_all(name).iter();
    let mut value = lines.next()?.to_str().ok()?.to_owned();
    for line in lines {
        value.push(',');
        value.push_str(line.to_str().ok()?);
    }
    Some(value)
}

/// The addresses of `X-Forwarded-For`, first hop first; `None` if one is malformed or there
/// are none. Empty entries are skipped.
fn forwarded_for(value: &str) -> Option<Vec<ClientAddr>> {
    let hops = value
        .split(',')
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .map(parse_node)
        .collect::<Option<Vec<_>>>()?;
    (!hops.is_empty()).then_some(hops)
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
            && let Some(origin) = settings.origin(request.headers(), conn.peer)
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

    fn settings(trusted: &str, prefix: Option<&str>) -> ProxySettings {
        ProxySettings::new(Some(trusted.parse().unwrap()), prefix).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn local() -> Option<SocketAddr> {
        "127.0.0.1:40000".parse().ok()
    }

    fn ip(text: &str) -> ClientAddr {
        ClientAddr::Ip(text.parse().unwrap())
    }

    #[test]
    fn x_forwarded_headers() {
        let origin = settings("127.0.0.1", None)
            .origin(
                &headers(&[
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
    }

    #[test]
    fn walk_stops_at_the_first_untrusted_hop() {
        let trusted = settings("127.0.0.1,10.0.0.0/8", None);
        let client = |value: &str| {
            trusted
                .origin(&headers(&[("x-forwarded-for", value)]), local())
                .and_then(|origin| origin.client)
        };
        // A client-supplied first entry is not believed past an untrusted hop.
        assert_eq!(client("6.6.6.6, 203.0.113.7, 10.1.1.1"), Some(ip("203.0.113.7:0")));
        assert_eq!(client("10.0.0.2, 10.0.0.1"), Some(ip("10.0.0.2:0")));
        assert_eq!(client("unknown, 10.0.0.1"), Some(ClientAddr::Name("unknown".into())));
        assert_eq!(client("[2001:db8::5]:1234"), Some(ip("[2001:db8::5]:1234")));
        assert_eq!(client(" , "), None);
        assert_eq!(client("203.0.113.7, not an address"), None);
        let everyone = settings("*", None);
        let origin = everyone.origin(&headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7")]), local());
        assert_eq!(origin.unwrap().client, Some(ip("6.6.6.6:0")));
    }

    #[test]
    fn several_lines_join() {
        let origin = settings("127.0.0.1", None)
            .origin(
                &headers(&[
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
    fn forwarded_wins_over_x_forwarded() {
        let origin = settings("127.0.0.1", None)
            .origin(
                &headers(&[
                    (
                        "forwarded",
                        "for=198.51.100.1;proto=http, for=\"192.0.2.9:5555\";proto=https;host=a.example",
                    ),
                    ("forwarded", "for=127.0.0.1;proto=http"),
                    ("x-forwarded-for", "6.6.6.6"),
                    ("x-forwarded-proto", "http"),
                    ("x-forwarded-host", "evil.example"),
                ]),
                local(),
            )
            .unwrap();
        assert_eq!(origin.client, Some(ip("192.0.2.9:5555")));
        assert_eq!(origin.scheme, Some(Scheme::Https));
        assert_eq!(origin.host.as_deref(), Some("a.example"));
    }

    #[test]
    fn malformed_headers_are_ignored() {
        let trusted = settings("127.0.0.1", None);
        // A malformed Forwarded also silences X-Forwarded-*.
        let spoof = headers(&[("forwarded", "for=\"oops"), ("x-forwarded-for", "6.6.6.6")]);
        assert_eq!(trusted.origin(&spoof, local()), None);
        let junk = headers(&[
            ("x-forwarded-for", "1.2.3.4:99999"),
            ("x-forwarded-proto", "1nvalid"),
            ("x-forwarded-host", "a b"),
            ("x-forwarded-prefix", "api"),
        ]);
        assert_eq!(trusted.origin(&junk, local()), None);
        let mut binary = HeaderMap::new();
        binary.insert(X_FORWARDED_FOR, HeaderValue::from_bytes(b"\xff1.2.3.4").unwrap());
        assert_eq!(trusted.origin(&binary, local()), None);
        for prefix in ["/a?b", "/a%20b", "/", "//"] {
            assert_eq!(forwarded_prefix(prefix), None, "{prefix}");
        }
    }

    #[test]
    fn untrusted_peers_and_unix_sockets() {
        let only_ten = settings("10.0.0.0/8", Some("/mount"));
        let sent = headers(&[("x-forwarded-for", "203.0.113.7"), ("x-forwarded-prefix", "/api")]);
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
        let prefix = ProxySettings::new(None, Some("/app//")).unwrap();
        assert!(!prefix.is_off());
        let origin = prefix
            .origin(&headers(&[("x-forwarded-for", "203.0.113.7")]), local())
            .unwrap();
        assert_eq!(origin.client, None);
        assert_eq!(origin.path_prefix.as_deref(), Some("/app"));
        assert_eq!(origin.root_path().as_deref(), Some("/app"));
        for off in [None, Some(""), Some("/")] {
            assert!(ProxySettings::new(None, off).unwrap().is_off());
        }
        assert!(matches!(
            ProxySettings::new(None, Some("app")),
            Err(Error::BadPathPrefix(_))
        ));
        assert!(matches!(
            ProxySettings::new(None, Some("/a\nb")),
            Err(Error::BadPathPrefix(_))
        ));
    }

    #[test]
    fn nothing_to_say_inserts_nothing() {
        let trusted = settings("127.0.0.1", None);
        assert_eq!(trusted.origin(&headers(&[("host", "a")]), local()), None);
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
        let on = ProxyHeaders::new(Echo, settings("127.0.0.1", None));
        assert_eq!(client_seen(&on, &conn).await, "203.0.113.7:0");
        let off = ProxyHeaders::new(Echo, ProxySettings::default());
        assert!(off.settings.is_none());
        assert_eq!(client_seen(&off, &conn).await, "none");
    }
}
