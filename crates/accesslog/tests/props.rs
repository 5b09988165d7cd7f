//! Any format string either compiles or is refused with an error; a compiled one renders any
//! record without panicking.

use granian_accesslog::{Format, Record};
use proptest::prelude::*;

fn record() -> impl Strategy<Value = Record> {
    (
        proptest::option::of(".{0,20}"),
        any::<f64>(),
        any::<u16>(),
        ".{0,20}",
        any::<u64>(),
        proptest::collection::vec(proptest::option::of(".{0,10}"), 0..3),
    )
        .prop_map(|(addr, dt_ms, status, path, bytes_sent, headers)| Record {
            addr,
            time: "2024-01-31 12:00:00 +0000".to_owned(),
            dt_ms,
            status,
            path,
            query_string: String::new(),
            method: "GET".to_owned(),
            scheme: "http",
            protocol: "HTTP/1.1",
            bytes_sent,
            request_headers: headers.clone(),
            response_headers: headers,
        })
}

/// Strings built mostly of format syntax, so that many of them compile.
fn template() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("%".to_owned()),
        Just("%%".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("%(status)".to_owned()),
        Just("%(dt_ms)".to_owned()),
        Just("%(path)".to_owned()),
        Just("%(header{User-Agent})".to_owned()),
        Just("%(response_header{x})".to_owned()),
        "[-0+ #]{0,3}[0-9]{0,4}(\\.[0-9]{0,3})?[hlL]?[sdiufFxr*]?",
        ".{0,4}",
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn compiles_or_errors_never_panics(text in template(), json in any::<bool>(), record in record()) {
        if let Ok(format) = Format::new(&text, json) {
            let line = format.render(&record);
            if json {
                prop_assert!(serde_json::from_str::<serde_json::Value>(&line).is_ok(), "{line}");
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = Format::new(&text, false);
    }

    #[test]
    fn literal_text_round_trips(text in "[^%]{0,40}") {
        let format = Format::new(&text, false).unwrap();
        prop_assert_eq!(format.render(&Record::default()), text);
    }
}
