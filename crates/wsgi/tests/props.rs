//! Environ building and status parsing: paths and headers survive the trip into CGI keys,
//! status lines parse back to what was written, and no input panics.

use std::fmt::Write;

use granian_wsgi::{cgi_headers, parse_status, path_info};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use proptest::collection::vec;
use proptest::prelude::*;

fn encode(input: &[u8]) -> String {
    let mut out = String::from("/");
    for byte in input {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(byte) {
            out.push(char::from(*byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn latin1_encode(text: &str) -> Vec<u8> {
    text.chars().map(|c| u8::try_from(c).expect("latin-1")).collect()
}

proptest! {
    #[test]
    fn path_info_gives_back_the_encoded_bytes(input in vec(any::<u8>(), 0..256)) {
        let mut expected = vec![b'/'];
        expected.extend(&input);
        prop_assert_eq!(latin1_encode(&path_info(&encode(&input))), expected);
    }

    #[test]
    fn repeated_headers_split_back(values in vec("[a-zA-Z0-9=/.;]{1,20}", 1..6), cookie in any::<bool>()) {
        let name = if cookie { "cookie" } else { "x-repeated" };
        let mut headers = HeaderMap::new();
        for value in &values {
            headers.append(HeaderName::from_static(name), HeaderValue::from_str(value).unwrap());
        }
        let cgi = cgi_headers(&headers, None);
        prop_assert_eq!(cgi.len(), 1);
        let (key, joined) = &cgi[0];
        prop_assert_eq!(key, if cookie { "HTTP_COOKIE" } else { "HTTP_X_REPEATED" });
        let separator = if cookie { "; " } else { "," };
        let split: Vec<&str> = joined.split(separator).collect();
        prop_assert_eq!(split, values.iter().map(String::as_str).collect::<Vec<_>>());
    }

    #[test]
    fn header_values_arrive_as_their_bytes(value in vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff], 0..64)) {
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("x-bytes"), HeaderValue::from_bytes(&value).unwrap());
        let cgi = cgi_headers(&headers, None);
        prop_assert_eq!(latin1_encode(&cgi[0].1), value);
    }

    #[test]
    fn status_lines_round_trip(code in 100u16..=999, reason in "[ -~\u{a0}-\u{ff}]{0,30}") {
        let (status, custom) = parse_status(&format!("{code} {reason}")).unwrap();
        prop_assert_eq!(status, StatusCode::from_u16(code).unwrap());
        let canonical = status.canonical_reason().is_some_and(|canonical| canonical == reason);
        match custom {
            None => prop_assert!(canonical),
            Some(bytes) => prop_assert_eq!(bytes.to_vec(), latin1_encode(&reason)),
        }
    }

    #[test]
    fn any_status_string_parses_or_errors(status in any::<String>()) {
        let _ = parse_status(&status);
    }
}
