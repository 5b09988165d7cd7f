//! Properties of the websocket handshake: any well-formed key is accepted and answered, no
//! header value a client sends makes recognising a handshake or negotiating permessage-deflate
//! panic, and every accepted offer is answered with a header value the offer allowed.

use granian_websocket::{PerMessageDeflate, accept_key, handshake, is_valid_key};
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
        extensions in vec(any::<u8>(), 0..64),
    ) {
        let mut request = Request::builder().method(Method::GET).version(Version::HTTP_11).uri("/");
        for (name, value) in [
            ("upgrade", upgrade),
            ("connection", connection),
            ("sec-websocket-key", key),
            ("sec-websocket-version", version),
            ("sec-websocket-protocol", protocols),
            ("sec-websocket-extensions", extensions),
        ] {
            if let Ok(value) = http::HeaderValue::from_bytes(&value) {
                request = request.header(name, value);
            }
        }
        let mut request = request.body(()).unwrap();
        if let Ok(Some(handshake)) = handshake(&mut request) {
            let limits = granian_websocket::WebsocketLimits {
                max_message_size: 1 << 20,
                ping_interval: None,
                ping_timeout: std::time::Duration::from_secs(20),
                close_timeout: granian_websocket::WebsocketLimits::CLOSE_TIMEOUT,
                send_timeout: None,
                deflate: true,
            };
            let _ = handshake.accept(None, http::HeaderMap::new(), limits);
        }
    }

    #[test]
    fn any_extension_offer_never_panics(values in vec(vec(any::<u8>(), 0..96), 0..4)) {
        let _ = PerMessageDeflate::negotiate(values.iter().map(Vec::as_slice));
    }

    #[test]
    fn permessage_deflate_offers_are_answered_within_what_they_allow(
        params in vec(
            prop_oneof![
                Just("server_no_context_takeover".to_owned()),
                Just("client_no_context_takeover".to_owned()),
                Just("client_max_window_bits".to_owned()),
                (0u8..20).prop_map(|bits| format!("client_max_window_bits={bits}")),
                (0u8..20).prop_map(|bits| format!("server_max_window_bits={bits}")),
                (0u8..20).prop_map(|bits| format!("server_max_window_bits=\"{bits}\"")),
                "[a-z_=\" ]{0,12}",
            ],
            0..5,
        ),
    ) {
        let offer = std::iter::once("permessage-deflate".to_owned()).chain(params).collect::<Vec<_>>().join("; ");
        let Some(answer) = PerMessageDeflate::negotiate([offer.as_bytes()]) else {
            return Ok(());
        };
        let text = answer.to_string();
        prop_assert!(text.starts_with("permessage-deflate"));
        prop_assert!(http::HeaderValue::from_str(&text).is_ok());
        // Each parameter of the answer was in the offer (RFC 7692 §7.1).
        for param in text.split("; ").skip(1) {
            let name = param.split('=').next().unwrap_or_default();
            prop_assert!(offer.contains(name), "{} not offered in {}", name, offer);
        }
        prop_assert!(answer.server_max_window_bits.is_none_or(|bits| bits == 15));
    }
}
