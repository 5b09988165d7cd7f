//! Round trips through the `Forwarded` grammar and the node syntax, any input through the
//! parsers without a panic, and network matching against plain arithmetic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use granian_proxy::{ForwardedElement, TrustedProxies, parse_forwarded, parse_node};
use granian_serve::{ClientAddr, Scheme};
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
