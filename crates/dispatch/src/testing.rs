//! What the unit tests and the fuzz target serve connections with.

use std::sync::Arc;
use std::time::Duration;

use granian_harness::{Echo, drive};
use granian_http1::Http1Limits;
use granian_http2::{Http2Limits, PREFACE};

use crate::{HttpMode, Protocols, serve};

/// Limits that make a connection under test give up quickly.
pub(crate) fn protocols(mode: HttpMode) -> Protocols {
    Protocols {
        mode,
        http1: Http1Limits {
            keep_alive: true,
            header_read_timeout: Some(Duration::from_secs(1)),
            keep_alive_timeout: Some(Duration::from_secs(30)),
            buffer_size: 16 * 1024,
            max_header_size: None,
            max_body_size: None,
            pipeline_flush: false,
            server: None,
        },
        http2: Arc::new(Http2Limits {
            max_concurrent_streams: 100,
            initial_connection_window_size: 1 << 20,
            initial_stream_window_size: 1 << 20,
            max_frame_size: 1 << 14,
            max_headers_size: 1 << 14,
            max_send_buffer_size: 1 << 16,
            adaptive_window: false,
            keep_alive_interval: None,
            keep_alive_timeout: Duration::from_secs(20),
            max_body_size: None,
            server: None,
        }),
    }
}

/// Feed `input` to a fresh connection served by [`Echo`] in `mode` and return every byte the
/// server wrote before closing. Panics on a hang.
pub(crate) fn serve_bytes(mode: HttpMode, input: &[u8]) -> Vec<u8> {
    drive(input, move |server, conn, watch| async move {
        serve(server, Echo, conn, &protocols(mode), watch).await;
    })
}

/// base64url without padding (RFC 4648 §5), as `HTTP2-Settings` carries a SETTINGS payload.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().fold(0u32, |group, &byte| group << 8 | u32::from(byte)) << (8 * (3 - chunk.len()));
        for index in 0..=chunk.len() {
            text.push(char::from(ALPHABET[(group >> (18 - 6 * index)) as usize & 63]));
        }
    }
    text
}

/// An `Upgrade: h2c` connection from a fuzz input: the first byte picks the mode (bit 0:
/// `Auto` or `Http2`), whether the client preface follows the request (bit 1) and whether the
/// request has a body (bit 2); the second byte how many 6-byte SETTINGS entries, taken from
/// what follows, `HTTP2-Settings` carries (0 to 3). The rest are the client's HTTP/2 bytes.
pub(crate) fn upgrade_input(data: &[u8]) -> (HttpMode, Vec<u8>) {
    let (flags, rest) = data.split_first().map_or((0, data), |(&flags, rest)| (flags, rest));
    let (entries, rest) = rest.split_first().map_or((0, rest), |(&entries, rest)| (entries, rest));
    let (settings, http2) = rest.split_at((usize::from(entries % 4) * 6).min(rest.len() / 6 * 6));
    let mode = if flags & 1 == 0 { HttpMode::Auto } else { HttpMode::Http2 };
    let (method, body) = if flags & 4 == 0 { ("GET", "") } else { ("POST", "hello") };
    let mut input = format!(
        "{method} /up HTTP/1.1\r\nhost: example\r\ncontent-length: {}\r\nconnection: Upgrade, HTTP2-Settings\r\n\
         upgrade: h2c\r\nhttp2-settings: {}\r\n\r\n{body}",
        body.len(),
        base64url(settings),
    )
    .into_bytes();
    if flags & 2 != 0 {
        input.extend_from_slice(PREFACE);
    }
    input.extend_from_slice(http2);
    (mode, input)
}

/// What is wrong with a server's answer to an [`upgrade_input`], if anything: a `101` whose
/// head says `Upgrade: h2c`, then whole HTTP/2 frames of known types, the first of them the
/// server's SETTINGS (RFC 9113 §3.4).
pub(crate) fn upgrade_problem(output: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(output);
    let Some(head_end) = output.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Some(format!("no whole response head: {text:?}"));
    };
    let head = text[..head_end].to_ascii_lowercase();
    if !head.starts_with("http/1.1 101 switching protocols\r\n") || !head.contains("\r\nupgrade: h2c") {
        return Some(format!("no 101 to h2c: {text:?}"));
    }
    let mut rest = &output[head_end + 4..];
    let mut first = true;
    while !rest.is_empty() {
        let Some(header) = rest.get(..9) else {
            return Some(format!("a truncated frame header: {rest:?}"));
        };
        let length = usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2]);
        let kind = header[3];
        if first && (kind != 0x4 || header[4] != 0 || length % 6 != 0) {
            return Some(format!("the first frame is not the server's SETTINGS: {rest:?}"));
        }
        if kind > 0x9 {
            return Some(format!("a frame of unknown type {kind}: {rest:?}"));
        }
        let Some(next) = rest.get(9 + length..) else {
            return Some(format!("a truncated frame: {rest:?}"));
        };
        rest = next;
        first = false;
    }
    if first {
        return Some("nothing after the 101".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_encode_as_curl_sends_them() {
        let settings = [0, 3, 0, 0, 0, 100, 0, 4, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0];
        assert_eq!(base64url(&settings), "AAMAAABkAAQCAAAAAAIAAAAA");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        assert_eq!(
            granian_http2::decode_settings(base64url(&settings[..6]).as_bytes()),
            Some(vec![(3, 100)])
        );
    }

    #[test]
    fn every_upgrade_layout_gets_101_then_settings() {
        // An empty SETTINGS frame after the preface, or nothing at all.
        let settings_frame = [0, 0, 0, 4, 0, 0, 0, 0, 0];
        for flags in 0..8u8 {
            for entries in [0u8, 1, 3] {
                let mut data = vec![flags, entries];
                data.extend(std::iter::repeat_n(0, usize::from(entries) * 6));
                let (mode, input) = upgrade_input(&data);
                assert_eq!(upgrade_problem(&serve_bytes(mode, &input)), None, "{data:?}");
                data.extend_from_slice(&settings_frame);
                let (mode, input) = upgrade_input(&data);
                assert_eq!(upgrade_problem(&serve_bytes(mode, &input)), None, "{data:?}");
            }
        }
    }

    #[test]
    fn a_plain_answer_is_a_problem() {
        assert!(upgrade_problem(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_some());
        assert!(upgrade_problem(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\n\r\n").is_some());
    }
}
