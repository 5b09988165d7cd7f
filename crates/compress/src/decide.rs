use http::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};

/// Whether a response may be compressed, whatever the client accepts: a status with content
/// (not 1xx, 204, 206 nor 304), not already encoded, not a range, not marked `no-transform`
/// (RFC 9111 §5.2.2.6), of a [`compressible_type`], and of a size that is unknown or at least
/// `min_size` bytes. `body_size` is the body's exact size when known; otherwise a
/// `Content-Length` header tells it.
#[must_use]
pub fn compressible(status: StatusCode, headers: &HeaderMap, body_size: Option<u64>, min_size: u64) -> bool {
    if status.is_informational()
        || matches!(
            status,
            StatusCode::NO_CONTENT | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
        )
    {
        return false;
    }
    if headers.contains_key(CONTENT_ENCODING) || headers.contains_key(CONTENT_RANGE) {
        return false;
    }
    if headers.get_all(CACHE_CONTROL).iter().any(|value| {
        value
            .as_bytes()
            .split(|&byte| byte == b',')
            .any(|directive| directive.trim_ascii().eq_ignore_ascii_case(b"no-transform"))
    }) {
        return false;
    }
    if !headers
        .get(CONTENT_TYPE)
        .is_some_and(|value| compressible_type(value.as_bytes()))
    {
        return false;
    }
    let size = body_size.or_else(|| {
        headers
            .get(CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
    });
    size.is_none_or(|size| size > 0 && size >= min_size)
}

/// Subtypes of `application/` that are text in all but name.
const APPLICATION: &[&[u8]] = &[
    b"json",
    b"javascript",
    b"x-javascript",
    b"ecmascript",
    b"xml",
    b"wasm",
    b"x-ndjson",
    b"ndjson",
    b"yaml",
    b"x-yaml",
    b"toml",
    b"graphql",
    b"x-www-form-urlencoded",
    b"rtf",
    b"x-sh",
    b"vnd.ms-fontobject",
    b"x-font-ttf",
    b"x-font-otf",
    b"x-font-opentype",
];

/// Other types that compress well; images, audio, video, archives and woff fonts are already
/// compressed and are left alone.
const OTHERS: &[(&[u8], &[u8])] = &[
    (b"font", b"ttf"),
    (b"font", b"otf"),
    (b"font", b"sfnt"),
    (b"image", b"bmp"),
    (b"image", b"x-icon"),
    (b"image", b"vnd.microsoft.icon"),
];

/// Whether a `Content-Type` names a type worth compressing: `text/*`, JSON, JavaScript, XML
/// (and any `+json`, `+xml` such as `image/svg+xml`), WebAssembly, and a few uncompressed font
/// and image formats.
#[must_use]
pub fn compressible_type(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&byte| byte == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let Some(slash) = essence.iter().position(|&byte| byte == b'/') else {
        return false;
    };
    let (top, subtype) = (&essence[..slash], &essence[slash + 1..]);
    if top.eq_ignore_ascii_case(b"text") {
        return true;
    }
    let ends_with = |suffix: &[u8]| {
        subtype.len() > suffix.len() && subtype[subtype.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    if ends_with(b"+json") || ends_with(b"+xml") {
        return true;
    }
    if top.eq_ignore_ascii_case(b"application") {
        return APPLICATION.iter().any(|known| subtype.eq_ignore_ascii_case(known));
    }
    OTHERS.iter().any(|(known_top, known_subtype)| {
        top.eq_ignore_ascii_case(known_top) && subtype.eq_ignore_ascii_case(known_subtype)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn types() {
        for yes in [
            "text/html",
            "text/plain; charset=utf-8",
            "TEXT/CSS",
            "text/event-stream",
            "application/json",
            "application/problem+json",
            "application/javascript",
            "application/xml",
            "application/rss+xml",
            "image/svg+xml",
            "application/wasm",
            "font/ttf",
        ] {
            assert!(compressible_type(yes.as_bytes()), "{yes}");
        }
        for no in [
            "image/png",
            "image/jpeg",
            "video/mp4",
            "audio/ogg",
            "application/zip",
            "application/gzip",
            "application/octet-stream",
            "font/woff2",
            "application/+json",
            "text",
            "",
        ] {
            assert!(!compressible_type(no.as_bytes()), "{no}");
        }
    }

    /// Status, headers, the body's exact size, and whether to compress.
    type Case<'a> = (u16, &'a [(&'static str, &'static str)], Option<u64>, bool);

    #[test]
    fn decision_table() {
        let text = [("content-type", "text/plain")];
        let cases: &[Case] = &[
            (200, &text, None, true),
            (200, &text, Some(2000), true),
            (200, &text, Some(1024), true),
            (200, &text, Some(1023), false),
            (200, &text, Some(0), false),
            (404, &text, Some(5000), true),
            (500, &text, None, true),
            (101, &text, None, false),
            (204, &text, None, false),
            (206, &text, Some(5000), false),
            (304, &text, None, false),
            (200, &[], Some(5000), false),
            (200, &[("content-type", "image/png")], Some(5000), false),
            (
                200,
                &[("content-type", "text/plain"), ("content-encoding", "gzip")],
                None,
                false,
            ),
            (
                200,
                &[("content-type", "text/plain"), ("content-range", "bytes 0-1/2")],
                None,
                false,
            ),
            (
                200,
                &[
                    ("content-type", "text/plain"),
                    ("cache-control", "public, No-Transform"),
                ],
                None,
                false,
            ),
            (
                200,
                &[("content-type", "text/plain"), ("cache-control", "no-cache")],
                None,
                true,
            ),
            (
                200,
                &[("content-type", "text/plain"), ("content-length", "10")],
                None,
                false,
            ),
            (
                200,
                &[("content-type", "text/plain"), ("content-length", "4096")],
                None,
                true,
            ),
            // The body's own size wins over a header that disagrees.
            (
                200,
                &[("content-type", "text/plain"), ("content-length", "10")],
                Some(4096),
                true,
            ),
        ];
        for (status, pairs, size, expected) in cases {
            let status = StatusCode::from_u16(*status).unwrap();
            assert_eq!(
                compressible(status, &headers(pairs), *size, 1024),
                *expected,
                "{status} {pairs:?} {size:?}"
            );
        }
        assert!(compressible(StatusCode::OK, &headers(&text), Some(1), 0));
    }
}
