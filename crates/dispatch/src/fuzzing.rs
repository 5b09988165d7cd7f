//! Drives one connection from raw bytes in any [`HttpMode`], for fuzz targets and property
//! tests: whatever the input, the server answers, closes, or both, within a bounded time.

use std::sync::Arc;

use granian_http1::fuzzing::{Echo, drive, limits};

use granian_http2::Http2Limits;

use crate::{HttpMode, Protocols, serve};

/// The mode a fuzz input selects with its first byte.
#[must_use]
pub fn mode_for(selector: u8) -> HttpMode {
    match selector % 3 {
        0 => HttpMode::Auto,
        1 => HttpMode::Http1,
        _ => HttpMode::Http2,
    }
}

/// Feed `input` to a fresh connection served by [`Echo`] in `mode` and return every byte the
/// server wrote before closing. Panics on a hang.
#[must_use]
pub fn serve_bytes(mode: HttpMode, input: &[u8]) -> Vec<u8> {
    drive(input, move |server, conn, watch| async move {
        let protocols = Protocols {
            mode,
            http1: limits(),
            http2: Arc::new(Http2Limits {
                keep_alive_interval: None,
                ..Http2Limits::default()
            }),
        };
        serve(server, Echo, conn, &protocols, watch).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use granian_http2::PREFACE;

    const UPGRADE: &[u8] = b"POST /up HTTP/1.1\r\nhost: example\r\ncontent-length: 5\r\n\
connection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\nhello";

    fn client_preface() -> Vec<u8> {
        let mut bytes = PREFACE.to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // empty SETTINGS
        bytes
    }

    /// (type, flags, stream, payload) of every frame in `bytes`.
    fn frames(mut bytes: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
        let mut out = Vec::new();
        while bytes.len() >= 9 {
            let length = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
            let stream = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff;
            let end = (9 + length).min(bytes.len());
            out.push((bytes[3], bytes[4], stream, bytes[9..end].to_vec()));
            bytes = &bytes[end..];
        }
        out
    }

    #[test]
    fn upgrade_answers_the_request_on_stream_one() {
        for mode in [HttpMode::Auto, HttpMode::Http2] {
            let mut input = UPGRADE.to_vec();
            input.extend_from_slice(&client_preface());
            let out = serve_bytes(mode, &input);
            let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").expect("a 101 head") + 4;
            let head = String::from_utf8_lossy(&out[..head_end]).to_lowercase();
            assert!(head.starts_with("http/1.1 101 switching protocols\r\n"), "{head}");
            assert!(head.contains("upgrade: h2c\r\n"), "{head}");
            let frames = frames(&out[head_end..]);
            assert_eq!(frames[0].0, 4, "server preface is SETTINGS");
            let data: Vec<u8> = frames
                .iter()
                .filter(|f| f.0 == 0 && f.2 == 1)
                .flat_map(|f| f.3.clone())
                .collect();
            assert_eq!(data, b"hello", "the echoed upgrade body on stream 1");
            assert!(
                frames.iter().any(|f| f.0 == 1 && f.2 == 1),
                "response HEADERS on stream 1"
            );
        }
    }

    #[test]
    fn plain_http1_depends_on_the_mode() {
        let request = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n";
        assert!(serve_bytes(HttpMode::Auto, request).starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(serve_bytes(HttpMode::Http1, request).starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(serve_bytes(HttpMode::Http2, request).starts_with(b"HTTP/1.1 505 "));
    }

    #[test]
    fn http1_mode_ignores_h2c_upgrades() {
        let out = serve_bytes(HttpMode::Http1, UPGRADE);
        assert!(
            out.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert!(out.ends_with(b"hello"));
    }

    #[test]
    fn invalid_settings_header_is_served_as_http1() {
        let request = String::from_utf8_lossy(UPGRADE).replace("AAMAAABkAAQCAAAAAAIAAAAA", "!!");
        let out = serve_bytes(HttpMode::Auto, request.as_bytes());
        assert!(
            out.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }

    #[test]
    fn prior_knowledge_gets_settings() {
        for mode in [HttpMode::Auto, HttpMode::Http2] {
            let out = serve_bytes(mode, &client_preface());
            assert_eq!(frames(&out).first().map(|f| f.0), Some(4));
        }
    }
}
