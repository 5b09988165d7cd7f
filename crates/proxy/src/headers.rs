use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A proxy header the layer can read. Each is read only when the operator names it: a header
/// the proxy in front does not set (or overwrite) passes through from the client unchanged,
/// and believing it would let the client pick its own address, scheme or host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyHeader {
    /// RFC 7239 `Forwarded`: client, scheme and host in one header.
    Forwarded,
    /// `X-Forwarded-For`: the client address, one entry per hop.
    XForwardedFor,
    /// `X-Forwarded-Proto`: the scheme the client used.
    XForwardedProto,
    /// `X-Forwarded-Host`: the host the client addressed.
    XForwardedHost,
    /// `X-Forwarded-Port`: the port the client addressed.
    XForwardedPort,
    /// `X-Forwarded-Prefix`: the path prefix the proxy removed.
    XForwardedPrefix,
}

impl ProxyHeader {
    /// Every header, in the order they are listed.
    pub const ALL: [Self; 6] = [
        Self::Forwarded,
        Self::XForwardedFor,
        Self::XForwardedProto,
        Self::XForwardedHost,
        Self::XForwardedPort,
        Self::XForwardedPrefix,
    ];

    /// The header's name, lower-case.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Forwarded => "forwarded",
            Self::XForwardedFor => "x-forwarded-for",
            Self::XForwardedProto => "x-forwarded-proto",
            Self::XForwardedHost => "x-forwarded-host",
            Self::XForwardedPort => "x-forwarded-port",
            Self::XForwardedPrefix => "x-forwarded-prefix",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for ProxyHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A header name, in any case.
impl FromStr for ProxyHeader {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|header| header.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| Error::UnknownHeader(name.to_owned()))
    }
}

/// The proxy headers the layer reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyHeaderSet(u8);

impl ProxyHeaderSet {
    /// Whether `header` is read.
    #[must_use]
    pub fn contains(self, header: ProxyHeader) -> bool {
        self.0 & header.bit() != 0
    }

    /// The headers read, in the order of [`ProxyHeader::ALL`].
    pub fn iter(self) -> impl Iterator<Item = ProxyHeader> {
        ProxyHeader::ALL
            .into_iter()
            .filter(move |header| self.contains(*header))
    }
}

impl FromIterator<ProxyHeader> for ProxyHeaderSet {
    fn from_iter<I: IntoIterator<Item = ProxyHeader>>(headers: I) -> Self {
        Self(headers.into_iter().fold(0, |bits, header| bits | header.bit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for header in ProxyHeader::ALL {
            assert_eq!(header.name().parse::<ProxyHeader>().unwrap(), header);
            assert_eq!(
                header.to_string().to_uppercase().parse::<ProxyHeader>().unwrap(),
                header
            );
        }
        assert!(matches!(
            "x-real-ip".parse::<ProxyHeader>(),
            Err(Error::UnknownHeader(name)) if name == "x-real-ip"
        ));
    }

    #[test]
    fn sets() {
        let set: ProxyHeaderSet = [
            ProxyHeader::XForwardedPrefix,
            ProxyHeader::Forwarded,
            ProxyHeader::Forwarded,
        ]
        .into_iter()
        .collect();
        assert!(set.contains(ProxyHeader::Forwarded) && set.contains(ProxyHeader::XForwardedPrefix));
        assert!(!set.contains(ProxyHeader::XForwardedFor));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [ProxyHeader::Forwarded, ProxyHeader::XForwardedPrefix]
        );
        assert_eq!(ProxyHeaderSet::default().iter().count(), 0);
    }
}
