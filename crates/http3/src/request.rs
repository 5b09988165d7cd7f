use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use granian_serve::{ConnInfo, Handler, IncomingBody, ResponseBody, error_response};
use h3::error::Code;
use h3::server::{RequestResolver, RequestStream};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use tokio::sync::oneshot;

use crate::Http3Limits;
use crate::body::{BodyBounds, RecvHalf, RequestBody};

/// A request stream whose header section is not read yet.
pub(crate) type Resolver = RequestResolver<h3_quinn::Connection, Bytes>;

/// The sending half of a request stream.
type SendHalf = RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;

/// Read the request on one stream, hand it to `handler`, and write the response back.
pub(crate) async fn serve_request<H: Handler>(
    resolver: Resolver,
    handler: H,
    conn: Arc<ConnInfo>,
    limits: Arc<Http3Limits>,
) {
    let head_section = resolver.resolve_request();
    let head_section = match limits.header_read_timeout {
        Some(limit) => tokio::time::timeout(limit, head_section).await.ok(),
        None => Some(head_section.await),
    };
    // h3 has answered what it could: 431 to an oversized header section, a stream error
    // (H3_MESSAGE_ERROR) to a malformed one.
    let Some(Ok((request, stream))) = head_section else {
        return;
    };
    let (mut send, recv) = stream.split();
    let head = request.method() == Method::HEAD;
    let server = limits.server_header.as_ref();
    let response = match admit(request, recv, &limits) {
        Ok((request, refused)) => within_limit(handler.handle(request, &conn), refused).await,
        Err(status) => Err(status),
    };
    let response = response.unwrap_or_else(|status| refusal(status, server));
    write_response(&mut send, response, head, server, limits.send_timeout).await;
}

/// The server's own answer to a request it refuses, with this server's `Server` header.
fn refusal(status: StatusCode, server: Option<&HeaderValue>) -> Response<ResponseBody> {
    let mut response = error_response(status);
    let headers = response.headers_mut();
    headers.remove(header::SERVER);
    if let Some(server) = server {
        headers.insert(header::SERVER, server.clone());
    }
    response
}

/// Give the request its streamed body, or refuse it: 400 for a `content-length` that is not one
/// number, 413 for one beyond `max_body_size` (the same rule as `granian_serve::admit`, which
/// takes hyper bodies only). A body without `content-length` is counted as it is read, and each
/// read is bounded by `body_read_timeout`; the receiver learns the status the request is to be
/// refused with when either fails.
fn admit(
    request: Request<()>,
    stream: RecvHalf,
    limits: &Http3Limits,
) -> Result<(Request<IncomingBody>, Option<oneshot::Receiver<StatusCode>>), StatusCode> {
    // A refused request's stream is dropped unread, which asks the client to stop sending.
    let Ok(declared) = content_length(request.headers()) else {
        return Err(StatusCode::BAD_REQUEST);
    };
    if let (Some(limit), Some(declared)) = (limits.max_body_size, declared)
        && declared > limit
    {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    // A declared length within the limit needs no count: the body enforces the declared length.
    let limit = if declared.is_none() { limits.max_body_size } else { None };
    let (refusal, refused) = if limit.is_some() || limits.body_read_timeout.is_some() {
        let (sender, receiver) = oneshot::channel();
        (Some(sender), Some(receiver))
    } else {
        (None, None)
    };
    let bounds = BodyBounds {
        limit,
        read_timeout: limits.body_read_timeout,
        refusal,
    };
    let body = RequestBody::new(stream, declared, bounds);
    Ok((request.map(|()| IncomingBody::boxed(body)), refused))
}

/// The declared body length: `None` without `content-length`, `Err` for values that are not one
/// number (RFC 9110 §8.6 allows repeats of the same one).
pub(crate) fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ()> {
    let mut declared = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        let text = value.to_str().map_err(|_| ())?;
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            let length: u64 = part.parse().map_err(|_| ())?;
            if declared.is_some_and(|seen| seen != length) {
                return Err(());
            }
            declared = Some(length);
        }
    }
    Ok(declared)
}

/// The interface's response, unless the request body fails on the server's account (past its
/// size limit: 413, or its read timeout: 408) before the response head is ready: then that
/// status, and the interface's future is dropped (as when a client leaves).
///
/// The same rule as `granian_serve::within_limit`, whose overflow signal only hyper bodies raise.
async fn within_limit<F>(
    response: F,
    refused: Option<oneshot::Receiver<StatusCode>>,
) -> Result<Response<ResponseBody>, StatusCode>
where
    F: Future<Output = Response<ResponseBody>>,
{
    let Some(mut refused) = refused else {
        return Ok(response.await);
    };
    tokio::pin!(response);
    tokio::select! {
        biased;
        status = &mut refused => {
            if let Ok(status) = status {
                return Err(status);
            }
        }
        response = &mut response => {
            // The body may have failed in the very poll that produced this response.
            return match refused.try_recv() {
                Ok(status) => Err(status),
                Err(_) => Ok(response),
            };
        }
    }
    // The body ended within its bounds.
    Ok(response.await)
}

