use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderMap};

/// The validators of one file: an entity tag from its size and modification time, and that
/// time at the one-second precision of HTTP dates.
#[derive(Debug)]
pub(crate) struct Validators {
    /// A strong tag, quoted: `"<mtime secs hex>.<nanos hex>-<size hex>"`.
    pub(crate) etag: String,
    pub(crate) modified: Option<SystemTime>,
}

impl Validators {
    pub(crate) fn new(len: u64, modified: Option<SystemTime>) -> Self {
        let since = modified.and_then(|time| time.duration_since(UNIX_EPOCH).ok());
        let mut etag = String::with_capacity(32);
        etag.push('"');
        if let Some(since) = since {
            let _ = write!(etag, "{:x}.{:x}-", since.as_secs(), since.subsec_nanos());
        }
        let _ = write!(etag, "{len:x}\"");
        Self {
            etag,
            modified: since.map(|since| UNIX_EPOCH + Duration::from_secs(since.as_secs())),
        }
    }

    /// RFC 9110 §13.1.2 and §13.1.3, for GET and HEAD: whether the client's copy is current,
    /// so a 304 answers. `If-None-Match`, when present, decides alone (weak comparison);
    /// otherwise `If-Modified-Since` does.
    pub(crate) fn not_modified(&self, headers: &HeaderMap) -> bool {
        let mut tags = headers.get_all(header::IF_NONE_MATCH).iter().peekable();
        if tags.peek().is_some() {
            return tags.any(|value| value.to_str().is_ok_and(|list| self.matches(list)));
        }
        match (self.modified, http_date(headers, header::IF_MODIFIED_SINCE)) {
            (Some(modified), Some(since)) => modified <= since,
            _ => false,
        }
    }

    /// RFC 9110 §13.1.5: whether a `Range` may be honoured. An `If-Range` entity tag must
    /// match strongly, a date must equal the modification time; without `If-Range`, yes.
    pub(crate) fn range_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::IF_RANGE) else {
            return true;
        };
        let Ok(text) = value.to_str() else {
            return false;
        };
        let text = text.trim();
        if text.starts_with('"') || text.starts_with("W/") {
            return text == self.etag;
        }
        match (self.modified, httpdate::parse_http_date(text).ok()) {
            (Some(modified), Some(date)) => modified == date,
            _ => false,
        }
    }

    /// Whether a comma-separated `If-None-Match` list names this tag (or is `*`), comparing
    /// weakly: `W/"x"` matches `"x"`.
    fn matches(&self, list: &str) -> bool {
        list.split(',').map(str::trim).any(|tag| {
            if tag == "*" {
                return true;
            }
            tag.strip_prefix("W/").unwrap_or(tag) == self.etag
        })
    }
}

fn http_date(headers: &HeaderMap, name: header::HeaderName) -> Option<SystemTime> {
    let value = headers.get(name)?.to_str().ok()?;
    httpdate::parse_http_date(value.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn validators() -> Validators {
        Validators::new(10240, Some(UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789)))
    }

    #[test]
    fn tags_follow_size_and_time() {
        let tag = validators().etag;
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_ne!(tag, Validators::new(10241, validators().modified).etag);
        assert_ne!(tag, Validators::new(10240, validators().modified).etag);
        assert_eq!(tag, validators().etag);
        assert_eq!(Validators::new(16, None).etag, "\"10\"");
    }

    #[test]
    fn if_none_match() {
        let v = validators();
        assert!(v.not_modified(&headers(&[(header::IF_NONE_MATCH, &v.etag)])));
        assert!(v.not_modified(&headers(&[(header::IF_NONE_MATCH, &format!("\"x\", W/{}", v.etag))])));
        assert!(v.not_modified(&headers(&[(header::IF_NONE_MATCH, "*")])));
        assert!(!v.not_modified(&headers(&[(header::IF_NONE_MATCH, "\"other\"")])));
        // A tag list that does not match wins over a date that would.
        let both = headers(&[
            (header::IF_NONE_MATCH, "\"other\""),
            (header::IF_MODIFIED_SINCE, "Fri, 01 Jan 2100 00:00:00 GMT"),
        ]);
        assert!(!v.not_modified(&both));
    }

    #[test]
    fn if_modified_since() {
        let v = validators();
        let date = httpdate::fmt_http_date(v.modified.unwrap());
        assert!(v.not_modified(&headers(&[(header::IF_MODIFIED_SINCE, &date)])));
        let later = "Fri, 01 Jan 2100 00:00:00 GMT";
        assert!(v.not_modified(&headers(&[(header::IF_MODIFIED_SINCE, later)])));
        let earlier = "Thu, 01 Jan 2015 00:00:00 GMT";
        assert!(!v.not_modified(&headers(&[(header::IF_MODIFIED_SINCE, earlier)])));
        assert!(!v.not_modified(&headers(&[(header::IF_MODIFIED_SINCE, "yesterday")])));
        assert!(!v.not_modified(&HeaderMap::new()));
    }

    #[test]
    fn if_range() {
        let v = validators();
        assert!(v.range_allowed(&HeaderMap::new()));
        assert!(v.range_allowed(&headers(&[(header::IF_RANGE, &v.etag)])));
        assert!(!v.range_allowed(&headers(&[(header::IF_RANGE, &format!("W/{}", v.etag))])));
        assert!(!v.range_allowed(&headers(&[(header::IF_RANGE, "\"old\"")])));
        let date = httpdate::fmt_http_date(v.modified.unwrap());
        assert!(v.range_allowed(&headers(&[(header::IF_RANGE, &date)])));
        assert!(!v.range_allowed(&headers(&[(header::IF_RANGE, "Thu, 01 Jan 2015 00:00:00 GMT")])));
    }
}
