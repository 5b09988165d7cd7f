use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Whether a comma-separated header (`connection`, `upgrade`) lists `token`, in any case.
#[must_use]
pub fn lists_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .to_str()
            .is_ok_and(|text| text.split(',').any(|item| item.trim().eq_ignore_ascii_case(token)))
    })
}

/// Put `server` (the `Server` header) and `alt_svc` (`Alt-Svc`, advertising HTTP/3) on the headers
/// of a final response unless they carry their own (an application's is kept); `None` adds none.
/// The protocol layers call it on every response they send, with the values their limits carry.
pub fn add_default_headers(headers: &mut HeaderMap, server: Option<&HeaderValue>, alt_svc: Option<&HeaderValue>) {
    if let Some(server) = server {
        headers.entry(header::SERVER).or_insert_with(|| server.clone());
    }
    if let Some(alt_svc) = alt_svc {
        headers.entry(header::ALT_SVC).or_insert_with(|| alt_svc.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_lists() {
        let mut map = HeaderMap::new();
        map.append(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        map.append(header::CONNECTION, HeaderValue::from_static("Upgrade, HTTP2-Settings"));
        assert!(lists_token(&map, &header::CONNECTION, "upgrade"));
        assert!(lists_token(&map, &header::CONNECTION, "http2-settings"));
        assert!(!lists_token(&map, &header::CONNECTION, "close"));
        assert!(!lists_token(&map, &header::UPGRADE, "h2c"));
    }

    #[test]
    fn server_header_is_added_unless_set() {
        let granian = HeaderValue::from_static("granian");
        let mut map = HeaderMap::new();
        add_default_headers(&mut map, None, None);
        assert!(!map.contains_key("server"));
        add_default_headers(&mut map, Some(&granian), None);
        assert_eq!(map["server"], "granian");
        let mut mine = HeaderMap::new();
        mine.insert(header::SERVER, HeaderValue::from_static("mine"));
        add_default_headers(&mut mine, Some(&granian), None);
        assert_eq!(mine.get_all("server").iter().count(), 1);
        assert_eq!(mine["server"], "mine");
    }

    #[test]
    fn alt_svc_is_added_unless_set() {
        let advertised = HeaderValue::from_static("h3=\":8443\"; ma=86400");
        let mut map = HeaderMap::new();
        add_default_headers(&mut map, None, Some(&advertised));
        assert_eq!(map[header::ALT_SVC], advertised);
        assert!(!map.contains_key(header::SERVER));
        let mut mine = HeaderMap::new();
        mine.insert(header::ALT_SVC, HeaderValue::from_static("clear"));
        add_default_headers(&mut mine, None, Some(&advertised));
        assert_eq!(mine[header::ALT_SVC], "clear");
    }
}
