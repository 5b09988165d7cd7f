//! Through the whole handler: any request path under a route is answered from a file that
//! really is below the mount, or refused, whatever its dots, encodings and symlinks; any
//! `Range` header gives the whole file, a part of it within its bounds, or 416, and a range
//! that can be satisfied is served exactly.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use granian_serve::{ConnInfo, Handler, IncomingBody, ResponseBody, Scheme};
use granian_staticfiles::{StaticFiles, StaticSettings};
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use proptest::collection::vec;
use proptest::prelude::*;

/// Answers 200 `app` to whatever reaches it.
#[derive(Clone)]
struct App;

impl Handler for App {
    fn handle(
        &self,
        _request: Request<IncomingBody>,
        _conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
        async { Response::new(ResponseBody::full(Bytes::from_static(b"app"))) }
    }
}

/// What lies outside the mount; never served.
const SECRET: &[u8] = b"SECRET outside the mount";

/// A mount with files, a directory with an index, and symlinks leading in and out, next to a
/// secret file; built once per test run under Cargo's temporary directory for tests, replacing
/// the previous run's.
struct Tree {
    mount: PathBuf,
    handler: StaticFiles<App>,
    /// Every file below the mount (canonical path) and its content.
    files: BTreeMap<PathBuf, Vec<u8>>,
    /// Files whose sizes straddle the streaming threshold, for ranges.
    sized: Vec<(String, Vec<u8>)>,
}

static TREE: LazyLock<Tree> = LazyLock::new(|| {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("staticfiles-props");
    let _ = std::fs::remove_dir_all(&base);
    let mount = base.join("mnt");
    std::fs::create_dir_all(mount.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(mount.join("dir")).unwrap();
    std::fs::write(base.join("secret"), SECRET).unwrap();
    std::fs::write(mount.join("a.txt"), b"file a.txt").unwrap();
    std::fs::write(mount.join("sub/b.bin"), b"file sub/b.bin").unwrap();
    std::fs::write(mount.join("sub/deeper/c"), b"file sub/deeper/c").unwrap();
    std::fs::write(mount.join("dir/index.html"), b"file dir/index.html").unwrap();
    let link = |target: &Path, name: &str| std::os::unix::fs::symlink(target, mount.join(name)).unwrap();
    link(&base.join("secret"), "abs-out");
    link(Path::new("../secret"), "out");
    link(Path::new(".."), "up");
    link(&base, "abs-up");
    link(Path::new("sub/b.bin"), "in");
    link(&mount.join("sub"), "abs-in");
    let mut sized = Vec::new();
    for len in [0usize, 1, 2, 100, 65_536, 65_537, 200_000] {
        let name = format!("sized-{len}");
        let content: Vec<u8> = (0..len).map(|i| u8::try_from(i * 7 % 251).unwrap()).collect();
        std::fs::write(mount.join(&name), &content).unwrap();
        sized.push((name, content));
    }
    let settings = StaticSettings::new(
        [("/static".to_owned(), mount.clone())],
        Some("index.html".to_owned()),
        None,
        false,
    )
    .unwrap();
    let canonical = std::fs::canonicalize(&mount).unwrap();
    let mut files = BTreeMap::new();
    let mut pending = vec![canonical.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    Tree {
        mount: canonical,
        handler: StaticFiles::new(App, Some(Arc::new(settings))),
        files,
        sized,
    }
});

fn call(target: &str, headers: &[(header::HeaderName, HeaderValue)]) -> Option<(StatusCode, http::HeaderMap, Bytes)> {
    let mut request = Request::builder().uri(target);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    // Targets that are no URI never reach a handler.
    let request = request.body(IncomingBody::full(Bytes::new())).ok()?;
    let addr = "127.0.0.1:1".parse().unwrap();
    let conn = Arc::new(ConnInfo::new(addr, addr, Scheme::Http));
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let (parts, body) = runtime.block_on(async {
        let response = TREE.handler.handle(request, &conn).await;
        let (parts, body) = response.into_parts();
        (parts, body.collect().await.unwrap().to_bytes())
    });
    Some((parts.status, parts.headers, body))
}

/// What a request path should give, worked out from the file system: the content of the file
/// (or directory index) it names when that resolves below the mount, `None` when refused.
/// `Err(())` when the path has a segment starting with a dot, whose fate this test leaves to
/// the handler's policy (only that nothing outside the mount is served is checked then).
fn expected(rest: &str) -> Result<Option<Vec<u8>>, ()> {
    let Some(decoded) = percent_decode(rest) else {
        return Ok(None);
    };
    if decoded.contains(&0) || decoded.contains(&b'\\') {
        return Ok(None);
    }
    let mut relative = PathBuf::new();
    for segment in decoded.split(|&byte| byte == b'/') {
        match segment {
            b"" => {}
            b".." => return Ok(None),
            [b'.', ..] => return Err(()),
            name => relative.push(std::str::from_utf8(name).map_err(|_| ())?),
        }
    }
    let Ok(mut real) = std::fs::canonicalize(TREE.mount.join(&relative)) else {
        return Ok(None);
    };
    if real.is_dir() {
        real.push("index.html");
    }
    if !real.starts_with(&TREE.mount) {
        return Ok(None);
    }
    Ok(TREE.files.get(&real).cloned())
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        if byte == b'%' {
            let hex = std::str::from_utf8(bytes.get(at + 1..at + 3)?).ok()?;
            if !hex.bytes().all(|digit| digit.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(byte);
            at += 1;
        }
    }
    Some(out)
}

/// A path segment: names in and around the tree, dots and their encodings, separators.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "a.txt", "sub", "b.bin", "deeper", "c", "dir", "index.html", "in", "abs-in", "out", "abs-out", "up",
            "abs-up", "secret", "mnt", "sized-100", "missing",
        ])
        .prop_map(str::to_owned),
        4 => prop::sample::select(vec![
            "..", ".", "", "%2e%2e", "%2E%2e", ".%2e", "%2e", "%2f", "..%2f..", "%5c", "..%5c", "%00", "%252e%252e",
            "%2", "%zz", "\\", "a%2etxt", "%61.txt", "sub%2fb.bin", "%2e%2e%2fsecret",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z.%/\\\\]{0,6}",
    ]
}

