use granian_pyconv::percent_decode;
use granian_serve::{ConnInfo, RequestOrigin, Scheme};
use http::header::{self, HeaderMap, HeaderName};
use http::request::Parts;
use http::{Method, Version};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::file::FileWrapper;
use crate::input::WsgiInput;
use crate::log::WsgiErrors;

/// `SERVER_PROTOCOL` for a request's HTTP version, spelled as on a request line.
#[must_use]
pub fn server_protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// Bytes as a str of the same code points: PEP 3333 carries bytes from the wire in "native
/// strings" decoded as ISO-8859-1, so the application can encode them back losslessly.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().copied().map(char::from).collect()
}

/// `PATH_INFO` for a request path: `%XX` escapes decoded (malformed ones kept as they stand),
/// then each byte as one ISO-8859-1 character. A UTF-8 path therefore arrives as its bytes,
/// the way frameworks expect (`path.encode('latin-1').decode('utf-8')`).
#[must_use]
pub fn path_info(raw_path: &str) -> String {
    latin1(&percent_decode(raw_path.as_bytes()))
}

/// `PATH_INFO` for a request path under the URL path prefix `prefix` (PEP 3333: `SCRIPT_NAME`
/// holds the prefix, `PATH_INFO` the rest). The prefix is removed only where it ends a path
/// segment (`/app` from `/app/x`, not from `/apple`); a path that is the prefix alone gives `/`,
/// as Granian does. Paths outside the prefix are left whole.
pub(crate) fn path_info_under(raw_path: &str, prefix: &str) -> String {
    let decoded = percent_decode(raw_path.as_bytes());
    match decoded.strip_prefix(prefix.as_bytes()) {
        Some([]) => "/".to_owned(),
        Some(rest) if rest.first() == Some(&b'/') => latin1(rest),
        _ => latin1(&decoded),
    }
}

/// The environ keys for a request's headers: `CONTENT_TYPE` and `CONTENT_LENGTH` as CGI names
/// them, every other header as `HTTP_` plus its name in upper case with `-` as `_`. A header
/// sent more than once becomes one key, its values joined with `,` (RFC 9110 §5.3 allows
/// optional whitespace around the comma; none is added, as Granian and gunicorn do), except
/// `Cookie`, joined with `; ` (RFC 9113 §8.2.3 allows a client to split it). Values are
/// decoded as ISO-8859-1.
///
/// Headers whose names contain `_` are left out: `X_Forwarded_For` would land on the same key
/// as `X-Forwarded-For`, letting a client forge a header a proxy in front vouches for (nginx
/// and gunicorn drop them too). Without a `Host` header, `authority` (the HTTP/2
/// `:authority`) becomes `HTTP_HOST`.
#[must_use]
pub fn cgi_headers(headers: &HeaderMap, authority: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(headers.keys_len() + 1);
    if !headers.contains_key(header::HOST)
        && let Some(authority) = authority
    {
        out.push(("HTTP_HOST".to_owned(), authority.to_owned()));
    }
    for name in headers.keys() {
        if name.as_str().contains('_') {
            continue;
        }
        let separator: &[u8] = if name == header::COOKIE { b"; " } else { b"," };
        let mut joined = Vec::new();
        for (index, value) in headers.get_all(name).iter().enumerate() {
            if index > 0 {
                joined.extend_from_slice(separator);
            }
            joined.extend_from_slice(value.as_bytes());
        }
        out.push((cgi_key(name), latin1(&joined)));
    }
    out
}

fn cgi_key(name: &HeaderName) -> String {
    if name == header::CONTENT_TYPE {
        return "CONTENT_TYPE".to_owned();
    }
    if name == header::CONTENT_LENGTH {
        return "CONTENT_LENGTH".to_owned();
    }
    let mut key = String::with_capacity(5 + name.as_str().len());
    key.push_str("HTTP_");
    key.extend(
        name.as_str()
            .chars()
            .map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() }),
    );
    key
}

