use granian_serve::{ResponseBody, ShutdownWatch, TunnelLease, lists_token};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use hyper::upgrade::OnUpgrade;

use crate::driver::Pending;
use crate::{Error, PerMessageDeflate, WebsocketLimits};

const SEC_WEBSOCKET_KEY: &str = "sec-websocket-key";
const SEC_WEBSOCKET_VERSION: &str = "sec-websocket-version";
const SEC_WEBSOCKET_PROTOCOL: &str = "sec-websocket-protocol";
const SEC_WEBSOCKET_ACCEPT: &str = "sec-websocket-accept";
const SEC_WEBSOCKET_EXTENSIONS: &str = "sec-websocket-extensions";
/// RFC 6455 §1.3: appended to the key before hashing it into `Sec-WebSocket-Accept`.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A request that asked for a websocket and may have one: what an interface needs to decide
/// (the subprotocols offered), and what answering it takes.
#[derive(Debug)]
pub struct Handshake {
    /// `Sec-WebSocket-Key` over HTTP/1.1; HTTP/2 has none (RFC 8441 §5).
    key: Option<HeaderValue>,
    subprotocols: Vec<String>,
    /// The `Sec-WebSocket-Extensions` values offered, answered once the limits are known.
    extensions: Vec<HeaderValue>,
    on_upgrade: OnUpgrade,
    shutdown: Option<ShutdownWatch>,
    /// Kept until the connection is over (an HTTP/2 stream's tunnel).
    lease: Option<TunnelLease>,
}

/// Whether `key` is what RFC 6455 §4.1 asks for: 16 bytes in base64, which is 22 characters
/// of the base64 alphabet and `==`.
#[must_use]
pub fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24
        && key.ends_with(b"==")
        && key[..22]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2).
#[must_use]
pub fn accept_key(key: &[u8]) -> String {
    use base64::Engine;
    use sha1::Digest;
    let mut sha1 = sha1::Sha1::new();
    sha1.update(key);
    sha1.update(ACCEPT_GUID);
    base64::engine::general_purpose::STANDARD.encode(sha1.finalize())
}

fn version_is_13(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(SEC_WEBSOCKET_VERSION).iter();
    matches!((values.next(), values.next()), (Some(value), None) if value.as_bytes().trim_ascii() == b"13")
}

/// Recognise a websocket handshake: an HTTP/1.1 request whose `Upgrade` lists `websocket`, or
/// an HTTP/2 CONNECT whose `:protocol` is `websocket`. `Ok(None)` for any other request;
/// `Err` for a websocket request that is not valid (answer it with [`Error::response`]). The
/// connection's [`ShutdownWatch`], when the protocol layer attached one to the request, goes
/// with the websocket so that a draining server closes it.
pub fn handshake<B>(request: &mut Request<B>) -> Result<Option<Handshake>, Error> {
    let headers = request.headers();
    let key = match request.version() {
        Version::HTTP_11 => {
            if !lists_token(headers, &header::UPGRADE, "websocket") {
                return Ok(None);
            }
            if request.method() != Method::GET {
                return Err(Error::Method);
            }
            if !lists_token(headers, &header::CONNECTION, "upgrade") {
                return Err(Error::Connection);
            }
            let mut keys = headers.get_all(SEC_WEBSOCKET_KEY).iter();
            let key = match (keys.next(), keys.next()) {
                (Some(key), None) if is_valid_key(key.as_bytes()) => key.clone(),
                _ => return Err(Error::Key),
            };
            Some(key)
        }
        Version::HTTP_2 => {
            let is_websocket = request.method() == Method::CONNECT
                && request
                    .extensions()
                    .get::<hyper::ext::Protocol>()
                    .is_some_and(|protocol| protocol.as_str().eq_ignore_ascii_case("websocket"));
            if !is_websocket {
                return Ok(None);
            }
            None
        }
        _ => return Ok(None),
    };
    if !version_is_13(headers) {
        return Err(Error::Version);
    }
    let subprotocols = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|text| text.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect();
    let extensions = headers.get_all(SEC_WEBSOCKET_EXTENSIONS).iter().cloned().collect();
    let on_upgrade = hyper::upgrade::on(&mut *request);
    let shutdown = request.extensions_mut().remove::<ShutdownWatch>();
    let lease = request.extensions_mut().remove::<TunnelLease>();
    Ok(Some(Handshake {
        key,
        subprotocols,
        extensions,
        on_upgrade,
        shutdown,
        lease,
    }))
}

