//! Round trips through the `Forwarded` grammar and the node syntax, any input through the
//! parsers and the layer without a panic, network matching against plain arithmetic, and the
//! walk over the hops: past trusted proxies to the first other hop, stopped by a malformed one.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use granian_proxy::{
    ForwardedElement, ProxyHeader, ProxySettings, TrustedProxies, forwarded_elements, parse_forwarded, parse_node,
};
use granian_serve::{ClientAddr, RequestOrigin, Scheme};
use http::{HeaderName, HeaderValue, Request};
use proptest::collection::vec;
use proptest::prelude::*;

fn client() -> impl Strategy<Value = ClientAddr> {
    prop_oneof![
        (any::<u32>(), any::<u16>())
            .prop_map(|(ip, port)| ClientAddr::Ip(SocketAddr::new(Ipv4Addr::from(ip).into(), port))),
        (any::<u128>(), any::<u16>())
            .prop_map(|(ip, port)| ClientAddr::Ip(SocketAddr::new(Ipv6Addr::from(ip).into(), port))),
        "_[A-Za-z0-9._-]{1,12}".prop_map(|name| ClientAddr::Name(name.into())),
        Just(ClientAddr::Name("unknown".into())),
    ]
}

fn element() -> impl Strategy<Value = ForwardedElement> {
    (
        proptest::option::of(client()),
        proptest::option::of(prop_oneof![Just(Scheme::Http), Just(Scheme::Https)]),
        proptest::option::of("[a-z0-9-]{1,10}(\\.[a-z0-9-]{1,10}){0,2}(:[0-9]{1,5})?"),
    )
        .prop_map(|(client, scheme, host)| ForwardedElement {
            client,
            scheme,
            host: host.map(Into::into),
        })
}

/// A quoted-string holding `text`, with some bytes needlessly escaped.
fn quote(text: &str, escape_all: bool) -> String {
    let mut quoted = String::from('"');
    for c in text.chars() {
        if escape_all || c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// How one element is written: parameter order, name case, quoting, spaces.
#[derive(Debug, Clone)]
#[expect(clippy::struct_excessive_bools, reason = "one flag per independent spelling choice")]
struct Spelling {
    reverse: bool,
    upper: bool,
    quote_all: bool,
    escape_all: bool,
    space: bool,
}

fn spelling() -> impl Strategy<Value = Spelling> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(reverse, upper, quote_all, escape_all, space)| Spelling {
            reverse,
            upper,
            quote_all,
            escape_all,
            space,
        })
}