/// Python objects built once per server and shared by every environ.
pub(crate) struct EnvironCache {
    /// The keys that are the same for every request; each environ starts as a copy.
    template: Py<PyDict>,
    methods: Vec<(Method, Py<PyString>)>,
    protocols: [Py<PyString>; 4],
    https: Py<PyString>,
}

impl EnvironCache {
    pub(crate) fn new(py: Python<'_>, multiprocess: bool) -> PyResult<Self> {
        let template = PyDict::new(py);
        template.set_item("SCRIPT_NAME", "")?;
        template.set_item("wsgi.version", PyTuple::new(py, [1, 0])?)?;
        template.set_item("wsgi.url_scheme", "http")?;
        template.set_item("wsgi.multithread", true)?;
        template.set_item("wsgi.multiprocess", multiprocess)?;
        template.set_item("wsgi.run_once", false)?;
        template.set_item("wsgi.input_terminated", true)?;
        template.set_item("wsgi.file_wrapper", py.get_type::<FileWrapper>())?;
        let methods = [
            Method::GET,
            Method::POST,
            Method::HEAD,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::OPTIONS,
        ]
        .into_iter()
        .map(|method| {
            let name = PyString::intern(py, method.as_str()).unbind();
            (method, name)
        })
        .collect();
        Ok(Self {
            template: template.unbind(),
            methods,
            protocols: [
                PyString::intern(py, "HTTP/1.0").unbind(),
                PyString::intern(py, "HTTP/1.1").unbind(),
                PyString::intern(py, "HTTP/2").unbind(),
                PyString::intern(py, "HTTP/3").unbind(),
            ],
            https: PyString::intern(py, "https").unbind(),
        })
    }

    fn method<'py>(&self, py: Python<'py>, method: &Method) -> Bound<'py, PyString> {
        match self.methods.iter().find(|(known, _)| known == method) {
            Some((_, name)) => name.bind(py).clone(),
            None => PyString::new(py, method.as_str()),
        }
    }

    fn protocol<'py>(&self, py: Python<'py>, version: Version) -> Bound<'py, PyString> {
        match version {
            Version::HTTP_10 => self.protocols[0].bind(py).clone(),
            Version::HTTP_11 => self.protocols[1].bind(py).clone(),
            Version::HTTP_2 => self.protocols[2].bind(py).clone(),
            Version::HTTP_3 => self.protocols[3].bind(py).clone(),
            other => PyString::new(py, server_protocol(other)),
        }
    }
}

/// A connection's address keys, built once and reused by its keep-alive requests.
struct ConnKeys {
    remote_addr: Py<PyString>,
    remote_port: Py<PyString>,
    server_name: Py<PyString>,
    server_port: Py<PyString>,
}

impl ConnKeys {
    fn new(py: Python<'_>, conn: &ConnInfo) -> Self {
        let text = |value: String| PyString::new(py, &value).unbind();
        Self {
            // Empty on a Unix socket, whose peers have no address.
            remote_addr: text(conn.peer.map(|addr| addr.ip().to_string()).unwrap_or_default()),
            remote_port: text(conn.peer.map(|addr| addr.port().to_string()).unwrap_or_default()),
            server_name: text(conn.local.map(|addr| addr.ip().to_string()).unwrap_or_default()),
            server_port: text(conn.local.map(|addr| addr.port().to_string()).unwrap_or_default()),
        }
    }

    fn set(&self, py: Python<'_>, environ: &Bound<'_, PyDict>) -> PyResult<()> {
        environ.set_item(intern!(py, "REMOTE_ADDR"), self.remote_addr.bind(py))?;
        environ.set_item(intern!(py, "REMOTE_PORT"), self.remote_port.bind(py))?;
        environ.set_item(intern!(py, "SERVER_NAME"), self.server_name.bind(py))?;
        environ.set_item(intern!(py, "SERVER_PORT"), self.server_port.bind(py))
    }
}

