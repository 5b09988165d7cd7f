//! Any header this crate writes, it parses back; any bytes at all give a header or an error.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use granian_proxyprotocol::{Addresses, Command, Parsed, ProxyHeader, TlsTlv, encode_v1, encode_v2, parse};
use proptest::collection::vec;
use proptest::prelude::*;

fn inet() -> impl Strategy<Value = Addresses> {
    prop_oneof![
        (any::<u32>(), any::<u32>(), any::<u16>(), any::<u16>()).prop_map(|(a, b, p, q)| Addresses::Inet {
            source: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), p),
            destination: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(b)), q),
        }),
        (any::<u128>(), any::<u128>(), any::<u16>(), any::<u16>()).prop_map(|(a, b, p, q)| Addresses::Inet {
            source: SocketAddr::new(IpAddr::V6(Ipv6Addr::from(a)), p),
            destination: SocketAddr::new(IpAddr::V6(Ipv6Addr::from(b)), q),
        }),
    ]
}

fn header() -> impl Strategy<Value = ProxyHeader> {
    (
        inet(),
        proptest::option::of((any::<u8>(), any::<u32>(), proptest::option::of("[A-Za-z0-9.]{0,12}"))),
        proptest::option::of("[a-z0-9.-]{1,40}"),
        proptest::option::of(vec(any::<u8>(), 0..10)),
    )
        .prop_map(|(addresses, tls, authority, alpn)| ProxyHeader {
            command: Command::Proxy,
            addresses,
            tls: tls.map(|(client, verify, version)| TlsTlv {
                client,
                verify,
                version,
            }),
            authority,
            alpn,
        })
}

proptest! {
    #[test]
    fn v2_round_trips(header in header(), rest in vec(any::<u8>(), 0..64)) {
        let wire = [encode_v2(&header), rest.clone()].concat();
        let Ok(Parsed::Complete(parsed, used)) = parse(&wire) else { panic!("no header") };
        prop_assert_eq!(parsed, header);
        prop_assert_eq!(&wire[used..], &rest[..]);
    }

    #[test]
    fn v1_round_trips(header in header(), rest in vec(any::<u8>(), 0..64)) {
        let wire = [encode_v1(&header), rest.clone()].concat();
        let Ok(Parsed::Complete(parsed, used)) = parse(&wire) else { panic!("no header") };
        // Version 1 carries the addresses only.
        prop_assert_eq!(parsed.addresses, header.addresses);
        prop_assert_eq!(&wire[used..], &rest[..]);
    }

    #[test]
    fn any_bytes_parse_or_fail(bytes in vec(any::<u8>(), 0..300)) {
        if let Ok(Parsed::Complete(_, used)) = parse(&bytes) {
            prop_assert!(used <= bytes.len());
        }
    }

    #[test]
    fn every_prefix_of_a_header_is_incomplete(header in header()) {
        let wire = encode_v2(&header);
        for cut in 0..wire.len() {
            prop_assert_eq!(parse(&wire[..cut]), Ok(Parsed::Incomplete));
        }
    }
}
