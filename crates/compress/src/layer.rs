use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::future::Either;
use granian_serve::{BodyAborted, ConnInfo, Handler, IncomingBody, ResponseBody};
use http::header::{ACCEPT_ENCODING, ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_LENGTH, ETAG, VARY};
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt;

use crate::body::CompressedBody;
use crate::encoder::{Encoder, compress};
use crate::{Encoding, compressible, negotiate};

/// Bodies of a known size up to this many bytes are compressed in one go and keep a
/// `Content-Length`; larger ones stream through the encoder.
const ONE_SHOT_LIMIT: u64 = 1024 * 1024;

/// How responses are compressed.
#[derive(Debug, Clone)]
pub struct CompressionSettings {
    /// Bodies known to be smaller than this many bytes are sent as they are.
    pub min_size: u64,
    /// The codings offered, in the server's order of preference (ties in the client's weights
    /// go to the earlier one).
    pub encodings: Vec<Encoding>,
}

/// A [`Handler`] that compresses the response bodies of the one it wraps that the client accepts
/// compressed (see
/// [`compressible`] and [`negotiate`]). A compressed response gets `Content-Encoding`, `Vary:
/// Accept-Encoding`, a weak `ETag` (the bytes differ from the identity's), and either the
/// compressed `Content-Length` (a body of known size, compressed at once) or none (a streamed
/// body). `HEAD` requests are left alone. With nothing to do it passes requests straight
/// through.
#[derive(Debug, Clone)]
pub struct ResponseLayer<H> {
    handler: H,
    settings: Option<Arc<CompressionSettings>>,
}

impl<H> ResponseLayer<H> {
    /// Compress the responses of `handler` as `settings` say; `None` leaves them as they are.
    #[must_use]
    pub fn new(handler: H, settings: Option<CompressionSettings>) -> Self {
        Self {
            handler,
            settings: settings.map(Arc::new),
        }
    }
}

impl<H: Handler> Handler for ResponseLayer<H> {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<H> {
        let Some(settings) = &self.settings else {
            return Either::Left(self.handler.handle(request, conn));
        };
        let settings = Arc::clone(settings);
        // `Some(coding or identity)` when the response may be compressed, decided once the
        // response head is known.
        let accepted = (request.method() != Method::HEAD)
            .then(|| negotiate(request.headers().get_all(ACCEPT_ENCODING), &settings.encodings));
        let response = self.handler.handle(request, conn);
        Either::Right(async move {
            let response = response.await;
            match accepted {
                Some(accepted) => compress_response(response, accepted, settings.min_size).await,
                None => response,
            }
        })
    }
}

/// Compress `response` with `accepted` when it qualifies; a response that qualifies but goes
/// out uncompressed (the client accepts no coding) still gets `Vary: Accept-Encoding`, so a
/// cache does not hand it to clients that do.
async fn compress_response(
    response: Response<ResponseBody>,
    accepted: Option<Encoding>,
    min_size: u64,
) -> Response<ResponseBody> {
    let size = response.body().size_hint().exact();
    if !compressible(response.status(), response.headers(), size, min_size) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    add_vary(&mut parts.headers);
    let Some(encoding) = accepted else {
        return Response::from_parts(parts, body);
    };
    let body = match size {
        Some(size) if size <= ONE_SHOT_LIMIT => {
            let (original, spent) = match read_all(body).await {
                Ok(read) => read,
                Err(body) => return Response::from_parts(parts, body),
            };
            // The spent body goes when the new one does: dropping it is what tells an
            // interface that the response is done with.
            let keep = move || drop(spent);
            match compress(encoding, &original) {
                // Compressed output no smaller than the original is not worth a coding.
                Ok(compressed) if compressed.len() < original.len() => ResponseBody::full(compressed).on_drop(keep),
                _ => return Response::from_parts(parts, ResponseBody::full(original).on_drop(keep)),
            }
        }
        _ => match Encoder::new(encoding) {
            Ok(encoder) => ResponseBody::wrap(CompressedBody::new(body, encoder)),
            Err(_) => return Response::from_parts(parts, body),
        },
    };
    parts.headers.insert(CONTENT_ENCODING, encoding.header_value());
    parts.headers.remove(CONTENT_LENGTH);
    // Byte ranges of the identity do not apply to the compressed bytes.
    parts.headers.remove(ACCEPT_RANGES);
    weaken_etag(&mut parts.headers);
    Response::from_parts(parts, body)
}