/// The environ of one request (PEP 3333), built fresh: nothing of `os.environ` is in it.
pub(crate) fn build<'py>(
    py: Python<'py>,
    cache: &EnvironCache,
    parts: &Parts,
    conn: &ConnInfo,
    input: Py<WsgiInput>,
    errors: Py<WsgiErrors>,
) -> PyResult<Bound<'py, PyDict>> {
    let environ = cache.template.bind(py).copy()?;
    environ.set_item(intern!(py, "REQUEST_METHOD"), cache.method(py, &parts.method))?;
    environ.set_item(intern!(py, "PATH_INFO"), path_info(parts.uri.path()))?;
    environ.set_item(intern!(py, "QUERY_STRING"), parts.uri.query().unwrap_or(""))?;
    environ.set_item(intern!(py, "SERVER_PROTOCOL"), cache.protocol(py, parts.version))?;
    if conn.interface_cache.get().is_none() {
        let _ = conn.interface_cache.set(Box::new(ConnKeys::new(py, conn)));
    }
    match conn
        .interface_cache
        .get()
        .and_then(|cached| cached.downcast_ref::<ConnKeys>())
    {
        Some(keys) => keys.set(py, &environ)?,
        None => ConnKeys::new(py, conn).set(py, &environ)?,
    }
    if conn.scheme == Scheme::Https {
        environ.set_item(intern!(py, "wsgi.url_scheme"), cache.https.bind(py))?;
    }
    for (key, value) in cgi_headers(&parts.headers, parts.uri.authority().map(http::uri::Authority::as_str)) {
        environ.set_item(key, value)?;
    }
    if let Some(origin) = parts.extensions.get::<RequestOrigin>() {
        apply_origin(py, &environ, origin, parts.uri.path())?;
    }
    environ.set_item(intern!(py, "wsgi.input"), input)?;
    environ.set_item(intern!(py, "wsgi.errors"), errors)?;
    Ok(environ)
}

