use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::Error;

/// The peers whose proxy headers are believed: IP addresses and networks, or everyone.
///
/// Parsed from a comma-separated list such as `127.0.0.1,::1,10.0.0.0/8`; `*` trusts every
/// peer. An IPv4 address reached over an IPv6 socket (`::ffff:10.0.0.1`) matches as the IPv4
/// address it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    everyone: bool,
    networks: Vec<Network>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    address: IpAddr,
    length: u8,
}

impl Network {
    fn contains(self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.length)).unwrap_or(0);
                u32::from(network) == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.length)).unwrap_or(0);
                u128::from(network) == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = Error;

    fn from_str(entry: &str) -> Result<Self, Error> {
        let (address, length) = match entry.split_once('/') {
            Some((address, length)) => (address, Some(length)),
            None => (entry, None),
        };
        let address: IpAddr = address.parse().map_err(|_| Error::BadAddress(entry.to_owned()))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let length = match length {
            None => bits,
            Some(length) => {
                if length.is_empty() || !length.bytes().all(|byte| byte.is_ascii_digit()) {
                    return Err(Error::BadAddress(entry.to_owned()));
                }
                match length.parse::<u8>() {
                    Ok(length) if length <= bits => length,
                    _ => return Err(Error::BadPrefixLength(entry.to_owned())),
                }
            }
        };
        let network = Self { address, length };
        if !network.contains(address) {
            return Err(Error::HostBits(entry.to_owned()));
        }
        Ok(network)
    }
}

impl TrustedProxies {
    /// Trust every peer.
    #[must_use]
    pub fn everyone() -> Self {
        Self {
            everyone: true,
            networks: Vec::new(),
        }
    }

    /// Whether a peer at `ip` is trusted.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        if self.everyone {
            return true;
        }
        let ip = ip.to_canonical();
        self.networks.iter().any(|network| network.contains(ip))
    }

    /// Whether every peer is trusted (`*`).
    #[must_use]
    pub fn trusts_everyone(&self) -> bool {
        self.everyone
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bits = if self.address.is_ipv4() { 32 } else { 128 };
        if self.length == bits {
            write!(f, "{}", self.address)
        } else {
            write!(f, "{}/{}", self.address, self.length)
        }
    }
}

/// The list as it was understood, in the spelling [`FromStr`] reads: `*` first when everyone
/// is trusted, then each address or network in its canonical form (a network as long as its
/// address is written as the bare address), comma-separated.
impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        if self.everyone {
            f.write_str("*")?;
            separator = ",";
        }
        for network in &self.networks {
            write!(f, "{separator}{network}")?;
            separator = ",";
        }
        Ok(())
    }
}

/// A comma-separated list of IP addresses, networks (`address/length`) and `*`. Spaces around
/// entries and empty entries are ignored; an empty list trusts no IP peer.
impl FromStr for TrustedProxies {
    type Err = Error;

    fn from_str(list: &str) -> Result<Self, Error> {
        let mut trusted = Self::default();
        for entry in list.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            if entry == "*" {
                trusted.everyone = true;
            } else {
                trusted.networks.push(entry.parse()?);
            }
        }
        Ok(trusted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(list: &str) -> TrustedProxies {
        list.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn displays_as_understood() {
        let list = trusted(" 127.0.0.1 , 0:0:0:0:0:0:0:1,10.0.0.0/8,,*,192.168.1.0/24,10.1.1.1/32");
        assert_eq!(list.to_string(), "*,127.0.0.1,::1,10.0.0.0/8,192.168.1.0/24,10.1.1.1");
        assert_eq!(trusted(&list.to_string()), list);
        assert_eq!(trusted("").to_string(), "");
    }

    #[test]
    fn addresses_and_networks() {
        let list = trusted(" 127.0.0.1 , ::1,10.0.0.0/8,2001:db8::/32,,192.168.1.0/24");
        for yes in [
            "127.0.0.1",
            "::1",
            "10.1.2.3",
            "10.255.255.255",
            "2001:db8:1::5",
            "192.168.1.200",
        ] {
            assert!(list.contains(ip(yes)), "{yes}");
        }
        for no in ["127.0.0.2", "::2", "11.0.0.0", "2001:db9::1", "192.168.2.1"] {
            assert!(!list.contains(ip(no)), "{no}");
        }
    }

    #[test]
    fn mapped_ipv4_matches_ipv4() {
        assert!(trusted("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
        assert!(trusted("10.0.0.0/8").contains(ip("::ffff:10.9.8.7")));
    }

    #[test]
    fn edges() {
        assert!(trusted("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!trusted("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(trusted("::/0").contains(ip("2001:db8::1")));
        assert!(trusted("203.0.113.9/32").contains(ip("203.0.113.9")));
        assert!(!trusted("").contains(ip("127.0.0.1")));
        let everyone = trusted("*");
        assert!(everyone.trusts_everyone() && everyone.contains(ip("198.51.100.1")));
        assert_eq!(TrustedProxies::everyone(), everyone);
    }

    #[test]
    fn bad_entries() {
        assert!(matches!(
            "localhost".parse::<TrustedProxies>(),
            Err(Error::BadAddress(_))
        ));
        assert!(matches!(
            "10.0.0.0/".parse::<TrustedProxies>(),
            Err(Error::BadAddress(_))
        ));
        assert!(matches!(
            "10.0.0.0/+8".parse::<TrustedProxies>(),
            Err(Error::BadAddress(_))
        ));
        assert!(matches!(
            "10.0.0.0/33".parse::<TrustedProxies>(),
            Err(Error::BadPrefixLength(_))
        ));
        assert!(matches!(
            "::/129".parse::<TrustedProxies>(),
            Err(Error::BadPrefixLength(_))
        ));
        assert!(matches!(
            "10.0.0.1/8".parse::<TrustedProxies>(),
            Err(Error::HostBits(_))
        ));
        assert!(matches!(
            "fe80::1%eth0".parse::<TrustedProxies>(),
            Err(Error::BadAddress(_))
        ));
        let message = "127.0.0.1,10.0.0.0/99"
            .parse::<TrustedProxies>()
            .unwrap_err()
            .to_string();
        assert!(message.contains("10.0.0.0/99"), "{message}");
    }
}
