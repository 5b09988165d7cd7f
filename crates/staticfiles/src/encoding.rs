use http::header::{self, HeaderMap};

/// The precompressed encodings a request's `Accept-Encoding` admits (RFC 9110 §12.5.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Accepted {
    pub(crate) br: bool,
    pub(crate) gzip: bool,
}

impl Accepted {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        // `*` covers the codings not named; a named coding, `*` included, with `q=0` is refused.
        let (mut br, mut gzip, mut any) = (None, None, None);
        for value in headers.get_all(header::ACCEPT_ENCODING) {
            let Ok(list) = value.to_str() else { continue };
            for item in list.split(',') {
                let mut parts = item.split(';');
                let name = parts.next().unwrap_or_default().trim();
                let allowed = parts.all(|param| !is_q_zero(param));
                if name.eq_ignore_ascii_case("br") {
                    br = Some(allowed);
                } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
                    gzip = Some(allowed);
                } else if name == "*" {
                    any = Some(allowed);
                }
            }
        }
        let any = any.unwrap_or(false);
        Self {
            br: br.unwrap_or(any),
            gzip: gzip.unwrap_or(any),
        }
    }
}

/// `q=0`, `q=0.0`, `q=0.000`: the weight that means "not acceptable".
fn is_q_zero(param: &str) -> bool {
    let Some((key, value)) = param.split_once('=') else {
        return false;
    };
    if !key.trim().eq_ignore_ascii_case("q") {
        return false;
    }
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    whole == "0" && fraction.bytes().all(|digit| digit == b'0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn accepted(value: &str) -> Accepted {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        Accepted::from_headers(&headers)
    }

    #[test]
    fn names_and_weights() {
        assert_eq!(accepted("gzip, deflate, br"), Accepted { br: true, gzip: true });
        assert_eq!(accepted("gzip"), Accepted { br: false, gzip: true });
        assert_eq!(accepted("BR;q=0.5"), Accepted { br: true, gzip: false });
        assert_eq!(accepted("br;q=0, gzip;q=1"), Accepted { br: false, gzip: true });
        assert_eq!(accepted("br;q=0.000"), Accepted::default());
        assert_eq!(accepted("*"), Accepted { br: true, gzip: true });
        assert_eq!(accepted("*, gzip;q=0"), Accepted { br: true, gzip: false });
        assert_eq!(accepted("identity"), Accepted::default());
        assert_eq!(Accepted::from_headers(&HeaderMap::new()), Accepted::default());
    }
}