/// What a trusted proxy reported and the URL path prefix, over the connection's own values:
/// `REMOTE_ADDR` and `REMOTE_PORT` (`0` when the proxy gave no port), `wsgi.url_scheme`,
/// `HTTP_HOST` (what `wsgiref.util.request_uri` and frameworks build URLs from; `SERVER_NAME`
/// and `SERVER_PORT` keep naming the socket), and `SCRIPT_NAME` with `PATH_INFO` split at the
/// configured prefix.
fn apply_origin(py: Python<'_>, environ: &Bound<'_, PyDict>, origin: &RequestOrigin, raw_path: &str) -> PyResult<()> {
    if let Some(client) = &origin.client {
        environ.set_item(intern!(py, "REMOTE_ADDR"), client.host())?;
        environ.set_item(intern!(py, "REMOTE_PORT"), client.port().to_string())?;
    }
    if let Some(scheme) = origin.scheme {
        environ.set_item(intern!(py, "wsgi.url_scheme"), scheme.as_str())?;
    }
    if let Some(host) = &origin.host {
        environ.set_item(intern!(py, "HTTP_HOST"), &**host)?;
    }
    if let Some(root_path) = origin.root_path() {
        environ.set_item(intern!(py, "SCRIPT_NAME"), latin1(root_path.as_bytes()))?;
    }
    if let Some(prefix) = &origin.path_prefix {
        environ.set_item(intern!(py, "PATH_INFO"), path_info_under(raw_path, prefix))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    fn lookup<'a>(cgi: &'a [(String, String)], key: &str) -> Option<&'a str> {
        cgi.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn repeated_headers_join_with_a_comma() {
        let cgi = cgi_headers(&headers(&[("accept", b"text/html"), ("accept", b"*/*")]), None);
        assert_eq!(cgi, vec![("HTTP_ACCEPT".to_owned(), "text/html,*/*".to_owned())]);
    }

    #[test]
    fn cookies_join_with_a_semicolon() {
        let cgi = cgi_headers(&headers(&[("cookie", b"a=1"), ("x-a", b"1"), ("cookie", b"b=2")]), None);
        assert_eq!(lookup(&cgi, "HTTP_COOKIE"), Some("a=1; b=2"));
        assert_eq!(lookup(&cgi, "HTTP_X_A"), Some("1"));
    }

    #[test]
    fn content_headers_use_cgi_names() {
        let cgi = cgi_headers(
            &headers(&[
                ("content-type", b"text/plain"),
                ("content-length", b"5"),
                ("x-custom-thing", b"v"),
            ]),
            None,
        );
        assert_eq!(lookup(&cgi, "CONTENT_TYPE"), Some("text/plain"));
        assert_eq!(lookup(&cgi, "CONTENT_LENGTH"), Some("5"));
        assert_eq!(lookup(&cgi, "HTTP_X_CUSTOM_THING"), Some("v"));
        assert_eq!(lookup(&cgi, "HTTP_CONTENT_TYPE"), None);
        assert_eq!(lookup(&cgi, "HTTP_CONTENT_LENGTH"), None);
    }

    #[test]
    fn underscore_names_are_dropped() {
        let cgi = cgi_headers(
            &headers(&[("x-forwarded-for", b"1.2.3.4"), ("x_forwarded_for", b"6.6.6.6")]),
            None,
        );
        assert_eq!(cgi, vec![("HTTP_X_FORWARDED_FOR".to_owned(), "1.2.3.4".to_owned())]);
    }

    #[test]
    fn values_decode_as_latin1() {
        let cgi = cgi_headers(&headers(&[("x-name", "café".as_bytes())]), None);
        // The two UTF-8 bytes of 'é' arrive as two characters.
        assert_eq!(lookup(&cgi, "HTTP_X_NAME"), Some("caf\u{c3}\u{a9}"));
    }

    #[test]
    fn authority_stands_in_for_a_missing_host() {
        let cgi = cgi_headers(&HeaderMap::new(), Some("example.com:8000"));
        assert_eq!(lookup(&cgi, "HTTP_HOST"), Some("example.com:8000"));
        let cgi = cgi_headers(&headers(&[("host", b"a.example")]), Some("b.example"));
        assert_eq!(lookup(&cgi, "HTTP_HOST"), Some("a.example"));
        assert_eq!(cgi.len(), 1);
    }

    #[test]
    fn path_info_decodes_escapes_then_latin1() {
        assert_eq!(path_info("/a%20b"), "/a b");
        assert_eq!(path_info("/caf%C3%A9"), "/caf\u{c3}\u{a9}");
        assert_eq!(path_info("/%FF"), "/\u{ff}");
        assert_eq!(path_info("/100%"), "/100%");
        assert_eq!(path_info("/a%2Fb"), "/a/b");
        assert_eq!(path_info("/plain"), "/plain");
    }

    #[test]
    fn environ_holds_the_request_and_nothing_of_the_process_environment() {
        Python::attach(|py| {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let cache = EnvironCache::new(py, true).unwrap();
            let (parts, ()) = http::Request::builder()
                .method("POST")
                .uri("/caf%C3%A9/x?a=1&b=%20")
                .version(Version::HTTP_10)
                .header("host", "example.com")
                .header("content-type", "text/plain")
                .header("x-a", "1")
                .header("x-a", "2")
                .body(())
                .unwrap()
                .into_parts();
            let conn = ConnInfo::new(
                "10.0.0.1:5555".parse().unwrap(),
                "127.0.0.1:8000".parse().unwrap(),
                Scheme::Https,
            );
            let input = Py::new(
                py,
                WsgiInput::new(bytes::Bytes::new(), None, runtime.handle().clone(), None),
            )
            .unwrap();
            let errors = Py::new(py, WsgiErrors::new(py, &crate::log::Logger::new(py).unwrap())).unwrap();
            let environ = build(py, &cache, &parts, &conn, input, errors).unwrap();
            let text = |key: &str| -> String { environ.get_item(key).unwrap().unwrap().extract().unwrap() };
            assert_eq!(text("REQUEST_METHOD"), "POST");
            assert_eq!(text("SCRIPT_NAME"), "");
            assert_eq!(text("PATH_INFO"), "/caf\u{c3}\u{a9}/x");
            assert_eq!(text("QUERY_STRING"), "a=1&b=%20");
            assert_eq!(text("SERVER_PROTOCOL"), "HTTP/1.0");
            assert_eq!(text("SERVER_NAME"), "127.0.0.1");
            assert_eq!(text("SERVER_PORT"), "8000");
            assert_eq!(text("REMOTE_ADDR"), "10.0.0.1");
            assert_eq!(text("REMOTE_PORT"), "5555");
            assert_eq!(text("HTTP_HOST"), "example.com");
            assert_eq!(text("CONTENT_TYPE"), "text/plain");
            assert_eq!(text("HTTP_X_A"), "1,2");
            assert_eq!(text("wsgi.url_scheme"), "https");
            let version: (u8, u8) = environ.get_item("wsgi.version").unwrap().unwrap().extract().unwrap();
            assert_eq!(version, (1, 0));
            let flag = |key: &str| -> bool { environ.get_item(key).unwrap().unwrap().extract().unwrap() };
            assert!(flag("wsgi.multithread"));
            assert!(flag("wsgi.multiprocess"));
            assert!(!flag("wsgi.run_once"));
            assert!(flag("wsgi.input_terminated"));
            assert!(!environ.contains("CONTENT_LENGTH").unwrap());
            assert!(!environ.contains("PATH").unwrap());
            // Each request gets its own dict: the template is untouched.
            assert!(!cache.template.bind(py).contains("REQUEST_METHOD").unwrap());
        });
    }

    #[test]
    fn path_info_under_a_prefix() {
        assert_eq!(path_info_under("/app/x/y", "/app"), "/x/y");
        assert_eq!(path_info_under("/app", "/app"), "/");
        assert_eq!(path_info_under("/app/", "/app"), "/");
        assert_eq!(path_info_under("/apple", "/app"), "/apple");
        assert_eq!(path_info_under("/other", "/app"), "/other");
        assert_eq!(path_info_under("/%61pp/x", "/app"), "/x");
        assert_eq!(path_info_under("/caf%C3%A9/x", "/caf\u{e9}"), "/x");
        assert_eq!(path_info_under("/a/caf%C3%A9", "/a"), "/caf\u{c3}\u{a9}");
    }

    #[test]
    fn origin_overrides_the_connection() {
        Python::attach(|py| {
            let environ = PyDict::new(py);
            let origin = RequestOrigin {
                client: Some(granian_serve::ClientAddr::Ip("[2001:db8::7]:0".parse().unwrap())),
                scheme: Some(Scheme::Https),
                host: Some("example.com".into()),
                forwarded_prefix: Some("/edge".into()),
                path_prefix: Some("/caf\u{e9}".into()),
            };
            apply_origin(py, &environ, &origin, "/caf%C3%A9/x").unwrap();
            let text = |key: &str| -> String { environ.get_item(key).unwrap().unwrap().extract().unwrap() };
            assert_eq!(text("REMOTE_ADDR"), "2001:db8::7");
            assert_eq!(text("REMOTE_PORT"), "0");
            assert_eq!(text("wsgi.url_scheme"), "https");
            assert_eq!(text("HTTP_HOST"), "example.com");
            assert_eq!(text("SCRIPT_NAME"), "/edge/caf\u{c3}\u{a9}");
            assert_eq!(text("PATH_INFO"), "/x");
        });
    }

    #[test]
    fn server_protocol_spelling() {
        assert_eq!(server_protocol(Version::HTTP_10), "HTTP/1.0");
        assert_eq!(server_protocol(Version::HTTP_11), "HTTP/1.1");
        assert_eq!(server_protocol(Version::HTTP_2), "HTTP/2");
    }
}
