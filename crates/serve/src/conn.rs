use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};

use crate::{IncomingBody, ResponseBody};

/// The URL scheme a connection is served under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain TCP.
    Http,
    /// TLS.
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// What a TLS handshake established, as interfaces report it (the ASGI `tls` extension).
#[derive(Debug, Clone, Default)]
pub struct TlsInfo {
    /// The protocol version as on the wire (`0x0303` is TLS 1.2, `0x0304` TLS 1.3).
    pub version: Option<u16>,
    /// The IANA number of the cipher suite.
    pub cipher_suite: Option<u16>,
    /// The certificate the server presented, as PEM.
    pub server_cert: Option<Arc<str>>,
    /// The certificates the client presented, its own first, as PEM.
    pub client_cert_chain: Vec<String>,
    /// The subject of the client's certificate, as an RFC 4514 string.
    pub client_cert_name: Option<String>,
}

/// What is known about one accepted connection, shared by all its requests.
#[derive(Debug)]
pub struct ConnInfo {
    /// The client's address; `None` on a Unix socket.
    pub peer: Option<SocketAddr>,
    /// The address the connection was accepted on; `None` on a Unix socket.
    pub local: Option<SocketAddr>,
    /// The scheme requests on this connection use.
    pub scheme: Scheme,
    /// The TLS session, on a TLS connection.
    pub tls: Option<Box<TlsInfo>>,
    /// A slot an interface may fill once per connection (e.g. with the peer address already
    /// converted to its own objects) so keep-alive requests reuse it.
    pub interface_cache: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl ConnInfo {
    /// Describe a freshly accepted TCP connection.
    #[must_use]
    pub fn new(peer: SocketAddr, local: SocketAddr, scheme: Scheme) -> Self {
        Self::with_addresses(Some(peer), Some(local), scheme)
    }

    /// Describe a freshly accepted connection whose addresses may not be IP ones.
    #[must_use]
    pub fn with_addresses(peer: Option<SocketAddr>, local: Option<SocketAddr>, scheme: Scheme) -> Self {
        Self {
            peer,
            local,
            scheme,
            tls: None,
            interface_cache: OnceLock::new(),
        }
    }

    /// The same connection, now known to run over TLS.
    #[must_use]
    pub fn with_tls(mut self, tls: TlsInfo) -> Self {
        self.scheme = Scheme::Https;
        self.tls = Some(Box::new(tls));
        self
    }
}

/// An application interface as a protocol layer sees it: a request in, a response out.
/// Errors are the interface's to turn into responses (500, 503...), so none cross here.
pub trait Handler: Clone + Send + Sync + 'static {
    /// Whether the interface lets its applications send informational (1xx) responses: a
    /// protocol layer offers them (an [`Informational`](crate::Informational) in the request's
    /// extensions) only then, and saves their cost otherwise. Read from the interface's own
    /// handler, not from the layers wrapped around it.
    const INFORMATIONAL: bool = false;

    /// Answer one request received on `conn`.
    fn handle(
        &self,
        request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<Self>;
}

/// A [`Handler`] whose request futures live on the heap: the layers and the protocol around it
/// then move a pointer where they would move the whole interface future (some kilobytes), once
/// per layer as each first polls it.
#[derive(Debug, Clone)]
pub struct Boxed<H>(H);

impl<H> Boxed<H> {
    /// Box the futures of `handler`.
    #[must_use]
    pub fn new(handler: H) -> Self {
        Self(handler)
    }
}

impl<H: Handler> Handler for Boxed<H> {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<H> {
        Box::pin(self.0.handle(request, conn))
    }
}

/// A short plain-text response for errors the server itself produces. The protocol layer that
/// sends it adds the `Server` header, as to every response (see [`add_default_headers`](crate::add_default_headers)).
#[must_use]
pub fn error_response(status: StatusCode) -> Response<ResponseBody> {
    let reason = status.canonical_reason().unwrap_or("Error");
    let mut response = Response::new(ResponseBody::full(Bytes::from(reason)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// For what the server answers itself and only reads (static files, probes): the 405 to answer
/// a `method` other than `GET` and `HEAD`, with the `Allow` header RFC 9110 §15.5.6 requires.
#[must_use]
pub fn only_get_or_head(method: &Method) -> Option<Response<ResponseBody>> {
    if method == Method::HEAD || method == Method::GET {
        return None;
    }
    let mut response = error_response(StatusCode::METHOD_NOT_ALLOWED);
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body;

    #[test]
    fn only_get_and_head_read() {
        assert!(only_get_or_head(&Method::GET).is_none());
        assert!(only_get_or_head(&Method::HEAD).is_none());
        let refused = only_get_or_head(&Method::DELETE).unwrap();
        assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(refused.headers()[header::ALLOW], "GET, HEAD");
    }

    #[test]
    fn error_response_has_reason_body() {
        let response = error_response(StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.status(), 500);
        assert_eq!(response.body().size_hint().exact(), Some(21));
    }

    #[test]
    fn scheme_spelling() {
        assert_eq!(Scheme::Http.as_str(), "http");
        assert_eq!(Scheme::Https.as_str(), "https");
    }
}
