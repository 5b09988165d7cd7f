use http::HeaderValue;

use crate::Error;

/// A content coding the server compresses responses with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Brotli (RFC 7932), `br`.
    Brotli,
    /// Zstandard (RFC 8878), `zstd`.
    Zstd,
    /// Gzip (RFC 1952), `gzip`.
    Gzip,
}

impl Encoding {
    /// Every coding this server compresses with.
    pub const ALL: [Self; 3] = [Self::Brotli, Self::Zstd, Self::Gzip];

    /// The content-coding token, as in `Content-Encoding`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Brotli => "br",
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
        }
    }

    /// The coding named `name` (`br`, `zstd` or `gzip`, any case).
    pub fn parse(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|encoding| encoding.as_str().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| Error::UnknownEncoding(name.to_owned()))
    }

    pub(crate) fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.as_str())
    }

    /// The coding a token of `Accept-Encoding` names, if one of ours (`x-gzip` is gzip, RFC 9110
    /// §8.4.1.3).
    fn from_token(token: &[u8]) -> Option<Self> {
        if token.eq_ignore_ascii_case(b"x-gzip") {
            return Some(Self::Gzip);
        }
        Self::ALL
            .into_iter()
            .find(|encoding| token.eq_ignore_ascii_case(encoding.as_str().as_bytes()))
    }

    fn index(self) -> usize {
        match self {
            Self::Brotli => 0,
            Self::Zstd => 1,
            Self::Gzip => 2,
        }
    }
}

/// A quality value in thousandths, `0..=1000`.
type Quality = u16;

/// The coding to answer with, among `offered` (in the server's order of preference), given the
/// request's `Accept-Encoding` field lines; `None` keeps the response as it is (identity).
///
/// RFC 9110 §12.5.3: the acceptable coding (q > 0) the client weighs highest wins, a tie going
/// to the one earlier in `offered`; a coding not listed takes the weight of `*`, if any; an
/// `identity` weighed above every coding keeps the response uncompressed. No field at all
/// means no preference, which this server reads as "no compression". Malformed elements are
/// skipped, whatever the bytes.
pub fn negotiate<'a, I>(fields: I, offered: &[Encoding]) -> Option<Encoding>
where
    I: IntoIterator<Item = &'a HeaderValue>,
{
    let mut explicit: [Option<Quality>; 3] = [None; 3];
    let mut star: Option<Quality> = None;
    let mut identity: Option<Quality> = None;
    for field in fields {
        for (token, quality) in elements(field.as_bytes()) {
            let slot = if token == b"*" {
                &mut star
            } else if token.eq_ignore_ascii_case(b"identity") {
                &mut identity
            } else if let Some(encoding) = Encoding::from_token(token) {
                &mut explicit[encoding.index()]
            } else {
                continue;
            };
            // A coding listed twice keeps its best weight.
            *slot = Some(slot.map_or(quality, |seen| seen.max(quality)));
        }
    }
    let mut best: Option<(Encoding, Quality)> = None;
    for &encoding in offered {
        let Some(quality) = explicit[encoding.index()].or(star) else {
            continue;
        };
        if quality > 0 && best.is_none_or(|(_, top)| quality > top) {
            best = Some((encoding, quality));
        }
    }
    let (encoding, quality) = best?;
    if identity.is_some_and(|identity| identity > quality) {
        return None;
    }
    Some(encoding)
}

/// The `(coding, weight)` pairs of one `Accept-Encoding` field line; an element whose weight
/// does not parse is left out.
fn elements(field: &[u8]) -> impl Iterator<Item = (&[u8], Quality)> {
    field.split(|&byte| byte == b',').filter_map(|element| {
        let mut parts = element.split(|&byte| byte == b';');
        let token = trim(parts.next()?);
        if token.is_empty() {
            return None;
        }
        let mut quality = 1000;
        for parameter in parts {
            let parameter = trim(parameter);
            let Some(equals) = parameter.iter().position(|&byte| byte == b'=') else {
                continue;
            };
            let (name, value) = (trim(&parameter[..equals]), trim(&parameter[equals + 1..]));
            if name.eq_ignore_ascii_case(b"q") {
                quality = parse_quality(value)?;
            }
        }
        Some((token, quality))
    })
}