fn write(element: &ForwardedElement, spelling: &Spelling) -> String {
    let value = |text: &str, needs_quotes: bool| {
        if needs_quotes || spelling.quote_all {
            quote(text, spelling.escape_all)
        } else {
            text.to_owned()
        }
    };
    let mut pairs = Vec::new();
    if let Some(client) = &element.client {
        // RFC 7239 §6: IPv6 in brackets; a port or brackets need a quoted-string.
        let node = match client {
            ClientAddr::Ip(addr) if addr.port() == 0 => match addr.ip() {
                IpAddr::V4(ip) => ip.to_string(),
                IpAddr::V6(ip) => format!("[{ip}]"),
            },
            other => other.to_string(),
        };
        let needs_quotes = node.contains([':', '[']);
        pairs.push(("for", value(&node, needs_quotes)));
    }
    if let Some(scheme) = element.scheme {
        pairs.push(("proto", value(scheme.as_str(), false)));
    }
    if let Some(host) = &element.host {
        pairs.push(("host", value(host, host.contains(':'))));
    }
    if spelling.reverse {
        pairs.reverse();
    }
    let separator = if spelling.space { " ; " } else { ";" };
    pairs
        .into_iter()
        .map(|(name, value)| {
            let name = if spelling.upper {
                name.to_uppercase()
            } else {
                name.to_owned()
            };
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join(separator)
}

proptest! {
    #[test]
    fn forwarded_round_trips(hops in vec((element(), spelling()), 1..6), space in any::<bool>()) {
        let hops: Vec<_> = hops
            .into_iter()
            .filter(|(element, _)| *element != ForwardedElement::default())
            .collect();
        prop_assume!(!hops.is_empty());
        let wire = hops
            .iter()
            .map(|(element, spelling)| write(element, spelling))
            .collect::<Vec<_>>()
            .join(if space { " , " } else { "," });
        let parsed = parse_forwarded(&wire);
        let expected: Vec<_> = hops.into_iter().map(|(element, _)| element).collect();
        prop_assert_eq!(parsed, Some(expected), "{}", wire);
    }

    #[test]
    fn nodes_round_trip(client in client()) {
        prop_assert_eq!(parse_node(&client.to_string()), Some(client));
    }

    #[test]
    fn parsers_take_any_input(text in "\\PC{0,64}", bytes in vec(any::<u8>(), 0..64)) {
        let _ = parse_forwarded(&text);
        let _ = parse_node(&text);
        let _ = text.parse::<TrustedProxies>();
        let lossy = String::from_utf8_lossy(&bytes);
        let _ = parse_forwarded(&lossy);
        let _ = parse_node(&lossy);
    }

    #[test]
    fn forwarded_grammar_noise(text in "[a-z=;,\" \\\\_:\\[\\]0-9.]{0,40}") {
        // A value parses to at least one element, or to nothing at all.
        if let Some(elements) = parse_forwarded(&text) {
            prop_assert!(!elements.is_empty());
        }
    }

    #[test]
    fn ipv4_networks_match_their_prefix(network in any::<u32>(), length in 0u8..=32, probe in any::<u32>()) {
        let mask = u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0);
        let network = network & mask;
        let trusted: TrustedProxies = format!("{}/{length}", Ipv4Addr::from(network)).parse().unwrap();
        prop_assert!(trusted.contains(Ipv4Addr::from(network).into()));
        prop_assert_eq!(trusted.contains(Ipv4Addr::from(probe).into()), probe & mask == network);
        // The same address reached over an IPv6 socket.
        prop_assert_eq!(trusted.contains(Ipv4Addr::from(probe).to_ipv6_mapped().into()), probe & mask == network);
    }

    #[test]
    fn ipv6_networks_match_their_prefix(network in any::<u128>(), length in 0u8..=128, probe in any::<u128>()) {
        let mask = u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
        let network = network & mask;
        let trusted: TrustedProxies = format!("{}/{length}", Ipv6Addr::from(network)).parse().unwrap();
        if Ipv6Addr::from(network).to_ipv4_mapped().is_none() {
            prop_assert!(trusted.contains(Ipv6Addr::from(network).into()));
        }
        let probe = Ipv6Addr::from(probe);
        // A mapped IPv4 probe is matched as IPv4, never against an IPv6 network.
        let expected = probe.to_ipv4_mapped().is_none() && u128::from(probe) & mask == network;
        prop_assert_eq!(trusted.contains(probe.into()), expected);
    }

    #[test]
    fn host_bits_are_refused(network in any::<u32>(), length in 0u8..32) {
        let mask = u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0);
        let parsed = format!("{}/{length}", Ipv4Addr::from(network)).parse::<TrustedProxies>();
        prop_assert_eq!(parsed.is_ok(), network & !mask == 0);
    }
}

// -- the walk over the hops -----------------------------------------------------------------

/// The proxies trusted in the walk tests.
const TRUSTED: &str = "10.0.0.0/8,fd00::/8";

fn trusted() -> TrustedProxies {
    TRUSTED.parse().unwrap()
}

fn ip_hop(ip: impl Strategy<Value = IpAddr>) -> impl Strategy<Value = ClientAddr> {
    (ip, prop_oneof![Just(0u16), any::<u16>()]).prop_map(|(ip, port)| ClientAddr::Ip(SocketAddr::new(ip, port)))
}

/// A proxy in [`TRUSTED`].
fn trusted_hop() -> impl Strategy<Value = ClientAddr> {
    ip_hop(prop_oneof![
        any::<[u8; 3]>().prop_map(|[a, b, c]| IpAddr::from([10, a, b, c])),
        any::<u128>().prop_map(|bits| IpAddr::from(Ipv6Addr::from(0xfd << 120 | bits >> 8))),
    ])
}

