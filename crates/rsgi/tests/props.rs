//! Properties of what the RSGI scope and protocol hand across: path decoding round trips,
//! header text round trips, and the headers mapping agreeing with the headers received.

use std::fmt::Write as _;

use granian_rsgi::{RsgiHeaders, decode_path, header_text, response_head};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::collection::vec;
use proptest::prelude::*;
use pyo3::prelude::*;
use pyo3::types::PyList;

fn encode(text: &str, upper: bool) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            out.push(char::from(byte));
        } else if upper {
            let _ = write!(out, "%{byte:02X}");
        } else {
            let _ = write!(out, "%{byte:02x}");
        }
    }
    out
}

/// Header names from a small pool, so that lists repeat names often.
fn header_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["host", "accept", "x-multi", "set-cookie", "x-a", "content-type"])
}

fn header_value() -> impl Strategy<Value = String> {
    "[ -~]{0,24}".prop_map(|value| value.trim().to_owned())
}

proptest! {
    #[test]
    fn path_decoding_inverts_encoding(text in any::<String>(), upper in any::<bool>()) {
        let encoded = encode(&text, upper);
        prop_assert_eq!(decode_path(&encoded), text.as_str());
    }

    #[test]
    fn paths_without_escapes_are_kept(text in "[a-zA-Z0-9/._~-]{0,64}") {
        prop_assert_eq!(decode_path(&text), text.as_str());
    }

    #[test]
    fn decoding_any_target_never_grows_it(text in "[ -~]{0,128}") {
        prop_assert!(decode_path(&text).len() <= text.len());
    }

    #[test]
    fn header_text_is_latin1(bytes in vec(any::<u8>(), 0..64)) {
        let text = header_text(&bytes);
        let back: Vec<u8> = text.chars().map(|c| u8::try_from(u32::from(c)).unwrap()).collect();
        prop_assert_eq!(back, bytes);
    }

    #[test]
    fn headers_mapping_agrees_with_the_received_headers(
        pairs in vec((header_name(), header_value()), 0..12)
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in &pairs {
            map.append(HeaderName::from_static(name), HeaderValue::from_str(value).unwrap());
        }
        let headers = RsgiHeaders::new(map);
        Python::attach(|py| -> Result<(), TestCaseError> {
            let mut names: Vec<&str> = Vec::new();
            for (name, _) in &pairs {
                if !names.contains(name) {
                    names.push(name);
                }
            }
            // Each name once, in the order first received.
            prop_assert_eq!(headers.keys(), names.clone());
            prop_assert_eq!(headers.items(py).len(), pairs.len());
            prop_assert_eq!(headers.values(py).len(), pairs.len());
            for name in names {
                let expected: Vec<&str> =
                    pairs.iter().filter(|(n, _)| *n == name).map(|(_, v)| v.as_str()).collect();
                let all: Vec<String> = headers.get_all(py, name).iter().map(ToString::to_string).collect();
                prop_assert_eq!(&all, &expected);
                let upper = name.to_ascii_uppercase();
                let first = headers.get(py, &upper, None).map(|v| v.bind(py).to_string());
                prop_assert_eq!(first.as_deref(), expected.first().copied());
            }
            prop_assert!(headers.get(py, "x-never-sent", None).is_none());
            Ok(())
        })?;
    }

    #[test]
    fn response_headers_keep_every_value_in_order(
        pairs in vec((header_name(), header_value()), 0..12),
        status in 100i64..1000,
    ) {
        Python::attach(|py| -> Result<(), TestCaseError> {
            let list = PyList::new(py, pairs.iter().map(|(n, v)| (n.to_ascii_uppercase(), v.as_str()))).unwrap();
            let head = response_head(status, Some(list.as_any())).unwrap();
            prop_assert_eq!(i64::from(head.status().as_u16()), status);
            for (name, _) in &pairs {
                let expected: Vec<&str> =
                    pairs.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect();
                let sent: Vec<&str> = head.headers().get_all(*name).iter().map(|v| v.to_str().unwrap()).collect();
                prop_assert_eq!(sent, expected);
            }
            Ok(())
        })?;
    }
}
