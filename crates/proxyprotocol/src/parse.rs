use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::{Addresses, Command, Error, ProxyHeader, TlsTlv};

/// The 12 bytes every version 2 header starts with.
pub const SIGNATURE_V2: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The longest version 1 header, CRLF included (`proxy-protocol.txt` §2.1).
pub const MAX_V1_LEN: usize = 107;

const V1_PREFIX: &[u8] = b"PROXY ";
const V2_FIXED: usize = 16;

const TLV_ALPN: u8 = 0x01;
const TLV_AUTHORITY: u8 = 0x02;
const TLV_SSL: u8 = 0x20;
const SUBTLV_SSL_VERSION: u8 = 0x21;
const UNIX_PATH: usize = 108;

/// The outcome of [`parse`] on the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole header, and how many bytes it took: what follows is the relayed connection.
    Complete(ProxyHeader, usize),
    /// A valid beginning: read more and parse again.
    Incomplete,
}

/// Parse the PROXY header at the start of `buf`, of either version.
pub fn parse(buf: &[u8]) -> Result<Parsed, Error> {
    match buf.first() {
        None => Ok(Parsed::Incomplete),
        Some(b'P') => parse_v1(buf),
        Some(b'\r') => parse_v2(buf),
        Some(_) => Err(Error::Missing),
    }
}

fn starts_like(buf: &[u8], prefix: &[u8]) -> bool {
    let n = buf.len().min(prefix.len());
    buf[..n] == prefix[..n]
}