/// An address outside [`TRUSTED`], or a name.
fn untrusted_hop() -> impl Strategy<Value = ClientAddr> {
    prop_oneof![
        3 => ip_hop(any::<IpAddr>()).prop_filter("untrusted", |hop| match hop {
            ClientAddr::Ip(addr) => !trusted().contains(addr.ip()),
            ClientAddr::Name(_) => true,
        }),
        1 => "_[A-Za-z0-9._-]{1,8}|unknown".prop_map(|name| ClientAddr::Name(name.into())),
    ]
}

/// An entry as a proxy may write it in `X-Forwarded-For`: a bare IPv6 address without a port.
fn x_forwarded_for_entry(hop: &ClientAddr) -> String {
    match hop {
        ClientAddr::Ip(addr) if addr.port() == 0 => addr.ip().to_string(),
        other => other.to_string(),
    }
}

/// Text that is no node: a quote, a backslash, a semicolon or a space inside a word.
fn malformed_entry() -> impl Strategy<Value = String> {
    "[a-z0-9.:]{1,6}[\"\\\\; ][a-z0-9.:]{0,6}"
}

/// Anything a header line may hold but a comma, a quote and a backslash (which would change
/// where the next entry starts).
fn farther_entry() -> impl Strategy<Value = String> {
    "[ !#-+\\--\\[\\]-~]{0,16}"
}

/// `entries` as header lines: each line holds the entries up to a cut, joined by `sep`.
fn lines(entries: &[String], cuts: &[usize], sep: &str) -> Vec<String> {
    let mut cuts: Vec<_> = cuts.iter().map(|cut| cut % (entries.len() + 1)).collect();
    cuts.extend([0, entries.len()]);
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2)
        .map(|pair| entries[pair[0]..pair[1]].join(sep))
        .collect()
}

fn origin(name: &str, lines: &[String], read: &[ProxyHeader]) -> Option<RequestOrigin> {
    let mut request = Request::new(());
    let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
    for line in lines {
        request
            .headers_mut()
            .append(name.clone(), HeaderValue::from_str(line).unwrap());
    }
    let settings = ProxySettings::new(Some(trusted()), read.iter().copied().collect(), None).unwrap();
    settings.origin(&request, "10.9.9.9:4000".parse().ok())
}

fn unknown() -> ClientAddr {
    ClientAddr::Name("unknown".into())
}

const DEFAULT: &[ProxyHeader] = &[ProxyHeader::XForwardedFor, ProxyHeader::XForwardedProto];

