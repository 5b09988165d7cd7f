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
        h2c_upgrade: true,
        http1: Http1Limits {
            keep_alive: true,
            header_read_timeout: Some(Duration::from_secs(1)),
            keep_alive_timeout: Some(Duration::from_secs(30)),
            buffer_size: 16 * 1024,
            max_header_size: None,
            max_body_size: None,
            body_read_timeout: Some(Duration::from_secs(1)),
            send_timeout: Some(Duration::from_secs(1)),
            pipeline_flush: false,
            server: None,
            alt_svc: None,
            informational: true,
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
            handshake_timeout: Some(Duration::from_secs(1)),
            idle_timeout: Some(Duration::from_secs(30)),
            max_body_size: None,
            body_read_timeout: Some(Duration::from_secs(1)),
            send_timeout: Some(Duration::from_secs(1)),
            max_receiving_streams: 100,
            server: None,
            alt_svc: None,
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

/// `HTTP2-Settings` values an h2c fuzz input picks from (base64url SETTINGS payloads): none,
/// curl's, a frame size, and a header table size with a header list size. The server only
/// checks them, so their bytes are not worth fuzzing.
const SETTINGS: [&str; 4] = ["", "AAMAAABkAAQCAAAAAAIAAAAA", "AAUAAEAA", "AAEAAAAAAAYAEAAA"];

/// An `Upgrade: h2c` connection from a fuzz input: the first byte picks the mode (bit 0:
/// `Auto` or `Http2`), whether the client preface follows the request (bit 1), whether the
/// request has a body (bit 2) and its `HTTP2-Settings` (bits 3 and 4, see [`SETTINGS`]). The
/// rest are the client's HTTP/2 bytes.
pub(crate) fn upgrade_input(data: &[u8]) -> (HttpMode, Vec<u8>) {
    let (flags, http2) = data.split_first().map_or((0, data), |(&flags, rest)| (flags, rest));
    let mode = if flags & 1 == 0 {
        HttpMode::Auto
    } else {
        HttpMode::Http2
    };
    let (method, body) = if flags & 4 == 0 { ("GET", "") } else { ("POST", "hello") };
    let settings = SETTINGS[usize::from(flags >> 3) % SETTINGS.len()];
    let mut input = format!(
        "{method} /up HTTP/1.1\r\nhost: example\r\ncontent-length: {}\r\nconnection: Upgrade, HTTP2-Settings\r\n\
         upgrade: h2c\r\nhttp2-settings: {settings}\r\n\r\n{body}",
        body.len(),
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
    fn every_settings_value_is_valid() {
        for settings in SETTINGS {
            assert!(
                granian_http2::decode_settings(settings.as_bytes()).is_some(),
                "{settings}"
            );
        }
    }

    #[test]
    fn every_upgrade_layout_gets_101_then_settings() {
        // An empty SETTINGS frame after the preface, or nothing at all.
        let settings_frame = [0, 0, 0, 4, 0, 0, 0, 0, 0];
        for flags in 0..32u8 {
            let (mode, input) = upgrade_input(&[flags]);
            assert_eq!(upgrade_problem(&serve_bytes(mode, &input)), None, "{flags}");
            let mut data = vec![flags];
            data.extend_from_slice(&settings_frame);
            let (mode, input) = upgrade_input(&data);
            assert_eq!(upgrade_problem(&serve_bytes(mode, &input)), None, "{flags}");
        }
    }

    #[test]
    fn a_plain_answer_is_a_problem() {
        assert!(upgrade_problem(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_some());
        assert!(upgrade_problem(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\n\r\n").is_some());
    }
}
