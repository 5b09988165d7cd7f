use http::header::{self, HeaderMap, HeaderValue};

/// Put `server` on `headers` unless they carry a `Server` already (an application's own is
/// kept); `None` adds none. The protocol layers call it on every response they send, with the
/// value their limits carry.
pub fn add_server_header(headers: &mut HeaderMap, server: Option<&HeaderValue>) {
    if let Some(server) = server
        && !headers.contains_key(header::SERVER)
    {
        headers.insert(header::SERVER, server.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn server_header_is_added_unless_set() {
        let granian = HeaderValue::from_static("granian");
        let mut map = HeaderMap::new();
        add_server_header(&mut map, None);
        assert!(!map.contains_key("server"));
        add_server_header(&mut map, Some(&granian));
        assert_eq!(map["server"], "granian");
        let mut mine = headers(&[("server", "mine")]);
        add_server_header(&mut mine, Some(&granian));
        assert_eq!(mine.get_all("server").iter().count(), 1);
        assert_eq!(mine["server"], "mine");
    }
}