/// Paths through the tree, in and out of it, as a client would aim them.
const AIMED: [&str; 18] = [
    "",
    "a.txt",
    "sub",
    "sub/b.bin",
    "sub/deeper/c",
    "dir",
    "dir/index.html",
    "in",
    "abs-in/b.bin",
    "abs-in/deeper/c",
    "up/mnt/a.txt",
    "up/secret",
    "abs-up/secret",
    "abs-up/mnt/sub/b.bin",
    "out",
    "abs-out",
    "sized-100",
    "missing/a.txt",
];

/// An aimed path with extra segments slipped in and about one byte in eight percent-encoded
/// (`encode`: one bit per byte), in upper- or lower-case hex (`upper`).
fn aimed_path() -> impl Strategy<Value = String> {
    (
        prop::sample::select(AIMED.to_vec()),
        vec((any::<prop::sample::Index>(), segment()), 0..3),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(a, b, c)| a & b & c),
        any::<u64>(),
    )
        .prop_map(|(aimed, extra, encode, upper)| {
            let mut segments: Vec<String> = aimed.split('/').map(str::to_owned).collect();
            for (at, segment) in extra {
                segments.insert(at.index(segments.len() + 1), segment);
            }
            let path = segments.join("/");
            let mut out = String::new();
            for (index, byte) in path.bytes().enumerate() {
                let bit = |mask: u64| mask >> (index % 64) & 1 == 1;
                let written = match (bit(encode) && byte != b'%', bit(upper)) {
                    (true, true) => write!(out, "%{byte:02X}"),
                    (true, false) => write!(out, "%{byte:02x}"),
                    (false, _) => write!(out, "{}", char::from(byte)),
                };
                written.unwrap();
            }
            out
        })
}

