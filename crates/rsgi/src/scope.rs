use std::borrow::Cow;
use std::sync::Arc;

use granian_pyconv::percent_decode;
use granian_serve::{ConnInfo, RequestOrigin};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Uri, Version, header};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyString;

use crate::headers::RsgiHeaders;

/// The RSGI spec version this interface implements.
pub const RSGI_VERSION: &str = "1.6";

/// The scope's `path`: the request path with `%XX` escapes decoded, as text (invalid UTF-8
/// becomes U+FFFD, as Granian does).
#[must_use]
pub fn decode_path(raw: &str) -> Cow<'_, str> {
    match percent_decode(raw.as_bytes()) {
        Cow::Borrowed(_) => Cow::Borrowed(raw),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// The scope's `http_version`.
#[must_use]
pub fn http_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 | Version::HTTP_10 => "1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// A connection's `client` and `server` strings, built once and reused by its requests.
struct ConnStrings {
    client: Py<PyString>,
    server: Py<PyString>,
}

/// The scope of one HTTP request. Attributes are computed when read, from the request head
/// it owns; the headers mapping is built once.
#[pyclass(frozen, module = "granian._native", name = "RSGIHTTPScope")]
pub struct RsgiScope {
    version: Version,
    method: Method,
    uri: Uri,
    conn: Arc<ConnInfo>,
    #[pyo3(get)]
    headers: Py<RsgiHeaders>,
    path: PyOnceLock<Py<PyString>>,
    websocket: bool,
    /// What a trusted proxy reported, over the connection's own values; RSGI has no root path,
    /// so the URL path prefixes are not used (as in Granian).
    origin: Option<Box<RequestOrigin>>,
}

impl RsgiScope {
    /// The scope of the request `parts` (its headers are moved out) received on `conn`.
    pub fn new(py: Python<'_>, parts: &mut Parts, conn: Arc<ConnInfo>) -> PyResult<Self> {
        let mut headers = std::mem::take(&mut parts.headers);
        add_host(&mut headers, &parts.uri);
        Ok(Self {
            version: parts.version,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            conn,
            headers: Py::new(py, RsgiHeaders::new(headers))?,
            path: PyOnceLock::new(),
            websocket: false,
            origin: parts.extensions.get::<RequestOrigin>().cloned().map(Box::new),
        })
    }

    /// The same scope for a websocket request (`proto` is `'ws'`).
    #[must_use]
    pub fn for_websocket(mut self) -> Self {
        self.websocket = true;
        self
    }

    fn conn_strings(&self, py: Python<'_>) -> Option<&ConnStrings> {
        let cache = &self.conn.interface_cache;
        if cache.get().is_none() {
            let strings = ConnStrings {
                client: PyString::new(py, &address_text(self.conn.peer)).unbind(),
                server: PyString::new(py, &address_text(self.conn.local)).unbind(),
            };
            let _ = cache.set(Box::new(strings));
        }
        cache.get().and_then(|cached| cached.downcast_ref())
    }
}

/// `address:port` (`[v6]:port` for IPv6); empty on a Unix socket, whose peers have no address.
fn address_text(addr: Option<std::net::SocketAddr>) -> String {
    addr.map(|addr| addr.to_string()).unwrap_or_default()
}

/// HTTP/2 carries the host as the `:authority` pseudo-header (RFC 9113 §8.3.1), which hyper
/// moves into the URI; applications look for `host`.
fn add_host(headers: &mut HeaderMap, uri: &Uri) {
    if !headers.contains_key(header::HOST)
        && let Some(authority) = uri.authority()
        && let Ok(value) = HeaderValue::from_str(authority.as_str())
    {
        headers.insert(header::HOST, value);
    }
}

#[pymethods]
impl RsgiScope {
    #[getter]
    fn proto<'py>(&self, py: Python<'py>) -> &Bound<'py, PyString> {
        if self.websocket {
            intern!(py, "ws")
        } else {
            intern!(py, "http")
        }
    }

    #[getter]
    #[expect(clippy::unused_self, reason = "Python reads it as an attribute")]
    fn rsgi_version<'py>(&self, py: Python<'py>) -> &Bound<'py, PyString> {
        intern!(py, RSGI_VERSION)
    }

    #[getter]
    fn http_version<'py>(&self, py: Python<'py>) -> &Bound<'py, PyString> {
        match self.version {
            Version::HTTP_09 | Version::HTTP_10 => intern!(py, "1"),
            Version::HTTP_2 => intern!(py, "2"),
            Version::HTTP_3 => intern!(py, "3"),
            _ => intern!(py, "1.1"),
        }
    }

    /// `address:port` the connection was accepted on (`[v6]:port` for IPv6).
    #[getter]
    fn server<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        match self.conn_strings(py) {
            Some(strings) => strings.server.bind(py).clone(),
            None => PyString::new(py, &address_text(self.conn.local)),
        }
    }

    /// `address:port` of the client (`[v6]:port` for IPv6); behind a trusted proxy, the
    /// address it reported (port 0 when it gave none, a name such as `unknown` alone).
    #[getter]
    fn client<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        if let Some(client) = self.origin.as_ref().and_then(|origin| origin.client.as_ref()) {
            return PyString::new(py, &client.to_string());
        }
        match self.conn_strings(py) {
            Some(strings) => strings.client.bind(py).clone(),
            None => PyString::new(py, &address_text(self.conn.peer)),
        }
    }

    #[getter]
    fn scheme<'py>(&self, py: Python<'py>) -> &Bound<'py, PyString> {
        let scheme = self.origin.as_ref().and_then(|origin| origin.scheme);
        match scheme.unwrap_or(self.conn.scheme) {
            granian_serve::Scheme::Http => intern!(py, "http"),
            granian_serve::Scheme::Https => intern!(py, "https"),
        }
    }

    #[getter]
    fn method<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        let cached = match self.method {
            Method::GET => intern!(py, "GET"),
            Method::POST => intern!(py, "POST"),
            Method::HEAD => intern!(py, "HEAD"),
            Method::PUT => intern!(py, "PUT"),
            Method::DELETE => intern!(py, "DELETE"),
            Method::PATCH => intern!(py, "PATCH"),
            Method::OPTIONS => intern!(py, "OPTIONS"),
            _ => return PyString::new(py, self.method.as_str()),
        };
        cached.clone()
    }

    #[getter]
    fn path<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        self.path
            .get_or_init(py, || PyString::new(py, &decode_path(self.uri.path())).unbind())
            .bind(py)
            .clone()
    }

    #[getter]
    fn query_string<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        match self.uri.query() {
            Some(query) => PyString::new(py, query),
            None => intern!(py, "").clone(),
        }
    }

    /// The request's authority (HTTP/2 `:authority`, or an absolute-form target's), or `None`;
    /// behind a trusted proxy, the host it reported when it reported one.
    #[getter]
    fn authority(&self) -> Option<&str> {
        if let Some(host) = self.origin.as_ref().and_then(|origin| origin.host.as_deref()) {
            return Some(host);
        }
        self.uri.authority().map(http::uri::Authority::as_str)
    }

    fn __repr__(&self) -> String {
        format!(
            "RSGIHTTPScope(method={:?}, path={:?}, http_version={:?})",
            self.method.as_str(),
            decode_path(self.uri.path()),
            http_version(self.version)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use granian_serve::Scheme;
    use http::Request;
    use pyo3::types::PyDict;

    fn conn() -> Arc<ConnInfo> {
        Arc::new(ConnInfo::new(
            "127.0.0.1:50000".parse().unwrap(),
            "[::1]:8000".parse().unwrap(),
            Scheme::Http,
        ))
    }

    #[test]
    fn path_decoding() {
        assert!(matches!(decode_path("/plain/path"), Cow::Borrowed("/plain/path")));
        assert_eq!(decode_path("/a%20b/caf%C3%A9"), "/a b/café");
        assert_eq!(decode_path("/100%"), "/100%");
        assert_eq!(decode_path("/%FF"), "/\u{fffd}");
        // An encoded slash decodes like any other byte: the scope's path is a display form.
        assert_eq!(decode_path("/a%2Fb"), "/a/b");
    }

    #[test]
    fn versions() {
        assert_eq!(http_version(Version::HTTP_10), "1");
        assert_eq!(http_version(Version::HTTP_11), "1.1");
        assert_eq!(http_version(Version::HTTP_2), "2");
        assert_eq!(http_version(Version::HTTP_3), "3");
    }

    #[test]
    fn scope_attributes() {
        Python::attach(|py| {
            let request = Request::builder()
                .method("PATCH")
                .uri("/caf%C3%A9?x=1&y=%20")
                .version(Version::HTTP_10)
                .header("X-Multi", "a")
                .header("x-multi", "b")
                .body(())
                .unwrap();
            let (mut parts, ()) = request.into_parts();
            let scope = RsgiScope::new(py, &mut parts, conn()).unwrap();
            assert!(parts.headers.is_empty());
            let locals = PyDict::new(py);
            locals.set_item("s", Py::new(py, scope).unwrap()).unwrap();
            py.run(
                c"
assert s.proto == 'http' and s.rsgi_version == '1.6' and s.http_version == '1'
assert s.method == 'PATCH' and s.scheme == 'http'
assert s.path == '/caf\\xe9' and s.path is s.path
assert s.query_string == 'x=1&y=%20'
assert s.client == '127.0.0.1:50000' and s.server == '[::1]:8000'
assert s.authority is None
assert s.headers.get_all('x-multi') == ['a', 'b'] and 'host' not in s.headers
",
                None,
                Some(&locals),
            )
            .unwrap();
        });
    }

    #[test]
    fn origin_overrides_the_connection() {
        Python::attach(|py| {
            let (mut parts, ()) = Request::builder()
                .uri("/app/x")
                .extension(RequestOrigin {
                    client: Some(granian_serve::ClientAddr::Ip("[2001:db8::7]:0".parse().unwrap())),
                    scheme: Some(Scheme::Https),
                    host: Some("example.com".into()),
                    forwarded_prefix: Some("/edge".into()),
                    path_prefix: Some("/app".into()),
                })
                .body(())
                .unwrap()
                .into_parts();
            let scope = Py::new(py, RsgiScope::new(py, &mut parts, conn()).unwrap()).unwrap();
            let locals = PyDict::new(py);
            locals.set_item("s", scope).unwrap();
            py.run(
                c"
assert s.client == '[2001:db8::7]:0' and s.scheme == 'https' and s.authority == 'example.com'
assert s.path == '/app/x' and s.server == '[::1]:8000'
",
                None,
                Some(&locals),
            )
            .unwrap();
        });
    }

    #[test]
    fn http2_authority_becomes_host() {
        Python::attach(|py| {
            let request = Request::builder()
                .uri("http://example.com:8080/x")
                .version(Version::HTTP_2)
                .body(())
                .unwrap();
            let (mut parts, ()) = request.into_parts();
            let scope = Py::new(py, RsgiScope::new(py, &mut parts, conn()).unwrap()).unwrap();
            let locals = PyDict::new(py);
            locals.set_item("s", scope).unwrap();
            py.run(
                c"
assert s.http_version == '2' and s.path == '/x' and s.query_string == ''
assert s.authority == 'example.com:8080'
assert s.headers['host'] == 'example.com:8080'
",
                None,
                Some(&locals),
            )
            .unwrap();
        });
    }
}