/// The whole of a body of known size, and the spent body to keep alive until the response is
/// done; on a failed read, a body that fails the same way.
async fn read_all(mut body: ResponseBody) -> Result<(Bytes, ResponseBody), ResponseBody> {
    let mut chunks = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => chunks.extend(frame.into_data().ok()),
            Err(BodyAborted) => return Err(ResponseBody::wrap(Failed(true))),
        }
    }
    let whole = if chunks.len() == 1 {
        chunks.swap_remove(0)
    } else {
        let mut whole = BytesMut::new();
        for chunk in chunks {
            whole.extend_from_slice(&chunk);
        }
        whole.freeze()
    };
    Ok((whole, body))
}

/// A body that fails at once, standing in for one that already failed.
struct Failed(bool);

impl Body for Failed {
    type Data = Bytes;
    type Error = BodyAborted;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyAborted>>> {
        Poll::Ready(std::mem::take(&mut self.0).then_some(Err(BodyAborted)))
    }
}

/// Append `Accept-Encoding` to `Vary`, unless it is listed already (or `*`).
fn add_vary(headers: &mut HeaderMap) {
    let listed = headers.get_all(VARY).iter().any(|value| {
        value.as_bytes().split(|&byte| byte == b',').any(|name| {
            let name = name.trim_ascii();
            name == b"*" || name.eq_ignore_ascii_case(b"accept-encoding")
        })
    });
    if !listed {
        headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    }
}