/// Headers an application may not set on the answer: they describe the connection, which
/// HTTP/2 forbids (RFC 9113 §8.2.2) and HTTP/1.1's `101` sets itself, or an extension only
/// this crate can run.
const CONNECTION_HEADERS: [&str; 9] = [
    "connection",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "content-length",
    SEC_WEBSOCKET_ACCEPT,
    SEC_WEBSOCKET_EXTENSIONS,
];

impl Handshake {
    /// The subprotocols the client offered, in its order of preference.
    #[must_use]
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// Accept: the response that completes the handshake (`101 Switching Protocols` over
    /// HTTP/1.1, `200` over HTTP/2) with `subprotocol`, the application's `headers` and, when
    /// `limits` allow it and the client offered it, permessage-deflate; and the connection to
    /// run once the protocol layer has sent it.
    #[must_use]
    pub fn accept(
        self,
        subprotocol: Option<HeaderValue>,
        headers: HeaderMap,
        limits: WebsocketLimits,
    ) -> (Response<ResponseBody>, Pending) {
        let mut response = Response::new(ResponseBody::empty());
        *response.headers_mut() = headers;
        let map = response.headers_mut();
        for name in CONNECTION_HEADERS {
            map.remove(name);
        }
        if let Some(subprotocol) = subprotocol {
            map.insert(SEC_WEBSOCKET_PROTOCOL, subprotocol);
        }
        let mut deflate = None;
        if limits.deflate {
            let offers = self.extensions.iter().map(HeaderValue::as_bytes);
            if let Some(answer) = PerMessageDeflate::negotiate(offers) {
                // The connection compresses only if the answer goes out.
                if let Ok(value) = HeaderValue::from_str(&answer.to_string()) {
                    map.insert(SEC_WEBSOCKET_EXTENSIONS, value);
                    deflate = Some(answer);
                }
            }
        }
        match &self.key {
            Some(key) => {
                *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                let map = response.headers_mut();
                map.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                map.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                if let Ok(accept) = HeaderValue::from_str(&accept_key(key.as_bytes())) {
                    map.insert(SEC_WEBSOCKET_ACCEPT, accept);
                }
            }
            // RFC 8441 §5: a 2xx answer opens the tunnel.
            None => *response.status_mut() = StatusCode::OK,
        }
        let pending = Pending::new(self.on_upgrade, self.shutdown, self.lease, limits, deflate);
        (response, pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;
    use std::time::Duration;

    fn limits() -> WebsocketLimits {
        WebsocketLimits {
            max_message_size: 1 << 20,
            ping_interval: None,
            ping_timeout: Duration::from_secs(20),
            close_timeout: WebsocketLimits::CLOSE_TIMEOUT,
            send_timeout: None,
            deflate: true,
        }
    }

    fn request(version: Version, method: Method, pairs: &[(&'static str, &'static str)]) -> Request<()> {
        let mut request = Request::builder().method(method).version(version).uri("/ws");
        for (name, value) in pairs {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap()
    }

    const CLIENT: &[(&str, &str)] = &[
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat, superchat"),
        ("sec-websocket-protocol", "v3"),
    ];

    #[test]
    fn rfc_6455_accept_key() {
        // RFC 6455 §1.3.
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn keys() {
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ="));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZ!=="));
        assert!(!is_valid_key(b""));
    }

    #[test]
    fn recognises_http1_upgrades() {
        let mut req = request(Version::HTTP_11, Method::GET, CLIENT);
        let handshake = handshake(&mut req).unwrap().unwrap();
        assert_eq!(handshake.subprotocols(), ["chat", "superchat", "v3"]);
        let (response, _pending) = handshake.accept(
            Some(HeaderValue::from_static("chat")),
            HeaderMap::from_iter([
                (HeaderName::from_static("x-app"), HeaderValue::from_static("1")),
                (header::CONNECTION, HeaderValue::from_static("close")),
            ]),
            limits(),
        );
        assert_eq!(response.status(), 101);
        let headers = response.headers();
        assert_eq!(headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(headers["sec-websocket-protocol"], "chat");
        assert_eq!(headers["connection"], "upgrade");
        assert_eq!(headers["upgrade"], "websocket");
        assert_eq!(headers["x-app"], "1");
    }

    #[test]
    fn other_requests_are_not_websockets() {
        let mut plain = request(
            Version::HTTP_11,
            Method::GET,
            &[("connection", "upgrade"), ("upgrade", "h2c")],
        );
        assert!(handshake(&mut plain).unwrap().is_none());
        let mut old = request(Version::HTTP_10, Method::GET, CLIENT);
        assert!(handshake(&mut old).unwrap().is_none());
        let mut connect = request(Version::HTTP_2, Method::CONNECT, &[("sec-websocket-version", "13")]);
        assert!(handshake(&mut connect).unwrap().is_none());
    }

    #[test]
    fn invalid_handshakes() {
        let mut post = request(Version::HTTP_11, Method::POST, CLIENT);
        assert!(matches!(handshake(&mut post), Err(Error::Method)));
        let without = |skip: &str| {
            let pairs: Vec<_> = CLIENT.iter().copied().filter(|(name, _)| *name != skip).collect();
            request(Version::HTTP_11, Method::GET, &pairs)
        };
        assert!(matches!(handshake(&mut without("connection")), Err(Error::Connection)));
        assert!(matches!(handshake(&mut without("sec-websocket-key")), Err(Error::Key)));
        let err = handshake(&mut without("sec-websocket-version")).unwrap_err();
        assert!(matches!(err, Error::Version));
        let response = err.response();
        assert_eq!(response.status(), 426);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
    }

    #[test]
    fn answers_permessage_deflate_offers() {
        let offer = [
            (
                "sec-websocket-extensions",
                "x-foo, permessage-deflate; server_max_window_bits=10",
            ),
            ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits"),
        ];
        let pairs: Vec<_> = CLIENT.iter().copied().chain(offer).collect();
        let app_headers = || {
            HeaderMap::from_iter([(
                HeaderName::from_static(SEC_WEBSOCKET_EXTENSIONS),
                HeaderValue::from_static("x-app"),
            )])
        };
        let mut req = request(Version::HTTP_11, Method::GET, &pairs);
        let (response, pending) = handshake(&mut req)
            .unwrap()
            .unwrap()
            .accept(None, app_headers(), limits());
        assert_eq!(response.headers()["sec-websocket-extensions"], "permessage-deflate");
        assert_eq!(response.headers().get_all("sec-websocket-extensions").iter().count(), 1);
        assert!(pending.deflate().is_some());

        // Switched off: declined, and an application cannot claim an extension either.
        let off = WebsocketLimits {
            deflate: false,
            ..limits()
        };
        let mut req = request(Version::HTTP_11, Method::GET, &pairs);
        let (response, pending) = handshake(&mut req).unwrap().unwrap().accept(None, app_headers(), off);
        assert!(!response.headers().contains_key("sec-websocket-extensions"));
        assert!(pending.deflate().is_none());

        // Over HTTP/2 too (RFC 8441 §5 keeps the extension headers).
        let mut req = request(
            Version::HTTP_2,
            Method::CONNECT,
            &[
                ("sec-websocket-version", "13"),
                (
                    "sec-websocket-extensions",
                    "permessage-deflate; server_no_context_takeover",
                ),
            ],
        );
        req.extensions_mut()
            .insert(hyper::ext::Protocol::from_static("websocket"));
        let (response, pending) = handshake(&mut req)
            .unwrap()
            .unwrap()
            .accept(None, HeaderMap::new(), limits());
        assert_eq!(
            response.headers()["sec-websocket-extensions"],
            "permessage-deflate; server_no_context_takeover"
        );
        assert!(
            pending
                .deflate()
                .is_some_and(|deflate| deflate.server_no_context_takeover)
        );
    }

    #[test]
    fn recognises_extended_connect() {
        let mut req = request(
            Version::HTTP_2,
            Method::CONNECT,
            &[("sec-websocket-version", "13"), ("sec-websocket-protocol", "chat")],
        );
        req.extensions_mut()
            .insert(hyper::ext::Protocol::from_static("websocket"));
        let handshake = handshake(&mut req).unwrap().unwrap();
        assert_eq!(handshake.subprotocols(), ["chat"]);
        let (response, _pending) = handshake.accept(
            None,
            HeaderMap::from_iter([(header::UPGRADE, HeaderValue::from_static("x"))]),
            limits(),
        );
        assert_eq!(response.status(), 200);
        assert!(!response.headers().contains_key("upgrade"));
        assert!(!response.headers().contains_key("sec-websocket-accept"));
    }
}
