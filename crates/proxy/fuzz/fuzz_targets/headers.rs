#![no_main]
// Any bytes as proxy header values from trusted peers, and as the text the parsers take: a
// value or nothing, never a panic. Whatever origin comes out has a well-formed root path.
use granian_proxy::{ProxySettings, TrustedProxies, parse_forwarded, parse_node};
use http::{HeaderMap, HeaderName, HeaderValue};

const NAMES: [&str; 5] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-prefix",
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_forwarded(&text);
    let _ = parse_node(&text);
    let _ = text.parse::<TrustedProxies>();
    let mut headers = HeaderMap::new();
    for (index, line) in data.split(|&byte| byte == b'\n').enumerate() {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(HeaderName::from_static(NAMES[index % NAMES.len()]), value);
        }
    }
    let settings = ProxySettings::new(Some("10.0.0.0/8".parse().unwrap()), Some("/app")).unwrap();
    for peer in [None, Some("10.1.2.3:80".parse().unwrap())] {
        let origin = settings.origin(&headers, peer).expect("the prefix is always reported");
        let root = origin.root_path().expect("the prefix is always reported");
        assert!(root.starts_with('/') && !root.ends_with('/') && root.ends_with("/app"));
    }
});
