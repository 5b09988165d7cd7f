//! Upgrade detection: `HTTP2-Settings` decodes what a client encodes; the upgrading request's
//! frames land right after the client's first frame, whatever the split of the input.

use granian_http2::{Injected, PREFACE, decode_settings, is_h2c_upgrade};
use proptest::collection::vec;
use proptest::prelude::*;
use tokio::io::AsyncReadExt;

/// base64url without padding, as clients write `HTTP2-Settings`.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().fold(0u32, |acc, &b| acc << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(word >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn upgrade_headers(connection: &str, upgrade: &str, settings: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("connection", connection.parse().unwrap());
    headers.insert("upgrade", upgrade.parse().unwrap());
    headers.insert("http2-settings", settings.parse().unwrap());
    headers
}

proptest! {
    #[test]
    fn http2_settings_round_trip(settings in vec((any::<u16>(), any::<u32>()), 0..8)) {
        let payload: Vec<u8> = settings
            .iter()
            .flat_map(|(id, value)| id.to_be_bytes().into_iter().chain(value.to_be_bytes()))
            .collect();
        prop_assert_eq!(decode_settings(base64url(&payload).as_bytes()), Some(settings));
    }

    #[test]
    fn truncated_settings_are_refused(settings in vec(any::<u8>(), 1..48).prop_filter("not whole settings", |b| b.len() % 6 != 0)) {
        prop_assert_eq!(decode_settings(base64url(&settings).as_bytes()), None);
    }

    #[test]
    fn upgrade_tokens_match_in_any_case_and_order(
        upper in any::<bool>(),
        swap in any::<bool>(),
        extra in prop::sample::select(vec!["", "keep-alive, ", "te, "]),
    ) {
        let (a, b) = if swap { ("HTTP2-Settings", "Upgrade") } else { ("Upgrade", "HTTP2-Settings") };
        let connection = format!("{extra}{a}, {b}");
        let connection = if upper { connection.to_uppercase() } else { connection.to_lowercase() };
        let upgrade = if upper { "H2C" } else { "h2c" };
        prop_assert!(is_h2c_upgrade(&upgrade_headers(&connection, upgrade, "AAMAAABk")));
        prop_assert!(!is_h2c_upgrade(&upgrade_headers(&connection, "h2", "AAMAAABk")));
        prop_assert!(!is_h2c_upgrade(&upgrade_headers(&extra.replace(", ", ""), upgrade, "AAMAAABk")));
    }

    #[test]
    fn injection_lands_after_the_first_frame(
        payload in vec(any::<u8>(), 0..64),
        tail in vec(any::<u8>(), 0..64),
        frames in vec(any::<u8>(), 1..32),
        split in 0usize..200,
    ) {
        let mut input = PREFACE.to_vec();
        input.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes()[1..]);
        input.extend_from_slice(&[4, 0, 0, 0, 0, 0]);
        input.extend_from_slice(&payload);
        let boundary = input.len();
        input.extend_from_slice(&tail);
        let mut expected = input[..boundary].to_vec();
        expected.extend_from_slice(&frames);
        expected.extend_from_slice(&tail);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let out = runtime.block_on(async {
            let (a, b) = input.split_at(split.min(input.len()));
            let mut io = Injected::new(a.chain(b), bytes::Bytes::from(frames.clone()));
            let mut out = Vec::new();
            io.read_to_end(&mut out).await.unwrap();
            out
        });
        prop_assert_eq!(out, expected);
    }
}
