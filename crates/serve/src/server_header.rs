use std::sync::RwLock;

use http::{HeaderMap, HeaderValue, header};

/// The `Server` header of the responses the server makes itself; `None` sends none.
static SERVER_HEADER: RwLock<Option<HeaderValue>> = RwLock::new(Some(HeaderValue::from_static("granian")));

/// Set the `Server` header that [`error_response`](crate::error_response) puts on the answers the
/// server gives itself (400, 413, 500...), `None` for none; `granian` until set.
///
/// One value per process: a worker serves one configuration, and the protocol layers that answer
/// malformed requests run before any per-server layer could add it.
pub fn set_server_header(value: Option<HeaderValue>) {
    let mut slot = SERVER_HEADER.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    *slot = value;
}

/// The `Server` header set by [`set_server_header`].
#[must_use]
pub fn server_header() -> Option<HeaderValue> {
    SERVER_HEADER
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Put the [`set_server_header`] value on `headers` unless they carry a `Server` already (an
/// application's own is kept). The protocol layers call it on every response they send.
pub fn add_server_header(headers: &mut HeaderMap) {
    if headers.contains_key(header::SERVER) {
        return;
    }
    if let Some(value) = server_header() {
        headers.insert(header::SERVER, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn error_responses_follow_the_setting() {
        assert_eq!(server_header().unwrap(), "granian");
        set_server_header(Some(HeaderValue::from_static("custom")));
        assert_eq!(
            crate::error_response(StatusCode::BAD_REQUEST).headers()["server"],
            "custom"
        );
        set_server_header(None);
        assert!(
            !crate::error_response(StatusCode::BAD_REQUEST)
                .headers()
                .contains_key("server")
        );
        let mut headers = HeaderMap::new();
        add_server_header(&mut headers);
        assert!(!headers.contains_key("server"));
        set_server_header(Some(HeaderValue::from_static("granian")));
        assert_eq!(
            crate::error_response(StatusCode::BAD_REQUEST).headers()["server"],
            "granian"
        );
        add_server_header(&mut headers);
        assert_eq!(headers["server"], "granian");
        headers.insert("server", HeaderValue::from_static("mine"));
        add_server_header(&mut headers);
        assert_eq!(headers.get_all("server").iter().count(), 1);
        assert_eq!(headers["server"], "mine");
    }
}
