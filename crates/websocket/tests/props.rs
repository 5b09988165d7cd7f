//! Properties of the websocket handshake: any well-formed key is accepted and answered, and no
//! header value a client sends makes recognising a handshake panic.

use granian_websocket::{accept_key, handshake, is_valid_key};
use http::{Method, Request, Version};
use proptest::collection::vec;
use proptest::prelude::*;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding, enough for the tests.
fn base64(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let bytes = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(bytes[0]) << 16 | u32::from(bytes[1]) << 8 | u32::from(bytes[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> shift) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

proptest! {
    #[test]
    fn sixteen_byte_keys_are_valid_and_answered(key in vec(any::<u8>(), 16)) {
        let encoded = base64(&key);
        prop_assert!(is_valid_key(encoded.as_bytes()));
        let accept = accept_key(encoded.as_bytes());
        prop_assert_eq!(accept.len(), 28);
        prop_assert!(accept.ends_with('='));
    }

    #[test]
    fn other_lengths_are_refused(key in vec(any::<u8>(), 0..40)) {
        prop_assume!(key.len() != 16);
        prop_assert!(!is_valid_key(base64(&key).as_bytes()));
    }

    #[test]
    fn arbitrary_headers_never_panic(
        upgrade in vec(any::<u8>(), 0..32),
        connection in vec(any::<u8>(), 0..32),
        key in vec(any::<u8>(), 0..32),
        version in vec(any::<u8>(), 0..8),
        protocols in vec(any::<u8>(), 0..64),
    ) {
        let mut request = Request::builder().method(Method::GET).version(Version::HTTP_11).uri("/");
        for (name, value) in [
            ("upgrade", upgrade),
            ("connection", connection),
            ("sec-websocket-key", key),
            ("sec-websocket-version", version),
            ("sec-websocket-protocol", protocols),
        ] {
            if let Ok(value) = http::HeaderValue::from_bytes(&value) {
                request = request.header(name, value);
            }
        }
        let mut request = request.body(()).unwrap();
        let _ = handshake(&mut request);
    }
}