fn parse_v1(buf: &[u8]) -> Result<Parsed, Error> {
    if !starts_like(buf, V1_PREFIX) {
        return Err(Error::Missing);
    }
    let window = &buf[..buf.len().min(MAX_V1_LEN)];
    let Some(end) = window.windows(2).position(|pair| pair == b"\r\n") else {
        return if buf.len() >= MAX_V1_LEN {
            Err(Error::TooLong)
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let line = std::str::from_utf8(&buf[V1_PREFIX.len()..end]).map_err(|_| Error::MalformedV1("not ASCII"))?;
    let mut fields = line.split(' ');
    let addresses = match fields.next() {
        // §2.1: after UNKNOWN the receiver ignores the rest of the line.
        Some("UNKNOWN") => Addresses::Unspecified,
        Some(family @ ("TCP4" | "TCP6")) => {
            let parts: Vec<&str> = fields.collect();
            let [source, destination, source_port, destination_port] = parts[..] else {
                return Err(Error::MalformedV1("expected two addresses and two ports"));
            };
            let v6 = family == "TCP6";
            Addresses::Inet {
                source: SocketAddr::new(v1_address(source, v6)?, v1_port(source_port)?),
                destination: SocketAddr::new(v1_address(destination, v6)?, v1_port(destination_port)?),
            }
        }
        _ => return Err(Error::MalformedV1("unknown protocol family")),
    };
    let header = ProxyHeader {
        command: Command::Proxy,
        addresses,
        tls: None,
        authority: None,
        alpn: None,
    };
    Ok(Parsed::Complete(header, end + 2))
}

fn v1_address(text: &str, v6: bool) -> Result<IpAddr, Error> {
    let address = if v6 {
        text.parse::<Ipv6Addr>().map(IpAddr::V6)
    } else {
        text.parse::<Ipv4Addr>().map(IpAddr::V4)
    };
    address.map_err(|_| Error::MalformedV1("bad address"))
}

fn v1_port(text: &str) -> Result<u16, Error> {
    // Decimal digits only: `u16::from_str` would also take a sign.
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(Error::MalformedV1("bad port"));
    }
    text.parse().map_err(|_| Error::MalformedV1("bad port"))
}

fn parse_v2(buf: &[u8]) -> Result<Parsed, Error> {
    if !starts_like(buf, &SIGNATURE_V2) {
        return Err(Error::Missing);
    }
    if buf.len() < V2_FIXED {
        return Ok(Parsed::Incomplete);
    }
    let version_command = buf[12];
    if version_command >> 4 != 2 {
        return Err(Error::MalformedV2("version is not 2"));
    }
    let command = match version_command & 0x0f {
        0 => Command::Local,
        1 => Command::Proxy,
        _ => return Err(Error::MalformedV2("unknown command")),
    };
    let family = buf[13];
    let length = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let total = V2_FIXED + length;
    if buf.len() < total {
        return Ok(Parsed::Incomplete);
    }
    let block = &buf[V2_FIXED..total];
    let (addresses, used) = v2_addresses(family, block)?;
    let mut header = ProxyHeader {
        command,
        addresses,
        tls: None,
        authority: None,
        alpn: None,
    };
    read_tlvs(&block[used..], &mut header)?;
    if command == Command::Local {
        // §2.2: a LOCAL connection is the balancer's own; its address block is discarded.
        header.addresses = Addresses::Unspecified;
    }
    Ok(Parsed::Complete(header, total))
}

fn v2_addresses(family: u8, block: &[u8]) -> Result<(Addresses, usize), Error> {
    let transport = family & 0x0f;
    if transport > 2 {
        return Err(Error::MalformedV2("unknown transport"));
    }
    let need = |size: usize| {
        if block.len() < size {
            Err(Error::MalformedV2("address block too short"))
        } else {
            Ok(size)
        }
    };
    match family >> 4 {
        0 => Ok((Addresses::Unspecified, 0)),
        1 => {
            let used = need(12)?;
            let source = Ipv4Addr::new(block[0], block[1], block[2], block[3]);
            let destination = Ipv4Addr::new(block[4], block[5], block[6], block[7]);
            let addresses = Addresses::Inet {
                source: SocketAddr::new(IpAddr::V4(source), u16::from_be_bytes([block[8], block[9]])),
                destination: SocketAddr::new(IpAddr::V4(destination), u16::from_be_bytes([block[10], block[11]])),
            };
            Ok((addresses, used))
        }
        2 => {
            let used = need(36)?;
            let octets = |range: std::ops::Range<usize>| -> [u8; 16] {
                let mut out = [0u8; 16];
                out.copy_from_slice(&block[range]);
                out
            };
            let addresses = Addresses::Inet {
                source: SocketAddr::new(
                    IpAddr::V6(Ipv6Addr::from(octets(0..16))),
                    u16::from_be_bytes([block[32], block[33]]),
                ),
                destination: SocketAddr::new(
                    IpAddr::V6(Ipv6Addr::from(octets(16..32))),
                    u16::from_be_bytes([block[34], block[35]]),
                ),
            };
            Ok((addresses, used))
        }
        3 => {
            let used = need(2 * UNIX_PATH)?;
            let path = |bytes: &[u8]| {
                bytes
                    .iter()
                    .take_while(|&&byte| byte != 0)
                    .copied()
                    .collect::<Vec<u8>>()
            };
            let addresses = Addresses::Unix {
                source: path(&block[..UNIX_PATH]),
                destination: path(&block[UNIX_PATH..2 * UNIX_PATH]),
            };
            Ok((addresses, used))
        }
        _ => Err(Error::MalformedV2("unknown address family")),
    }
}

/// Walk `tlvs`, yielding each (type, value); a TLV running past the end is an error.
fn each_tlv(mut tlvs: &[u8], mut visit: impl FnMut(u8, &[u8]) -> Result<(), Error>) -> Result<(), Error> {
    while !tlvs.is_empty() {
        if tlvs.len() < 3 {
            return Err(Error::MalformedTlv);
        }
        let kind = tlvs[0];
        let length = usize::from(u16::from_be_bytes([tlvs[1], tlvs[2]]));
        let value = tlvs.get(3..3 + length).ok_or(Error::MalformedTlv)?;
        visit(kind, value)?;
        tlvs = &tlvs[3 + length..];
    }
    Ok(())
}

fn read_tlvs(block: &[u8], header: &mut ProxyHeader) -> Result<(), Error> {
    each_tlv(block, |kind, value| {
        match kind {
            TLV_ALPN => header.alpn = Some(value.to_vec()),
            TLV_AUTHORITY => header.authority = Some(String::from_utf8_lossy(value).into_owned()),
            TLV_SSL => {
                if value.len() < 5 {
                    return Err(Error::MalformedTlv);
                }
                let mut tls = TlsTlv {
                    client: value[0],
                    verify: u32::from_be_bytes([value[1], value[2], value[3], value[4]]),
                    version: None,
                };
                each_tlv(&value[5..], |sub, sub_value| {
                    if sub == SUBTLV_SSL_VERSION {
                        tls.version = Some(String::from_utf8_lossy(sub_value).into_owned());
                    }
                    Ok(())
                })?;
                header.tls = Some(tls);
            }
            // CRC32C, NOOP, UNIQUE_ID, NETNS and the rest: nothing a server acts on.
            _ => {}
        }
        Ok(())
    })
}

/// A version 1 header for `header`'s addresses (internet addresses of one family, or
/// `UNKNOWN`); version 1 has no LOCAL command, no Unix addresses and no TLVs.
#[must_use]
pub fn encode_v1(header: &ProxyHeader) -> Vec<u8> {
    match header.addresses {
        Addresses::Inet { source, destination } if source.is_ipv4() == destination.is_ipv4() => {
            let family = if source.is_ipv4() { "TCP4" } else { "TCP6" };
            format!(
                "PROXY {family} {} {} {} {}\r\n",
                source.ip(),
                destination.ip(),
                source.port(),
                destination.port()
            )
            .into_bytes()
        }
        _ => b"PROXY UNKNOWN\r\n".to_vec(),
    }
}

/// A version 2 header for `header` (TCP addresses), with its TLS, authority and ALPN TLVs.
#[must_use]
pub fn encode_v2(header: &ProxyHeader) -> Vec<u8> {
    let mut block = Vec::new();
    let family = match &header.addresses {
        Addresses::Unspecified => 0x00,
        Addresses::Inet { source, destination } => match (source.ip(), destination.ip()) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                block.extend_from_slice(&src.octets());
                block.extend_from_slice(&dst.octets());
                block.extend_from_slice(&source.port().to_be_bytes());
                block.extend_from_slice(&destination.port().to_be_bytes());
                0x11
            }
            (src, dst) => {
                block.extend_from_slice(&to_v6(src).octets());
                block.extend_from_slice(&to_v6(dst).octets());
                block.extend_from_slice(&source.port().to_be_bytes());
                block.extend_from_slice(&destination.port().to_be_bytes());
                0x21
            }
        },
        Addresses::Unix { source, destination } => {
            for path in [source, destination] {
                let mut field = [0u8; UNIX_PATH];
                let n = path.len().min(UNIX_PATH);
                field[..n].copy_from_slice(&path[..n]);
                block.extend_from_slice(&field);
            }
            0x31
        }
    };
    if let Some(alpn) = &header.alpn {
        put_tlv(&mut block, TLV_ALPN, alpn);
    }
    if let Some(authority) = &header.authority {
        put_tlv(&mut block, TLV_AUTHORITY, authority.as_bytes());
    }
    if let Some(tls) = &header.tls {
        let mut value = vec![tls.client];
        value.extend_from_slice(&tls.verify.to_be_bytes());
        if let Some(version) = &tls.version {
            put_tlv(&mut value, SUBTLV_SSL_VERSION, version.as_bytes());
        }
        put_tlv(&mut block, TLV_SSL, &value);
    }
    let command = match header.command {
        Command::Local => 0x20,
        Command::Proxy => 0x21,
    };
    let mut out = SIGNATURE_V2.to_vec();
    out.push(command);
    out.push(family);
    out.extend_from_slice(&u16::try_from(block.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(&block);
    out
}

fn to_v6(address: IpAddr) -> Ipv6Addr {
    match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn put_tlv(out: &mut Vec<u8>, kind: u8, value: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> (ProxyHeader, usize) {
        match parse(buf).unwrap() {
            Parsed::Complete(header, used) => (header, used),
            Parsed::Incomplete => panic!("incomplete"),
        }
    }

    #[test]
    fn v1_tcp4() {
        let (header, used) = complete(b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /");
        assert_eq!(used, 47);
        assert_eq!(header.client(), Some("192.168.0.1:56324".parse().unwrap()));
        assert!(!header.client_tls());
    }

    #[test]
    fn v1_tcp6_and_unknown() {
        let (header, _) = complete(b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n");
        assert_eq!(header.client(), Some("[2001:db8::1]:1".parse().unwrap()));
        let (header, used) = complete(b"PROXY UNKNOWN ffff::1 whatever\r\nrest");
        assert_eq!(header.addresses, Addresses::Unspecified);
        assert_eq!(used, 32);
        assert_eq!(header.client(), None);
    }

    #[test]
    fn v1_refusals() {
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1 70000\r\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
        ] {
            assert!(matches!(parse(bad), Err(Error::MalformedV1(_))), "{bad:?}");
        }
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Err(Error::Missing));
        assert_eq!(parse(b"PRI * HTTP/2.0"), Err(Error::Missing));
        assert_eq!(parse(&[b'P'; 200][..]), Err(Error::Missing));
        let long = [&b"PROXY UNKNOWN "[..], &[b'x'; 120][..]].concat();
        assert_eq!(parse(&long), Err(Error::TooLong));
        assert_eq!(parse(b"PROXY TCP4 1.2"), Ok(Parsed::Incomplete));
        assert_eq!(parse(b"PRO"), Ok(Parsed::Incomplete));
    }

    #[test]
    fn v2_round_trip_with_tlvs() {
        let header = ProxyHeader {
            command: Command::Proxy,
            addresses: Addresses::Inet {
                source: "10.1.2.3:4000".parse().unwrap(),
                destination: "10.0.0.1:443".parse().unwrap(),
            },
            tls: Some(TlsTlv {
                client: TlsTlv::CLIENT_SSL,
                verify: 0,
                version: Some("TLSv1.3".into()),
            }),
            authority: Some("example.com".into()),
            alpn: Some(b"h2".to_vec()),
        };
        let wire = [encode_v2(&header), b"GET / HTTP/1.1\r\n".to_vec()].concat();
        let (parsed, used) = complete(&wire);
        assert_eq!(parsed, header);
        assert_eq!(&wire[used..], b"GET / HTTP/1.1\r\n");
        assert!(parsed.client_tls());
    }

    #[test]
    fn v2_local_discards_addresses() {
        let header = ProxyHeader {
            command: Command::Local,
            addresses: Addresses::Inet {
                source: "10.1.2.3:4000".parse().unwrap(),
                destination: "10.0.0.1:443".parse().unwrap(),
            },
            tls: None,
            authority: None,
            alpn: None,
        };
        let (parsed, _) = complete(&encode_v2(&header));
        assert_eq!(parsed.command, Command::Local);
        assert_eq!(parsed.addresses, Addresses::Unspecified);
        assert_eq!(parsed.client(), None);
    }

    #[test]
    fn v2_refusals() {
        let mut wire = encode_v2(&ProxyHeader {
            command: Command::Proxy,
            addresses: Addresses::Inet {
                source: "1.2.3.4:1".parse().unwrap(),
                destination: "5.6.7.8:2".parse().unwrap(),
            },
            tls: None,
            authority: None,
            alpn: None,
        });
        for cut in 0..wire.len() {
            assert_eq!(parse(&wire[..cut]), Ok(Parsed::Incomplete), "cut at {cut}");
        }
        let mut bad_version = wire.clone();
        bad_version[12] = 0x11;
        assert!(matches!(parse(&bad_version), Err(Error::MalformedV2(_))));
        let mut bad_family = wire.clone();
        bad_family[13] = 0x41;
        assert!(matches!(parse(&bad_family), Err(Error::MalformedV2(_))));
        // A length too short for the family's addresses.
        wire[15] = 4;
        wire.truncate(20);
        assert!(matches!(parse(&wire), Err(Error::MalformedV2(_))));
        // A TLV running past the end.
        let mut tlv = SIGNATURE_V2.to_vec();
        tlv.extend_from_slice(&[0x21, 0x00, 0x00, 0x04, 0x02, 0x00, 0x09, b'x']);
        assert_eq!(parse(&tlv), Err(Error::MalformedTlv));
        assert_eq!(parse(b"\r\n\r\nGET"), Err(Error::Missing));
    }
}