/// RFC 9110 §12.4.2: `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
fn parse_quality(value: &[u8]) -> Option<Quality> {
    let (&first, rest) = value.split_first()?;
    let units: Quality = match first {
        b'0' => 0,
        b'1' => 1000,
        _ => return None,
    };
    let fraction = match rest.split_first() {
        None => &[][..],
        Some((b'.', digits)) => digits,
        Some(_) => return None,
    };
    if fraction.len() > 3 || !fraction.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths: Quality = 0;
    for position in 0..3 {
        thousandths = thousandths * 10 + fraction.get(position).map_or(0, |digit| Quality::from(digit - b'0'));
    }
    let quality = units + thousandths;
    (quality <= 1000).then_some(quality)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|byte| !byte.is_ascii_whitespace())
        .map_or(start, |end| end + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(field: &str) -> Option<&'static str> {
        let value = HeaderValue::from_str(field).unwrap();
        negotiate([&value], &Encoding::ALL).map(Encoding::as_str)
    }

    #[test]
    fn server_preference_breaks_ties() {
        assert_eq!(pick("gzip, deflate, br, zstd"), Some("br"));
        assert_eq!(pick("gzip, zstd"), Some("zstd"));
        assert_eq!(pick("gzip"), Some("gzip"));
        assert_eq!(pick("x-gzip"), Some("gzip"));
        assert_eq!(pick("GZIP"), Some("gzip"));
    }

    #[test]
    fn weights_decide_before_preference() {
        assert_eq!(pick("br;q=0.5, gzip"), Some("gzip"));
        assert_eq!(pick("br;q=0.5, gzip;q=0.8, zstd;q=0.9"), Some("zstd"));
        assert_eq!(pick("br ; q=0.001, gzip;Q=0"), Some("br"));
    }

    #[test]
    fn zero_weight_refuses() {
        assert_eq!(pick("gzip;q=0"), None);
        assert_eq!(pick("gzip;q=0.000, br;q=0"), None);
        assert_eq!(pick("*;q=0"), None);
        assert_eq!(pick("*, br;q=0"), Some("zstd"));
    }

    #[test]
    fn star_and_identity() {
        assert_eq!(pick("*"), Some("br"));
        assert_eq!(pick("identity"), None);
        assert_eq!(pick(""), None);
        assert_eq!(pick("identity, gzip;q=0.5"), None);
        assert_eq!(pick("identity;q=0.5, gzip"), Some("gzip"));
        assert_eq!(pick("identity, gzip"), Some("gzip"));
        assert_eq!(pick("deflate, compress"), None);
    }

    #[test]
    fn malformed_weights_drop_their_element() {
        assert_eq!(pick("br;q=2, gzip"), Some("gzip"));
        assert_eq!(pick("br;q=1.5, gzip;q=abc"), None);
        assert_eq!(pick("br;q=0.1234, zstd;q=1.000"), Some("zstd"));
        assert_eq!(pick(",,;, br"), Some("br"));
        assert_eq!(pick("br;level=5"), Some("br"));
    }

    #[test]
    fn fields_add_up_and_offer_restricts() {
        let first = HeaderValue::from_static("gzip;q=0.5");
        let second = HeaderValue::from_static("br;q=0.6");
        assert_eq!(negotiate([&first, &second], &Encoding::ALL), Some(Encoding::Brotli));
        assert_eq!(negotiate([&first, &second], &[Encoding::Gzip]), Some(Encoding::Gzip));
        assert_eq!(negotiate([&second], &[Encoding::Gzip, Encoding::Zstd]), None);
        assert_eq!(negotiate([] as [&HeaderValue; 0], &Encoding::ALL), None);
    }

    #[test]
    fn quality_values() {
        assert_eq!(parse_quality(b"1"), Some(1000));
        assert_eq!(parse_quality(b"1."), Some(1000));
        assert_eq!(parse_quality(b"0.5"), Some(500));
        assert_eq!(parse_quality(b"0.05"), Some(50));
        assert_eq!(parse_quality(b"0.999"), Some(999));
        assert_eq!(parse_quality(b"1.001"), None);
        assert_eq!(parse_quality(b""), None);
        assert_eq!(parse_quality(b"-1"), None);
        assert_eq!(parse_quality(b"0.x"), None);
    }

    #[test]
    fn encoding_names() {
        assert_eq!(Encoding::parse("BR").unwrap(), Encoding::Brotli);
        assert_eq!(Encoding::parse(" zstd ").unwrap(), Encoding::Zstd);
        assert!(Encoding::parse("deflate").is_err());
    }
}
