#![no_main]
// Any bytes as proxy header values from trusted peers, and as the text the parsers take: a
// value or nothing, never a panic. Whatever origin comes out has a well-formed root path, and
// headers that were not named are never read.
use granian_proxy::{ProxyHeader, ProxySettings, TrustedProxies, forwarded_elements, parse_forwarded, parse_node};
use http::{HeaderName, HeaderValue, Request};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_forwarded(&text);
    let _ = forwarded_elements(data);
    let _ = parse_node(&text);
    let _ = text.parse::<TrustedProxies>();
    let _ = text.parse::<ProxyHeader>();
    // Each line under the next name: the proxy headers, then `Host`.
    let names: Vec<_> = ProxyHeader::ALL
        .map(ProxyHeader::name)
        .into_iter()
        .chain(["host"])
        .collect();
    let mut request = Request::new(());
    for (line, name) in data.split(|&byte| byte == b'\n').zip(names.iter().cycle()) {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            request.headers_mut().append(HeaderName::from_static(*name), value);
        }
    }
    let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap();
    let every = ProxySettings::new(
        Some(trusted.clone()),
        ProxyHeader::ALL.into_iter().collect(),
        Some("/app"),
    )
    .unwrap();
    let default = [ProxyHeader::XForwardedFor, ProxyHeader::XForwardedProto];
    let default = ProxySettings::new(Some(trusted), default.into_iter().collect(), Some("/app")).unwrap();
    for peer in [None, Some("10.1.2.3:80".parse().unwrap())] {
        for settings in [&every, &default] {
            let origin = settings.origin(&request, peer).expect("the prefix is always reported");
            let root = origin.root_path().expect("the prefix is always reported");
            assert!(root.starts_with('/') && !root.ends_with('/') && root.ends_with("/app"));
        }
        let origin = default.origin(&request, peer).expect("the prefix is always reported");
        assert!(origin.host.is_none() && origin.forwarded_prefix.is_none());
    }
});