/// RFC 9114 §4.2: connection-specific fields have no meaning in HTTP/3 and make a message
/// malformed; an interface may set them for HTTP/1.1's sake.
const CONNECTION_SPECIFIC: [HeaderName; 5] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Write `response` on `send`: the head, then its body as the client takes it (each DATA frame
/// waits for QUIC flow control), then its trailers if it has any. A body the application
/// aborted resets the stream, so the client sees it truncated.
async fn write_response(
    send: &mut SendHalf,
    response: Response<ResponseBody>,
    head: bool,
    server: Option<&HeaderValue>,
    send_timeout: Option<Duration>,
) {
    let (mut parts, body) = response.into_parts();
    for name in &CONNECTION_SPECIFIC {
        parts.headers.remove(name);
    }
    if let Some(server) = server
        && !parts.headers.contains_key(header::SERVER)
    {
        parts.headers.insert(header::SERVER, server.clone());
    }
    // RFC 9110 §6.4.1: 1xx, 204 and 304 carry no content, nor does any answer to HEAD.
    let bodiless = head
        || parts.status.is_informational()
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED;
    if let Some(length) = body.size_hint().exact()
        && !parts.headers.contains_key(header::CONTENT_LENGTH)
        && (!bodiless || (head && length > 0))
    {
        parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    let Some(head_written) = bounded(send_timeout, send.send_response(Response::from_parts(parts, ()))).await else {
        send.stop_stream(Code::H3_REQUEST_CANCELLED);
        return;
    };
    if head_written.is_err() {
        return;
    }
    if !bodiless {
        let mut body = std::pin::pin!(body);
        loop {
            let frame = match std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
                None => break,
                Some(Ok(frame)) => frame,
                Some(Err(_)) => {
                    send.stop_stream(Code::H3_INTERNAL_ERROR);
                    return;
                }
            };
            let written = match frame.into_data() {
                Ok(data) if data.is_empty() => Some(Ok(())),
                Ok(data) => bounded(send_timeout, send.send_data(data)).await,
                Err(frame) => match frame.into_trailers() {
                    Ok(trailers) => bounded(send_timeout, send.send_trailers(trailers)).await,
                    Err(_) => Some(Ok(())),
                },
            };
            // The client has not taken the response for the whole send timeout.
            let Some(written) = written else {
                send.stop_stream(Code::H3_REQUEST_CANCELLED);
                return;
            };
            // The client stopped reading (STOP_SENDING) or the connection went away.
            if written.is_err() {
                return;
            }
        }
    }
    let _ = send.finish().await;
}

/// `write`'s result, or `None` when it has not completed within `limit`.
async fn bounded<T>(limit: Option<Duration>, write: impl Future<Output = T>) -> Option<T> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, write).await.ok(),
        None => Some(write.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::CONTENT_LENGTH, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn content_length_forms() {
        assert_eq!(content_length(&headers(&[])), Ok(None));
        assert_eq!(content_length(&headers(&["12"])), Ok(Some(12)));
        assert_eq!(content_length(&headers(&["12", "12"])), Ok(Some(12)));
        assert_eq!(content_length(&headers(&["12, 12"])), Ok(Some(12)));
        assert_eq!(content_length(&headers(&["12", "13"])), Err(()));
        assert_eq!(content_length(&headers(&["-1"])), Err(()));
        assert_eq!(content_length(&headers(&["+1"])), Err(()));
        assert_eq!(content_length(&headers(&[""])), Err(()));
        assert_eq!(content_length(&headers(&["99999999999999999999999"])), Err(()));
    }

    #[tokio::test]
    async fn overflow_before_the_response_is_413() {
        let (sender, receiver) = oneshot::channel();
        sender.send(StatusCode::PAYLOAD_TOO_LARGE).unwrap();
        let response = within_limit(std::future::pending(), Some(receiver)).await;
        assert_eq!(response.err(), Some(StatusCode::PAYLOAD_TOO_LARGE));
    }

    #[tokio::test]
    async fn a_body_within_its_limit_keeps_the_response() {
        let (sender, receiver) = oneshot::channel::<StatusCode>();
        drop(sender);
        let response = within_limit(async { error_response(StatusCode::OK) }, Some(receiver)).await;
        assert_eq!(response.map(|response| response.status()).ok(), Some(StatusCode::OK));
    }

    #[test]
    fn refusals_carry_this_servers_header() {
        let server = HeaderValue::from_static("h3-test");
        let response = refusal(StatusCode::PAYLOAD_TOO_LARGE, Some(&server));
        assert_eq!(response.headers()[header::SERVER], "h3-test");
        assert!(
            !refusal(StatusCode::BAD_REQUEST, None)
                .headers()
                .contains_key(header::SERVER)
        );
    }
}