/// RFC 9110 §8.8.3: a strong validator names exact bytes, which the compressed body no longer
/// has; a weak one (`W/"..."`) still says "semantically the same".
fn weaken_etag(headers: &mut HeaderMap) {
    let Some(etag) = headers.get(ETAG) else {
        return;
    };
    if etag.as_bytes().starts_with(b"W/") {
        return;
    }
    let mut weak = Vec::with_capacity(etag.len() + 2);
    weak.extend_from_slice(b"W/");
    weak.extend_from_slice(etag.as_bytes());
    if let Ok(weak) = HeaderValue::from_bytes(&weak) {
        headers.insert(ETAG, weak);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use granian_serve::Scheme;
    use http::header::SERVER;

    use super::*;

    /// Answers every request with a copy of its response, built by `make`.
    #[derive(Clone)]
    struct Fixed(Arc<dyn Fn() -> Response<ResponseBody> + Send + Sync>);

    impl Handler for Fixed {
        fn handle(
            &self,
            _request: Request<IncomingBody>,
            _conn: &Arc<ConnInfo>,
        ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
            let response = (self.0)();
            async move { response }
        }
    }

    fn text(body: &'static [u8], headers: &[(&'static str, &'static str)]) -> Fixed {
        let headers: Vec<_> = headers.to_vec();
        Fixed(Arc::new(move || {
            let mut response = Response::new(ResponseBody::full(Bytes::from_static(body)));
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("text/plain"));
            for (name, value) in &headers {
                response.headers_mut().append(*name, HeaderValue::from_static(value));
            }
            response
        }))
    }

    fn compressing() -> CompressionSettings {
        CompressionSettings {
            min_size: 1024,
            encodings: Encoding::ALL.to_vec(),
        }
    }

    async fn send(
        layer: &ResponseLayer<Fixed>,
        method: Method,
        accept: Option<&'static str>,
    ) -> (http::response::Parts, Bytes) {
        let mut request = Request::new(IncomingBody::full(Bytes::new()));
        *request.method_mut() = method;
        if let Some(accept) = accept {
            request
                .headers_mut()
                .insert(ACCEPT_ENCODING, HeaderValue::from_static(accept));
        }
        let addr = "127.0.0.1:1".parse().unwrap();
        let conn = Arc::new(ConnInfo::new(addr, addr, Scheme::Http));
        let (parts, body) = layer.handle(request, &conn).await.into_parts();
        (parts, body.collect().await.unwrap().to_bytes())
    }

    const BIG: &[u8] = &[b'a'; 4096];

    #[tokio::test]
    async fn server_header_is_left_to_the_protocol_layers() {
        let layer = ResponseLayer::new(text(b"x", &[]), Some(compressing()));
        let (parts, _) = send(&layer, Method::GET, None).await;
        assert!(!parts.headers.contains_key(SERVER));
        let layer = ResponseLayer::new(text(b"x", &[("server", "mine")]), Some(compressing()));
        let (parts, _) = send(&layer, Method::GET, None).await;
        assert_eq!(parts.headers[SERVER], "mine");
        let layer = ResponseLayer::new(text(b"x", &[]), None);
        assert!(layer.settings.is_none());
        let (parts, body) = send(&layer, Method::GET, Some("gzip")).await;
        assert!(!parts.headers.contains_key(SERVER));
        assert_eq!(body, "x");
    }

    #[tokio::test]
    async fn full_body_compressed_at_once() {
        let layer = ResponseLayer::new(
            text(
                BIG,
                &[("etag", "\"v1\""), ("vary", "origin"), ("accept-ranges", "bytes")],
            ),
            Some(compressing()),
        );
        let (parts, body) = send(&layer, Method::GET, Some("gzip")).await;
        assert_eq!(parts.headers[CONTENT_ENCODING], "gzip");
        assert_eq!(parts.headers[ETAG], "W/\"v1\"");
        let vary: Vec<_> = parts.headers.get_all(VARY).iter().collect();
        assert_eq!(vary, ["origin", "accept-encoding"]);
        assert!(!parts.headers.contains_key(ACCEPT_RANGES));
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, BIG);
    }

    #[tokio::test]
    async fn left_alone() {
        let layer = ResponseLayer::new(text(BIG, &[("etag", "\"v1\"")]), Some(compressing()));
        // HEAD, identity only, no Accept-Encoding.
        for (method, accept) in [
            (Method::HEAD, Some("gzip")),
            (Method::GET, Some("identity")),
            (Method::GET, Some("gzip;q=0")),
            (Method::GET, None),
        ] {
            let (parts, body) = send(&layer, method.clone(), accept).await;
            assert!(!parts.headers.contains_key(CONTENT_ENCODING), "{method} {accept:?}");
            assert_eq!(parts.headers[ETAG], "\"v1\"");
            assert_eq!(body, BIG);
            // A representation that varies, for a cache, unless nothing was looked at.
            assert_eq!(parts.headers.contains_key(VARY), method != Method::HEAD);
        }
        let small = ResponseLayer::new(text(b"tiny", &[]), Some(compressing()));
        let (parts, _) = send(&small, Method::GET, Some("br")).await;
        assert!(!parts.headers.contains_key(CONTENT_ENCODING));
        assert!(!parts.headers.contains_key(VARY));
        let image = ResponseLayer::new(text(BIG, &[]), Some(compressing()));
        let image = ResponseLayer {
            handler: Fixed(Arc::new(move || {
                let mut response = (image.handler.0)();
                response
                    .headers_mut()
                    .insert("content-type", HeaderValue::from_static("image/png"));
                response
            })),
            ..image
        };
        let (parts, _) = send(&image, Method::GET, Some("br")).await;
        assert!(!parts.headers.contains_key(CONTENT_ENCODING));
    }

    #[tokio::test]
    async fn incompressible_body_sent_as_is() {
        // Bytes that no coding shrinks: the identity goes out, marked as varying.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        let noise: &'static [u8] = Box::leak(noise.into_boxed_slice());
        let layer = ResponseLayer::new(text(noise, &[]), Some(compressing()));
        let (parts, body) = send(&layer, Method::GET, Some("gzip")).await;
        assert!(!parts.headers.contains_key(CONTENT_ENCODING));
        assert_eq!(parts.headers[VARY], "accept-encoding");
        assert_eq!(body, noise);
    }

    #[tokio::test]
    async fn streamed_body_compressed_as_it_goes() {
        let layer = ResponseLayer::new(
            Fixed(Arc::new(|| {
                let (tx, body) = ResponseBody::channel(4);
                tokio::spawn(async move {
                    for _ in 0..10 {
                        tx.send(Bytes::from_static(b"data: tick\n\n")).await;
                    }
                });
                let mut response = Response::new(body);
                response
                    .headers_mut()
                    .insert("content-type", HeaderValue::from_static("text/event-stream"));
                response
                    .headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from_static("120"));
                response
            })),
            Some(CompressionSettings {
                min_size: 0,
                encodings: vec![Encoding::Zstd],
            }),
        );
        let (parts, body) = send(&layer, Method::GET, Some("br, zstd;q=0.5")).await;
        assert_eq!(parts.headers[CONTENT_ENCODING], "zstd");
        assert!(!parts.headers.contains_key(CONTENT_LENGTH));
        assert!(!parts.headers.contains_key(SERVER));
        assert_eq!(
            zstd::stream::decode_all(&body[..]).unwrap(),
            b"data: tick\n\n".repeat(10)
        );
    }

    #[test]
    fn vary_and_etag() {
        let mut headers = HeaderMap::new();
        headers.insert(VARY, HeaderValue::from_static("Accept-Encoding, Origin"));
        add_vary(&mut headers);
        assert_eq!(headers.get_all(VARY).iter().count(), 1);
        headers.insert(VARY, HeaderValue::from_static("*"));
        add_vary(&mut headers);
        assert_eq!(headers.get_all(VARY).iter().count(), 1);
        headers.insert(ETAG, HeaderValue::from_static("W/\"x\""));
        weaken_etag(&mut headers);
        assert_eq!(headers[ETAG], "W/\"x\"");
    }
}