proptest! {
    #[test]
    fn paths_resolve_below_the_mount_or_are_refused(
        path in prop_oneof![
            vec(segment(), 0..7).prop_map(|segments| segments.join("/")),
            aimed_path(),
        ],
        slash in any::<bool>(),
    ) {
        let mut rest = format!("/{path}");
        if slash {
            rest.push('/');
        }
        let Some((status, _, body)) = call(&format!("/static{rest}"), &[]) else {
            return Ok(());
        };
        prop_assert!(!body.windows(SECRET.len()).any(|window| window == SECRET), "{}", rest);
        match status {
            StatusCode::OK => prop_assert!(TREE.files.values().any(|content| content[..] == body[..]), "{}", rest),
            StatusCode::NOT_FOUND => {}
            other => prop_assert!(false, "{rest}: {other}"),
        }
        match expected(&rest) {
            Ok(Some(content)) => prop_assert_eq!((status, &body[..]), (StatusCode::OK, &content[..]), "{}", rest),
            Ok(None) => prop_assert_eq!(status, StatusCode::NOT_FOUND, "{}", rest),
            Err(()) => {}
        }
    }

    #[test]
    fn any_range_header_is_served_within_the_file(
        file in 0usize..7,
        header in vec(any::<u8>(), 0..40),
    ) {
        let Ok(value) = HeaderValue::from_bytes(&header) else {
            return Ok(());
        };
        check_range(file, &value)?;
    }

    #[test]
    fn range_grammar_noise_is_served_within_the_file(
        file in 0usize..7,
        header in "(bytes|Bytes|items| bytes )=[-0-9, ]{0,24}",
    ) {
        check_range(file, &HeaderValue::from_str(&header).unwrap())?;
    }

    #[test]
    fn satisfiable_ranges_are_served_exactly(file in 0usize..7, a in any::<u64>(), b in any::<u64>(), form in 0u8..3) {
        let (name, content) = &TREE.sized[file];
        let len = content.len() as u64;
        prop_assume!(len > 0);
        let (first, last) = ((a % len).min(b % len), (a % len).max(b % len));
        let (header, first, last) = match form {
            0 => (format!("bytes={first}-{last}"), first, last),
            1 => (format!("bytes={first}-"), first, len - 1),
            _ => (format!("bytes=-{}", last - first + 1), len - (last - first + 1), len - 1),
        };
        let (status, headers, body) = call(
            &format!("/static/{name}"),
            &[(header::RANGE, HeaderValue::from_str(&header).unwrap())],
        )
        .unwrap();
        prop_assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{}", header);
        prop_assert_eq!(&headers[header::CONTENT_RANGE], &format!("bytes {first}-{last}/{len}"));
        let (first, last) = (usize::try_from(first).unwrap(), usize::try_from(last).unwrap());
        prop_assert_eq!(&body[..], &content[first..=last]);
    }
}

/// Whatever the handler makes of `range` on sized file `file`: the whole file, a part within
/// it that `Content-Range` names exactly, or 416 naming the length.
fn check_range(file: usize, range: &HeaderValue) -> Result<(), TestCaseError> {
    let (name, content) = &TREE.sized[file];
    let len = content.len();
    let (status, headers, body) = call(&format!("/static/{name}"), &[(header::RANGE, range.clone())]).unwrap();
    match status {
        StatusCode::OK => prop_assert_eq!(&body[..], &content[..], "{:?}", range),
        StatusCode::PARTIAL_CONTENT => {
            let content_range = headers[header::CONTENT_RANGE].to_str().unwrap();
            let (span, total) = content_range
                .strip_prefix("bytes ")
                .and_then(|rest| rest.split_once('/'))
                .unwrap();
            let (first, last) = span.split_once('-').unwrap();
            let (first, last): (usize, usize) = (first.parse().unwrap(), last.parse().unwrap());
            prop_assert_eq!(total.parse::<usize>().unwrap(), len);
            prop_assert!(first <= last && last < len, "{:?}: {}", range, content_range);
            prop_assert_eq!(&body[..], &content[first..=last], "{:?}", range);
        }
        StatusCode::RANGE_NOT_SATISFIABLE => {
            prop_assert_eq!(&headers[header::CONTENT_RANGE], &format!("bytes */{len}"));
        }
        other => prop_assert!(false, "{:?}: {}", range, other),
    }
    Ok(())
}