proptest! {
    #[test]
    fn x_forwarded_for_yields_the_hop_before_the_trusted_ones(
        farther in vec(farther_entry(), 0..4),
        client in untrusted_hop(),
        proxies in vec(trusted_hop(), 0..6),
        cuts in vec(any::<usize>(), 0..4),
        sep in prop_oneof![Just(","), Just(", "), Just(" ,\t")],
    ) {
        let mut entries = farther;
        entries.push(x_forwarded_for_entry(&client));
        entries.extend(proxies.iter().map(x_forwarded_for_entry));
        let lines = lines(&entries, &cuts, sep);
        let seen = origin("x-forwarded-for", &lines, DEFAULT).and_then(|origin| origin.client);
        prop_assert_eq!(seen, Some(client), "{:?}", lines);
    }

    #[test]
    fn x_forwarded_for_of_trusted_hops_only_yields_the_farthest(
        proxies in vec(trusted_hop(), 1..6),
        cuts in vec(any::<usize>(), 0..4),
    ) {
        let entries: Vec<_> = proxies.iter().map(x_forwarded_for_entry).collect();
        let seen = origin("x-forwarded-for", &lines(&entries, &cuts, ","), DEFAULT).and_then(|origin| origin.client);
        prop_assert_eq!(seen, Some(proxies[0].clone()));
    }

    #[test]
    fn a_malformed_entry_stops_the_walk(
        farther in vec(farther_entry(), 0..4),
        malformed in malformed_entry(),
        proxies in vec(trusted_hop(), 0..6),
        cuts in vec(any::<usize>(), 0..4),
    ) {
        prop_assume!(parse_node(malformed.trim()).is_none());
        let mut entries = farther;
        entries.push(malformed);
        entries.extend(proxies.iter().map(x_forwarded_for_entry));
        let lines = lines(&entries, &cuts, ", ");
        let seen = origin("x-forwarded-for", &lines, DEFAULT).and_then(|origin| origin.client);
        // Never a trusted proxy, nor the peer: the client is unknown.
        prop_assert_eq!(seen, Some(unknown()), "{:?}", lines);
    }

    #[test]
    fn forwarded_yields_the_element_before_the_trusted_ones(
        farther in vec(farther_entry(), 0..3),
        client in (untrusted_hop(), element(), spelling()),
        proxies in vec((trusted_hop(), element(), spelling()), 0..5),
        cuts in vec(any::<usize>(), 0..4),
    ) {
        let with_client = |(hop, element, spelling): &(ClientAddr, ForwardedElement, Spelling)| {
            let element = ForwardedElement { client: Some(hop.clone()), ..element.clone() };
            (write(&element, spelling), element)
        };
        let (client_text, client) = with_client(&client);
        let mut entries = farther;
        entries.push(client_text);
        entries.extend(proxies.iter().map(|proxy| with_client(proxy).0));
        let lines = lines(&entries, &cuts, ", ");
        let seen = origin("forwarded", &lines, &[ProxyHeader::Forwarded]).unwrap_or_default();
        prop_assert_eq!(&seen.client, &client.client, "{:?}", lines);
        prop_assert_eq!(seen.scheme, client.scheme);
        prop_assert_eq!(&seen.host, &client.host);
        // Not named, the same header is not read at all.
        prop_assert_eq!(origin("forwarded", &lines, DEFAULT), None);
    }

    #[test]
    fn a_malformed_element_stops_the_walk(
        client in (untrusted_hop(), element(), spelling()),
        proxies in vec((trusted_hop(), spelling()), 0..5),
        malformed in prop_oneof![
            Just("for=\"unterminated".to_owned()),
            Just("for=[2001:db8::1]".to_owned()),
            Just("for=1.2.3.4;for=5.6.7.8".to_owned()),
            malformed_entry().prop_map(|text| format!("for={text}")),
        ],
    ) {
        prop_assume!(forwarded_elements(malformed.as_bytes()) == [None]);
        let (hop, element, spelling) = client;
        let element = ForwardedElement { client: Some(hop), ..element };
        let mut entries = vec![write(&element, &spelling), malformed];
        entries.extend(proxies.iter().map(|(hop, spelling)| {
            write(&ForwardedElement { client: Some(hop.clone()), ..ForwardedElement::default() }, spelling)
        }));
        // One line per element: an unterminated quote runs only to the end of its line.
        let seen = origin("forwarded", &entries, &[ProxyHeader::Forwarded]).unwrap_or_default();
        prop_assert_eq!(seen.client, Some(unknown()), "{:?}", entries);
        prop_assert_eq!((seen.scheme, seen.host), (None, None));
    }

    #[test]
    fn any_header_lines_through_the_layer(
        lines in vec((0usize..=ProxyHeader::ALL.len(), vec(any::<u8>(), 0..48)), 0..8),
        trust in prop_oneof![Just("*"), Just(TRUSTED), Just("")],
    ) {
        let mut request = Request::new(());
        for (header, bytes) in &lines {
            let _ = forwarded_elements(bytes);
            // The proxy headers, and `Host` past them.
            let name = ProxyHeader::ALL.get(*header).map_or("host", |header| header.name());
            if let Ok(value) = HeaderValue::from_bytes(bytes) {
                request.headers_mut().append(name, value);
            }
        }
        let trusted: TrustedProxies = trust.parse().unwrap();
        let every = ProxySettings::new(Some(trusted.clone()), ProxyHeader::ALL.into_iter().collect(), None).unwrap();
        let default = ProxySettings::new(Some(trusted), DEFAULT.iter().copied().collect(), None).unwrap();
        for peer in [None, "10.1.1.1:1".parse().ok(), "203.0.113.1:1".parse().ok()] {
            let _ = every.origin(&request, peer);
            if let Some(origin) = default.origin(&request, peer) {
                prop_assert_eq!(origin.host, None);
                prop_assert_eq!(origin.forwarded_prefix, None);
            }
        }
    }
}
