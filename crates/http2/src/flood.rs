//! The frame flood rule (CVE-2019-9512 ping flood, CVE-2019-9515 settings flood, and any other
//! stream of frames that carry nothing): a connection whose client has sent more than eight
//! times as many bytes as it sent payload, plus an allowance, is closed. nginx applies the
//! same rule with the same numbers ("http2 flood detected").
//!
//! h2 answers every PING and SETTINGS frame, and stops reading while an answer waits to be
//! written, so a flood costs no memory; but a client that reads the answers can keep a
//! connection busy with them for ever. Payload is what HEADERS, CONTINUATION and DATA frames
//! carry: requests and their bodies; everything else (frame headers, control frames, padding
//! aside) is overhead.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, ReadBuf};

use crate::PREFACE;

/// Overhead bytes a client may send before any payload.
pub(crate) const ALLOWANCE: u64 = 1 << 20;
/// How many bytes a client may send per byte of payload, past the allowance.
pub(crate) const RATIO: u64 = 8;

const FRAME_HEADER: usize = 9;
const FRAME_DATA: u8 = 0x0;
const FRAME_HEADERS: u8 = 0x1;
const FRAME_CONTINUATION: u8 = 0x9;

/// Follows the frames of a client's byte stream, counting all bytes and payload bytes.
#[derive(Debug)]
pub(crate) struct FrameCount {
    /// Bytes of the connection preface still to come.
    preface: usize,
    /// The header of the frame being read, and how much of it has come.
    header: [u8; FRAME_HEADER],
    header_len: usize,
    /// Bytes of the current frame's payload still to come, and whether they are payload.
    remaining: u64,
    counts: bool,
    total: u64,
    payload: u64,
}

impl FrameCount {
    pub(crate) fn new() -> Self {
        Self {
            preface: PREFACE.len(),
            header: [0; FRAME_HEADER],
            header_len: 0,
            remaining: 0,
            counts: false,
            total: 0,
            payload: 0,
        }
    }

    /// Count the next `bytes` of the stream; `false` once the client is flooding.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> bool {
        self.total += bytes.len() as u64;
        let (_, mut rest) = bytes.split_at(self.preface.min(bytes.len()));
        self.preface -= bytes.len() - rest.len();
        while !rest.is_empty() {
            if self.remaining > 0 {
                let take = rest.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                self.remaining -= take as u64;
                if self.counts {
                    self.payload += take as u64;
                }
                rest = rest.split_at(take).1;
                continue;
            }
            let take = rest.len().min(FRAME_HEADER - self.header_len);
            let (part, after) = rest.split_at(take);
            if let Some(slot) = self.header.get_mut(self.header_len..self.header_len + take) {
                slot.copy_from_slice(part);
            }
            self.header_len += take;
            rest = after;
            if self.header_len == FRAME_HEADER {
                let [a, b, c, kind, ..] = self.header;
                self.header_len = 0;
                self.remaining = u64::from(u32::from_be_bytes([0, a, b, c]));
                self.counts = matches!(kind, FRAME_DATA | FRAME_HEADERS | FRAME_CONTINUATION);
            }
        }
        self.total / RATIO <= self.payload + ALLOWANCE
    }
}

/// A connection that fails the next read once its client floods it ([`FrameCount`]); hyper
/// then drops the connection.
#[derive(Debug)]
pub(crate) struct FloodGuard<I> {
    inner: I,
    count: FrameCount,
}

impl<I> FloodGuard<I> {
    pub(crate) fn new(inner: I) -> Self {
        Self {
            inner,
            count: FrameCount::new(),
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for FloodGuard<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let fresh = buf.filled().get(before..).unwrap_or_default();
        if this.count.feed(fresh) {
            Poll::Ready(Ok(()))
        } else {
            Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "http/2 flood: the client sends frames that carry nothing",
            )))
        }
    }
}

granian_serve::write_through!(FloodGuard);

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
        let mut out = vec![len[1], len[2], len[3], kind, 0, 0, 0, 0, 1];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn payload_is_what_requests_carry() {
        let mut count = FrameCount::new();
        let mut stream = PREFACE.to_vec();
        stream.extend(frame(0x4, &[0; 6]));
        stream.extend(frame(FRAME_HEADERS, b"head"));
        stream.extend(frame(FRAME_CONTINUATION, b"more"));
        stream.extend(frame(FRAME_DATA, &[7; 100]));
        stream.extend(frame(0x6, &[0; 8]));
        // Split anywhere, even inside the preface and frame headers.
        for chunk in stream.chunks(5) {
            assert!(count.feed(chunk));
        }
        assert_eq!(count.total, stream.len() as u64);
        assert_eq!(count.payload, 108);
        assert_eq!((count.header_len, count.remaining), (0, 0));
    }

    #[test]
    fn control_frames_alone_are_a_flood() {
        let mut count = FrameCount::new();
        assert!(count.feed(PREFACE));
        let ping = frame(0x6, &[0; 8]);
        let mut sent = PREFACE.len() as u64;
        while count.feed(&ping) {
            sent += ping.len() as u64;
            assert!(sent <= RATIO * ALLOWANCE + ping.len() as u64, "{sent}");
        }
        assert!(sent >= RATIO * ALLOWANCE - ping.len() as u64, "{sent}");
    }

    #[test]
    fn payload_buys_overhead() {
        let mut count = FrameCount::new();
        assert!(count.feed(PREFACE));
        // A long download: one request, then a WINDOW_UPDATE per 32 KiB of a 4 GiB body.
        assert!(count.feed(&frame(FRAME_HEADERS, &[0; 40])));
        let update = frame(0x8, &[0, 0, 0x80, 0]);
        for _ in 0..(4u64 << 30) / (32 << 10) {
            assert!(count.feed(&update));
        }
        // An upload: its DATA frames never flood, however small.
        let data = frame(FRAME_DATA, &[1]);
        for _ in 0..1_000_000 {
            assert!(count.feed(&data));
        }
    }
}
