//! The HTTP/2 end of the HTTP/1.1 `Upgrade: h2c` path (RFC 7540 §3.2; RFC 9113 deprecates but
//! does not forbid it, and `curl --http2` still takes it). The HTTP/1.1 end (which requests
//! switch, the 101) is `granian_http1::Upgrades`; the two meet in `granian_dispatch`.
//!
//! After the 101 response the client sends the HTTP/2 connection preface, and the request
//! that asked for the upgrade is to be answered on stream 1. hyper's HTTP/2 server has no
//! way to adopt a request it did not read itself, so the upgrading request is handed to it
//! as if the client had sent it: right after the client's first frame (its SETTINGS), the
//! connection's input carries a HEADERS frame for stream 1 encoded here. The frame uses
//! HPACK literals that are never indexed, so the server's decoding table stays exactly as
//! the client's encoder expects. The request body, read before the switch, never goes
//! through HTTP/2 flow control: [`FirstBody`] attaches it to the first request the handler
//! sees, which is stream 1.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use granian_serve::{ConnInfo, Handler, IncomingBody, ResponseBody, ShutdownWatch, lists_token};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::conn::serve_bounded;
use crate::{Error, Http2Limits, PREFACE};

/// HEADERS and CONTINUATION payloads are cut to the smallest frame size every HTTP/2 peer
/// accepts (RFC 9113 §4.2).
const MAX_FRAME: usize = 16_384;
const FRAME_HEADERS: u8 = 0x1;
const FRAME_CONTINUATION: u8 = 0x9;
const FLAG_END_STREAM: u8 = 0x1;
const FLAG_END_HEADERS: u8 = 0x4;

/// Whether a request head asks for h2c the way RFC 7540 §3.2 requires: `Upgrade` lists
/// `h2c`, `Connection` lists `Upgrade` and `HTTP2-Settings`, and exactly one `HTTP2-Settings`
/// header holds a valid SETTINGS payload.
#[must_use]
pub fn is_h2c_upgrade(headers: &HeaderMap) -> bool {
    let http2_settings = HeaderName::from_static("http2-settings");
    lists_token(headers, &header::UPGRADE, "h2c")
        && lists_token(headers, &header::CONNECTION, "upgrade")
        && lists_token(headers, &header::CONNECTION, "http2-settings")
        && {
            let mut values = headers.get_all(&http2_settings).iter();
            matches!((values.next(), values.next()), (Some(value), None) if decode_settings(value.as_bytes()).is_some())
        }
}

/// Decode an `HTTP2-Settings` value (base64url without padding, RFC 7540 §3.2.1) into its
/// (identifier, value) pairs; `None` when it is not valid.
#[must_use]
#[expect(
    clippy::cast_possible_truncation,
    reason = "`bits` holds fewer than 14 bits; the shift leaves 8"
)]
pub fn decode_settings(text: &[u8]) -> Option<Vec<(u16, u32)>> {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    for &c in text {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    // Leftover bits must be padding zeros of an incomplete group, never a whole character.
    if count >= 6 || bits != 0 || bytes.len() % 6 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(6)
            .map(|s| {
                (
                    u16::from_be_bytes([s[0], s[1]]),
                    u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
                )
            })
            .collect(),
    )
}

