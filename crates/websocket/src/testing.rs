//! What the unit tests and the fuzz target serve websockets with: one HTTP/1.1 connection that
//! completes a websocket handshake and then echoes every message, driven from raw bytes.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use granian_harness::drive;
use granian_serve::{ResponseBody, error_response};
use http::{HeaderMap, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::mpsc;

use crate::{Command, Inbox, Message, Pending, WebsocketLimits, handshake};

/// The `Sec-WebSocket-Extensions` offers a fuzz input picks from with its first byte: none,
/// and permessage-deflate with each way of resetting the compression context.
pub(crate) const OFFERS: [Option<&str>; 4] = [
    None,
    Some("permessage-deflate"),
    Some("permessage-deflate; client_no_context_takeover; server_no_context_takeover"),
    Some("permessage-deflate; client_max_window_bits; server_max_window_bits=15"),
];

/// Limits small enough that an input reaches them: messages of 4 KiB, and pings, their
/// timeout, the closing handshake and the send timeout within a second or two of virtual time.
pub(crate) fn limits() -> WebsocketLimits {
    WebsocketLimits {
        max_message_size: 4096,
        ping_interval: Some(Duration::from_secs(2)),
        ping_timeout: Duration::from_secs(1),
        close_timeout: Duration::from_secs(1),
        deflate: true,
        send_timeout: Some(Duration::from_secs(2)),
    }
}

/// The handshake request a connection starts with, offering `offer`.
pub(crate) fn upgrade_request(offer: Option<&str>) -> Vec<u8> {
    let mut request = b"GET /ws HTTP/1.1\r\nhost: example\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\
sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        .to_vec();
    if let Some(offer) = offer {
        request.extend_from_slice(format!("sec-websocket-extensions: {offer}\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request
}

/// Echoes every message back, as an application would; remembers how the connection closed.
struct EchoInbox {
    commands: mpsc::Sender<Command>,
    closed: Arc<Mutex<Option<(u16, String)>>>,
}

impl Inbox for EchoInbox {
    async fn message(&self, message: Message) {
        let _ = self.commands.send(Command::Send(message)).await;
    }

    fn closed(&self, code: u16, reason: &str) {
        *self.closed.lock().unwrap_or_else(PoisonError::into_inner) = Some((code, reason.to_owned()));
    }
}

/// What one connection came to: every byte the server wrote, and the close code and reason
/// its inbox was told (`None` when the handshake never completed).
pub(crate) struct Served {
    pub(crate) output: Vec<u8>,
    pub(crate) closed: Option<(u16, String)>,
}

/// Serve one connection: the handshake request offering `offer`, then `frames` as the
/// client's websocket bytes, every message echoed. Panics on a hang.
pub(crate) fn serve_frames(offer: Option<&str>, frames: &[u8]) -> Served {
    let mut input = upgrade_request(offer);
    input.extend_from_slice(frames);
    let closed = Arc::new(Mutex::new(None));
    let recorded = Arc::clone(&closed);
    let output = drive(&input, move |io, _conn, watch| async move {
        let accepted: Arc<Mutex<Option<Pending>>> = Arc::default();
        let slot = Arc::clone(&accepted);
        let service = service_fn(move |mut request: Request<Incoming>| {
            // As the HTTP/1.1 layer does: a draining server closes the websocket.
            request.extensions_mut().insert(watch.clone());
            let response = match handshake(&mut request) {
                Ok(Some(handshake)) => {
                    let (response, pending) = handshake.accept(None, HeaderMap::new(), limits());
                    *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(pending);
                    response
                }
                Ok(None) => error_response(StatusCode::NOT_FOUND),
                Err(error) => error.response(),
            };
            std::future::ready(Ok::<Response<ResponseBody>, Infallible>(response))
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new());
        let connection = builder.serve_connection(TokioIo::new(io), service).with_upgrades();
        let _ = connection.await;
        let pending = accepted.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(pending) = pending {
            let (commands, received) = mpsc::channel(8);
            let inbox = EchoInbox {
                commands,
                closed: recorded,
            };
            pending.run(received, Arc::new(inbox)).await;
        }
    });
    let closed = closed.lock().unwrap_or_else(PoisonError::into_inner).take();
    Served { output, closed }
}

/// What is wrong with what the server wrote, if anything: a `101` answer, then well-formed
/// server frames (RFC 6455 §5.2: unmasked, no reserved bits but RSV1 on the first frame of a
/// compressed message when `deflate` was agreed, control frames whole and at most 125 bytes),
/// at most one close frame with a code that may be sent and a UTF-8 reason, and no data
/// after it (§5.5.1); the inbox told of the end exactly once, with a code that may be sent or
/// 1005/1006.
pub(crate) fn problem(served: &Served, deflate: bool) -> Option<String> {
    const HEAD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n";
    let output = &served.output;
    if !output.starts_with(HEAD) {
        return Some(format!("no 101 answer: {:?}", String::from_utf8_lossy(output)));
    }
    let Some(head_end) = output.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Some("the 101 head never ends".to_owned());
    };
    match &served.closed {
        Some((code, _)) if crate::is_sendable_close_code(*code) || matches!(*code, 1005 | 1006) => {}
        closed => return Some(format!("the inbox was told {closed:?}")),
    }
    let mut rest = &output[head_end + 4..];
    let mut closed = false;
    while !rest.is_empty() {
        let frame = match ServerFrame::parse(rest) {
            Ok(frame) => frame,
            Err(problem) => return Some(format!("{problem} in {rest:?}")),
        };
        if let Some(problem) = frame.problem(deflate, closed) {
            return Some(format!("{problem} in {rest:?}"));
        }
        closed |= frame.opcode == 0x8;
        rest = &rest[frame.length..];
    }
    None
}

/// The parts of one frame the server wrote that RFC 6455 constrains.
struct ServerFrame<'a> {
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    payload: &'a [u8],
    /// Header and payload.
    length: usize,
}

impl<'a> ServerFrame<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, String> {
        let [first, second, ..] = *bytes else {
            return Err("a truncated frame header".to_owned());
        };
        let (size, header) = match second & 0x7f {
            126 => (bytes.get(2..4).map(|b| u64::from(u16::from_be_bytes([b[0], b[1]]))), 4),
            127 => (
                bytes
                    .get(2..10)
                    .map(|b| u64::from_be_bytes(b.try_into().expect("eight bytes"))),
                10,
            ),
            size => (Some(u64::from(size)), 2),
        };
        let masked = second & 0x80 != 0;
        let header = if masked { header + 4 } else { header };
        let size = size.and_then(|size| usize::try_from(size).ok());
        let Some(payload) = size.and_then(|size| bytes.get(header..header + size)) else {
            return Err("a truncated frame".to_owned());
        };
        Ok(Self {
            fin: first & 0x80 != 0,
            rsv: (first >> 4) & 0x7,
            opcode: first & 0xf,
            masked,
            payload,
            length: header + payload.len(),
        })
    }

    fn problem(&self, deflate: bool, after_close: bool) -> Option<String> {
        let is_control = self.opcode & 0x8 != 0;
        if self.masked {
            return Some("a masked server frame".to_owned());
        }
        if !matches!(self.opcode, 0x0..=0x2 | 0x8..=0xa) {
            return Some(format!("reserved opcode {:#x}", self.opcode));
        }
        let compressed_data = deflate && matches!(self.opcode, 0x1 | 0x2);
        if self.rsv != 0 && !(self.rsv == 0b100 && compressed_data) {
            return Some(format!("reserved bits {:#05b}", self.rsv));
        }
        if is_control && (!self.fin || self.payload.len() > 125) {
            return Some("a fragmented or oversized control frame".to_owned());
        }
        if after_close && (self.opcode == 0x8 || !is_control) {
            return Some("a frame after the close frame".to_owned());
        }
        if self.opcode == 0x8 {
            match self.payload {
                [] => {}
                [high, low, reason @ ..] => {
                    let code = u16::from_be_bytes([*high, *low]);
                    if !crate::is_sendable_close_code(code) || std::str::from_utf8(reason).is_err() {
                        return Some(format!("close frame with code {code}, reason {reason:?}"));
                    }
                }
                [_] => return Some("a one-byte close frame".to_owned()),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One client frame, masked with a zero key so that the payload reads as it is.
    fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![first];
        match payload.len() {
            size @ 0..=125 => frame.push(0x80 | u8::try_from(size).unwrap()),
            size => {
                frame.push(0xfe); // masked, a 16-bit length follows
                frame.extend_from_slice(&u16::try_from(size).unwrap().to_be_bytes());
            }
        }
        frame.extend_from_slice(&[0; 4]);
        frame.extend_from_slice(payload);
        frame
    }

    fn close(code: u16) -> Vec<u8> {
        masked(0x88, &code.to_be_bytes())
    }

    /// The frames after the 101 head, as (first byte, payload).
    fn frames(served: &Served) -> Vec<(u8, Vec<u8>)> {
        let head_end = served.output.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let mut rest = &served.output[head_end..];
        let mut frames = Vec::new();
        while !rest.is_empty() {
            let frame = ServerFrame::parse(rest).unwrap();
            frames.push((rest[0], frame.payload.to_vec()));
            rest = &rest[frame.length..];
        }
        frames
    }

    fn serve_checked(offer: Option<&str>, input: &[u8]) -> Served {
        let served = serve_frames(offer, input);
        assert_eq!(problem(&served, offer.is_some()), None);
        served
    }

    #[test]
    fn messages_are_echoed_and_the_close_answered() {
        let mut input = masked(0x81, b"hello");
        input.extend(masked(0x82, &[0, 1, 2]));
        input.extend(masked(0x01, b"frag"));
        input.extend(masked(0x80, b"ments"));
        let served = serve_checked(None, &input);
        assert_eq!(
            frames(&served),
            [
                (0x81, b"hello".to_vec()),
                (0x82, vec![0, 1, 2]),
                (0x81, b"fragments".to_vec()),
            ]
        );
        // The client left without a closing handshake.
        assert_eq!(served.closed, Some((1006, String::new())));
        let served = serve_checked(None, &close(4000));
        assert_eq!(frames(&served), [(0x88, 4000u16.to_be_bytes().to_vec())]);
        assert_eq!(served.closed, Some((4000, String::new())));
    }

    #[test]
    fn compressed_messages_are_inflated_and_echoed_compressed() {
        // "Hello" deflated (RFC 7692 §7.2.3.1), with RSV1 set.
        let input = masked(0xc1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        for offer in OFFERS.into_iter().flatten() {
            let served = serve_checked(Some(offer), &input);
            let frames = frames(&served);
            assert_eq!(frames[0].0, 0xc1, "{offer}");
            assert_eq!(served.closed, Some((1006, String::new())), "{offer}");
        }
    }

    #[test]
    fn broken_rules_end_in_a_close_frame() {
        // Unmasked, then a continuation without a start, then a 5000-byte message over the
        // 4096 limit, then a compressed frame without permessage-deflate, then bad UTF-8.
        let cases: [(Vec<u8>, u16); 5] = [
            (vec![0x81, 0x02, b'h', b'i'], 1002),
            (masked(0x80, b"x"), 1002),
            (masked(0x82, &[0; 5000]), 1009),
            (masked(0xc1, b"x"), 1002),
            (masked(0x81, b"\xff"), 1007),
        ];
        for (input, code) in cases {
            let served = serve_checked(None, &input);
            let frames = frames(&served);
            assert_eq!(frames.last().map(|f| f.0), Some(0x88), "{input:?}");
            assert_eq!(served.closed.as_ref().map(|c| c.0), Some(code), "{input:?}");
        }
    }

    #[test]
    fn one_close_frame_after_a_continuation_out_of_place() {
        // yawc's reassembly refuses the continuation without sending a close; the frame after
        // it makes yawc close by itself (a reserved bit, a close frame it answers), and the
        // driver then sends none of its own. The fuzz input that found it, then the two cases.
        let found = include_bytes!("../fuzz/corpus/frames/regression-close-after-violation");
        let offer = OFFERS[usize::from(found[0]) % OFFERS.len()];
        assert_eq!(problem(&serve_frames(offer, &found[1..]), offer.is_some()), None);
        for next in [masked(0xc8, &1000u16.to_be_bytes()), close(1000), masked(0x89, b"ping")] {
            let mut input = masked(0x00, b"x");
            input.extend(next);
            let served = serve_checked(None, &input);
            let closes = frames(&served).iter().filter(|frame| frame.0 == 0x88).count();
            assert_eq!(closes, 1, "{input:?}");
            assert_eq!(served.closed.map(|closed| closed.0), Some(1002), "{input:?}");
        }
    }

    #[test]
    fn a_client_that_says_nothing_is_closed() {
        let served = serve_checked(Some("permessage-deflate"), b"");
        assert_eq!(served.closed, Some((1006, String::new())));
    }
}
