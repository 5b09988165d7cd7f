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

/// Put `server` on `headers` unless they carry a `Server` already (an application's own is
/// kept); `None` adds none. The protocol layers call it on every response they send, with the
/// value their limits carry.
pub fn add_server_header(headers: &mut HeaderMap, server: Option<&HeaderValue>) {
    if let Some(server) = server {
        headers.entry(header::SERVER).or_insert_with(|| server.clone());
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
        add_server_header(&mut map, None);
        assert!(!map.contains_key("server"));
        add_server_header(&mut map, Some(&granian));
        assert_eq!(map["server"], "granian");
        let mut mine = HeaderMap::new();
        mine.insert(header::SERVER, HeaderValue::from_static("mine"));
        add_server_header(&mut mine, Some(&granian));
        assert_eq!(mine.get_all("server").iter().count(), 1);
        assert_eq!(mine["server"], "mine");
    }
}