/// Headers that describe the HTTP/1.1 connection or the upgrade itself, which HTTP/2 forbids
/// (RFC 9113 §8.2.2) or which stream 1 gets another way (`host` as `:authority`,
/// `content-length` with the body).
fn is_hop_header(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "upgrade"
            | "http2-settings"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "host"
            | "content-length"
    )
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "each value cast is below 256 by construction"
)]
fn put_integer(out: &mut BytesMut, first: u8, prefix_bits: u8, value: usize) {
    // RFC 7541 §5.1.
    let max = (1usize << prefix_bits) - 1;
    if value < max {
        out.put_u8(first | value as u8);
        return;
    }
    out.put_u8(first | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.put_u8((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.put_u8(rest as u8);
}

fn put_string(out: &mut BytesMut, text: &[u8]) {
    // RFC 7541 §5.2, without Huffman coding.
    put_integer(out, 0, 7, text.len());
    out.put_slice(text);
}

/// One header as a literal that is never added to the decoder's table (RFC 7541 §6.2.2).
fn put_literal(out: &mut BytesMut, name: &[u8], value: &[u8]) {
    out.put_u8(0);
    put_string(out, name);
    put_string(out, value);
}

/// The HPACK block of the upgrading request as an HTTP/2 request: pseudo-headers first.
#[must_use]
pub fn encode_request_head(parts: &Parts, scheme: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(256);
    put_literal(&mut out, b":method", parts.method.as_str().as_bytes());
    put_literal(&mut out, b":scheme", scheme.as_bytes());
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str().as_bytes().to_vec())
        .or_else(|| parts.headers.get(header::HOST).map(|h| h.as_bytes().to_vec()));
    if let Some(authority) = authority {
        put_literal(&mut out, b":authority", &authority);
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    put_literal(&mut out, b":path", path.as_bytes());
    for (name, value) in &parts.headers {
        if !is_hop_header(name) {
            put_literal(&mut out, name.as_str().as_bytes(), value.as_bytes());
        }
    }
    out.freeze()
}

fn put_frame_header(out: &mut BytesMut, length: usize, kind: u8, flags: u8, stream: u32) {
    out.put_uint(length as u64, 3);
    out.put_u8(kind);
    out.put_u8(flags);
    out.put_u32(stream);
}

/// `block` as a HEADERS frame on stream 1 that ends the stream, followed by CONTINUATION
/// frames when it does not fit in one.
#[must_use]
pub fn stream_one_frames(block: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(block.len() + 9 * (1 + block.len() / MAX_FRAME));
    let mut chunks = block.chunks(MAX_FRAME).peekable();
    let mut kind = FRAME_HEADERS;
    let mut flags = FLAG_END_STREAM;
    if chunks.peek().is_none() {
        put_frame_header(&mut out, 0, kind, flags | FLAG_END_HEADERS, 1);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        put_frame_header(
            &mut out,
            chunk.len(),
            kind,
            flags | if last { FLAG_END_HEADERS } else { 0 },
            1,
        );
        out.put_slice(chunk);
        kind = FRAME_CONTINUATION;
        flags = 0;
    }
    out.freeze()
}

/// Where [`Injected`] is in the client's opening bytes.
#[derive(Debug)]
enum Stage {
    /// Passing through the preface and the first frame header; `seen` bytes so far.
    Opening { seen: usize, header: [u8; 9] },
    /// Passing through the rest of the first frame's payload.
    FirstFrame { left: usize },
    /// Everything from here on passes straight through.
    Through,
}

/// The upgraded connection with stream 1's frames slipped in after the client's first frame.
#[derive(Debug)]
pub struct Injected<I> {
    inner: I,
    stage: Stage,
    frames: Option<Bytes>,
    /// Bytes read from `inner` or injected, not yet handed to the reader.
    pending: BytesMut,
}

impl<I> Injected<I> {
    /// Wrap the connection; `frames` go in once the preface and first frame have passed.
    pub fn new(inner: I, frames: Bytes) -> Self {
        Self {
            inner,
            stage: Stage::Opening {
                seen: 0,
                header: [0; 9],
            },
            frames: Some(frames),
            pending: BytesMut::new(),
        }
    }

    /// Move `data` (fresh from the peer) into `pending`, injecting the frames at the boundary.
    fn absorb(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            match &mut self.stage {
                Stage::Opening { seen, header } => {
                    let opening = PREFACE.len() + 9;
                    let take = (opening - *seen).min(data.len());
                    for (i, &byte) in data[..take].iter().enumerate() {
                        let at = *seen + i;
                        if at >= PREFACE.len() {
                            header[at - PREFACE.len()] = byte;
                        } else if byte != PREFACE[at] {
                            // Not an HTTP/2 client after all: nothing to inject into.
                            self.stage = Stage::Through;
                            self.frames = None;
                            self.pending.put_slice(data);
                            return;
                        }
                    }
                    self.pending.put_slice(&data[..take]);
                    *seen += take;
                    data = &data[take..];
                    if *seen == opening {
                        let left = usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
                        self.stage = Stage::FirstFrame { left };
                    }
                }
                Stage::FirstFrame { left } => {
                    let take = (*left).min(data.len());
                    self.pending.put_slice(&data[..take]);
                    *left -= take;
                    data = &data[take..];
                }
                Stage::Through => {
                    self.pending.put_slice(data);
                    return;
                }
            }
            if let Stage::FirstFrame { left: 0 } = self.stage {
                if let Some(frames) = self.frames.take() {
                    self.pending.put_slice(&frames);
                }
                self.stage = Stage::Through;
            }
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Injected<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if matches!(this.stage, Stage::Through) {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut scratch = [0u8; 4096];
            let mut read = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    let filled = read.filled().to_vec();
                    this.absorb(&filled);
                }
                other => return other,
            }
        }
    }
}

granian_serve::write_through!(Injected);

/// Hands the upgrading request's body (and its length) to the first request served, which is
/// stream 1; later requests pass through untouched.
#[derive(Clone)]
struct FirstBody<H> {
    handler: H,
    body: Arc<Mutex<Option<Bytes>>>,
}

impl<H> FirstBody<H> {
    /// Attach `body` to the first request `handler` gets.
    fn new(handler: H, body: Bytes) -> Self {
        Self {
            handler,
            body: Arc::new(Mutex::new(Some(body))),
        }
    }
}

impl<H: Handler> Handler for FirstBody<H> {
    fn handle(
        &self,
        mut request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<H> {
        let first = self.body.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(body) = first {
            if !body.is_empty() {
                request
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            }
            *request.body_mut() = IncomingBody::full(body);
        }
        self.handler.handle(request, conn)
    }
}

/// Serve HTTP/2 on a connection switched from HTTP/1.1 by `Upgrade: h2c`: `io` continues right
/// after the 101 response, and `request` (the request that asked for the switch, its body read
/// whole) is answered on stream 1. Otherwise as [`serve_connection`](crate::serve_connection), except that the writes of
/// `io` are taken to be bounded already, by the send timeout of the HTTP/1.1 connection it comes
/// from.
pub async fn serve_upgraded<I, H>(
    io: I,
    request: Request<Bytes>,
    handler: H,
    conn: Arc<ConnInfo>,
    limits: &Http2Limits,
    watch: ShutdownWatch,
) -> Result<(), Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let (parts, body) = request.into_parts();
    let frames = stream_one_frames(&encode_request_head(&parts, conn.scheme.as_str()));
    let io = Injected::new(io, frames);
    serve_bounded(io, FirstBody::new(handler, body), conn, limits, watch).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    const CURL: &[(&str, &str)] = &[
        ("connection", "Upgrade, HTTP2-Settings"),
        ("upgrade", "h2c"),
        ("http2-settings", "AAMAAABkAAQCAAAAAAIAAAAA"),
    ];

    #[test]
    fn recognises_a_valid_upgrade() {
        assert!(is_h2c_upgrade(&headers(CURL)));
    }

    #[test]
    fn refuses_incomplete_upgrades() {
        for (skip, missing) in CURL.iter().enumerate() {
            let partial: Vec<_> = CURL
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, p)| *p)
                .collect();
            assert!(!is_h2c_upgrade(&headers(&partial)), "without {missing:?}");
        }
        let mut bad = CURL.to_vec();
        bad[2] = ("http2-settings", "not base64!");
        assert!(!is_h2c_upgrade(&headers(&bad)));
        let mut twice = CURL.to_vec();
        twice.push(("http2-settings", ""));
        assert!(!is_h2c_upgrade(&headers(&twice)));
        let mut websocket = CURL.to_vec();
        websocket[1] = ("upgrade", "websocket");
        assert!(!is_h2c_upgrade(&headers(&websocket)));
    }

    #[test]
    fn decodes_curl_settings() {
        assert_eq!(
            decode_settings(b"AAMAAABkAAQCAAAAAAIAAAAA"),
            Some(vec![(3, 100), (4, 0x0200_0000), (2, 0)])
        );
        assert_eq!(decode_settings(b""), Some(vec![]));
        assert_eq!(decode_settings(b"AAMAAABk="), None);
        assert_eq!(decode_settings(b"AAMAAAB"), None);
    }

    #[test]
    fn integers_use_continuation_bytes() {
        let mut out = BytesMut::new();
        put_integer(&mut out, 0, 5, 1337);
        assert_eq!(&out[..], &[31, 154, 10]); // RFC 7541 §C.1.2
    }

    #[test]
    fn long_blocks_are_split_into_continuations() {
        let block = vec![7u8; MAX_FRAME + 10];
        let frames = stream_one_frames(&block);
        assert_eq!(frames.len(), block.len() + 18);
        assert_eq!(&frames[..9], &[0, 0x40, 0, FRAME_HEADERS, FLAG_END_STREAM, 0, 0, 0, 1]);
        let second = 9 + MAX_FRAME;
        assert_eq!(
            &frames[second..second + 9],
            &[0, 0, 10, FRAME_CONTINUATION, FLAG_END_HEADERS, 0, 0, 0, 1]
        );
    }

    #[tokio::test]
    async fn injects_after_the_first_frame_whatever_the_split() {
        let mut client = PREFACE.to_vec();
        client.extend_from_slice(&[0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]);
        client.extend_from_slice(b"rest");
        let injected = Bytes::from_static(b"<frames>");
        let mut expected = client[..PREFACE.len() + 15].to_vec();
        expected.extend_from_slice(&injected);
        expected.extend_from_slice(b"rest");
        for split in 0..client.len() {
            let (a, b) = client.split_at(split);
            let mut io = Injected::new(a.chain(b), injected.clone());
            let mut out = Vec::new();
            io.read_to_end(&mut out).await.unwrap();
            assert_eq!(out, expected, "split at {split}");
        }
    }

    #[tokio::test]
    async fn non_http2_input_passes_untouched() {
        let mut io = Injected::new(&b"GET / HTTP/1.1\r\n\r\n"[..], Bytes::from_static(b"x"));
        let mut out = Vec::new();
        io.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"GET / HTTP/1.1\r\n\r\n");
    }
}
