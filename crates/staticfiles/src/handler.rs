use std::ffi::OsString;
use std::fs::File;
use std::future::Future;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::future::Either;
use granian_serve::{ConnInfo, Handler, IncomingBody, ResponseBody, StreamSender, error_response, only_get_or_head};
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};

use crate::conditional::Validators;
use crate::encoding::Accepted;
use crate::path::{Opened, is_hidden, relative_path};
use crate::range::{Ranged, parse_range};
use crate::settings::{Mount, StaticSettings};

/// Bodies up to this size are read at once, with the lookup, on the blocking pool; larger ones
/// are streamed in chunks of this size, each read there too.
const CHUNK: usize = 64 * 1024;

/// Chunks read ahead of a slow client: bounds a streamed file's memory to a few chunks.
const CHUNKS_AHEAD: usize = 4;

/// A [`Handler`] answering requests under the static routes from their mounted directories,
/// and passing every other request to `handler`.
///
/// A request under a route never reaches `handler`: a file that is missing, refused or
/// outside the mount is a 404, a method other than GET and HEAD a 405.
#[derive(Debug, Clone)]
pub struct StaticFiles<H> {
    handler: H,
    settings: Option<Arc<StaticSettings>>,
}

impl<H> StaticFiles<H> {
    /// Serve `settings` in front of `handler`; with `None`, every request goes to `handler`.
    #[must_use]
    pub fn new(handler: H, settings: Option<Arc<StaticSettings>>) -> Self {
        Self { handler, settings }
    }
}

impl<H: Handler> Handler for StaticFiles<H> {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<H> {
        if let Some(settings) = &self.settings
            && settings.find(request.uri().path()).is_some()
        {
            return Either::Right(answer(Arc::clone(settings), request));
        }
        Either::Left(self.handler.handle(request, conn))
    }
}

/// The response for a request under a static route, made on the runtime's blocking pool: open,
/// stat and read wait for the disk (or a network file system), which would stall every other
/// connection of the I/O thread.
async fn answer(settings: Arc<StaticSettings>, request: Request<IncomingBody>) -> Response<ResponseBody> {
    // A GET or HEAD body means nothing here.
    let (parts, _) = request.into_parts();
    let answered = tokio::task::spawn_blocking(move || {
        let (mount, rest) = settings.find(parts.uri.path())?;
        Some(serve(&settings, mount, rest, &parts))
    })
    .await;
    match answered {
        Ok(Some(response)) => response,
        // The route matched before: only a runtime shutting down gets here.
        Ok(None) | Err(_) => error_response(StatusCode::SERVICE_UNAVAILABLE),
    }
}

/// The response for a request under `mount`; `rest` is its path after the route. Blocks.
fn serve(settings: &StaticSettings, mount: &Mount, rest: &str, request: &Parts) -> Response<ResponseBody> {
    if let Some(refused) = only_get_or_head(&request.method) {
        return refused;
    }
    let head = request.method == Method::HEAD;
    let Some((path, opened)) = relative_path(rest)
        .filter(|relative| settings.dotfiles() || !is_hidden(relative))
        .and_then(|relative| locate(settings, mount, relative))
    else {
        return error_response(StatusCode::NOT_FOUND);
    };
    let content_type = mime_guess::from_path(&path).first_raw().map_or(
        HeaderValue::from_static("application/octet-stream"),
        HeaderValue::from_static,
    );
    let (opened, encoding) = precompressed(mount, &path, Accepted::from_headers(&request.headers))
        .map_or((opened, None), |(sibling, encoding)| (sibling, Some(encoding)));

    let len = opened.metadata.len();
    let validators = Validators::new(len, opened.metadata.modified().ok());
    let mut headers = HeaderMap::with_capacity(10);
    if let Ok(etag) = HeaderValue::from_str(&validators.etag) {
        headers.insert(header::ETAG, etag);
    }
    if let Some(modified) = validators.modified {
        headers.insert(header::LAST_MODIFIED, date_value(modified));
    }
    if let Some(expires) = settings.expires() {
        headers.insert(header::CACHE_CONTROL, settings.cache_control().clone());
        headers.insert(header::EXPIRES, date_value(expiry(SystemTime::now(), expires)));
    }
    if let Some(encoding) = encoding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if validators.not_modified(&request.headers) {
        return respond(StatusCode::NOT_MODIFIED, headers, ResponseBody::empty());
    }
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    let ranged = match request.headers.get(header::RANGE) {
        Some(range) if validators.range_allowed(&request.headers) => parse_range(range.as_bytes(), len),
        _ => Ranged::Full,
    };
    let (status, start, count) = match ranged {
        Ranged::Full => (StatusCode::OK, 0, len),
        Ranged::Part { start, end } => {
            headers.insert(
                header::CONTENT_RANGE,
                content_range(&format!("bytes {start}-{end}/{len}")),
            );
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        Ranged::Unsatisfiable => {
            let mut response = error_response(StatusCode::RANGE_NOT_SATISFIABLE);
            response
                .headers_mut()
                .insert(header::CONTENT_RANGE, content_range(&format!("bytes */{len}")));
            return response;
        }
    };
    if head {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
        return respond(status, headers, ResponseBody::empty());
    }
    match body(opened.file, start, count) {
        Ok((body, streamed)) => {
            if streamed {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
            }
            respond(status, headers, body)
        }
        Err(_) => error_response(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// The file a relative path names: itself when a regular file, its index when a directory
/// and an index is set. Returns the path as requested (symlinks not followed), for its name.
fn locate(settings: &StaticSettings, mount: &Mount, relative: PathBuf) -> Option<(PathBuf, Opened)> {
    let mut path = relative;
    let mut opened = mount.root.open(&path).ok()?;
    if opened.metadata.is_dir() {
        path.push(settings.index()?);
        opened = mount.root.open(&path).ok()?;
    }
    opened.metadata.is_file().then_some((path, opened))
}

/// The `.br` or `.gz` file next to `path`, when the client accepts that encoding and the file
/// exists below the mount; brotli first, being the smaller.
fn precompressed(mount: &Mount, path: &Path, accepted: Accepted) -> Option<(Opened, &'static str)> {
    [(accepted.br, ".br", "br"), (accepted.gzip, ".gz", "gzip")]
        .into_iter()
        .filter(|(wanted, _, _)| *wanted)
        .find_map(|(_, suffix, encoding)| {
            let mut name = OsString::from(path.as_os_str());
            name.push(suffix);
            let sibling = mount.root.open(Path::new(&name)).ok()?;
            sibling.metadata.is_file().then_some((sibling, encoding))
        })
}

/// `count` bytes of `file` from `start`: read now when small, else streamed by a task, with
/// whether it is streamed (its length then goes in `Content-Length` explicitly).
fn body(file: File, start: u64, count: u64) -> io::Result<(ResponseBody, bool)> {
    match usize::try_from(count) {
        Ok(small) if small <= CHUNK => {
            let mut buffer = vec![0; small];
            file.read_exact_at(&mut buffer, start)?;
            Ok((ResponseBody::full(Bytes::from(buffer)), false))
        }
        _ => {
            let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
            let (sender, body) = ResponseBody::channel(CHUNKS_AHEAD);
            runtime.spawn(stream(Arc::new(file), start, count, sender));
            Ok((body, true))
        }
    }
}

/// Feed `count` bytes of `file` from `offset` to `sender`, one chunk at a time, each read on
/// the blocking pool; a read error or a file cut short aborts the body, a gone client stops.
async fn stream(file: Arc<File>, mut offset: u64, mut remaining: u64, sender: StreamSender) {
    while remaining > 0 {
        let want = usize::try_from(remaining).map_or(CHUNK, |left| left.min(CHUNK));
        let reader = Arc::clone(&file);
        let read = tokio::task::spawn_blocking(move || {
            let mut buffer = vec![0; want];
            let read = reader.read_at(&mut buffer, offset)?;
            buffer.truncate(read);
            Ok::<_, io::Error>(Bytes::from(buffer))
        })
        .await;
        let chunk = match read {
            Ok(Ok(chunk)) if !chunk.is_empty() => chunk,
            _ => {
                sender.abort();
                return;
            }
        };
        let read = chunk.len() as u64;
        offset += read;
        remaining = remaining.saturating_sub(read);
        if !sender.send(chunk).await {
            return;
        }
    }
}

fn respond(status: StatusCode, headers: HeaderMap, body: ResponseBody) -> Response<ResponseBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// `now` plus `expires`, no later than the last moment an HTTP date can name (the end of
/// year 9999): a larger sum would not fit the header, and must not fail a request.
fn expiry(now: SystemTime, expires: Duration) -> SystemTime {
    const LAST_HTTP_DATE: Duration = Duration::from_secs(253_402_300_799);
    let last = SystemTime::UNIX_EPOCH + LAST_HTTP_DATE;
    now.checked_add(expires).map_or(last, |at| at.min(last))
}

fn date_value(time: SystemTime) -> HeaderValue {
    HeaderValue::try_from(httpdate::fmt_http_date(time)).unwrap_or(HeaderValue::from_static(""))
}

fn content_range(text: &str) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or(HeaderValue::from_static("bytes */0"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// Answers 200 `app` to everything that reaches it.
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

    struct Tree(PathBuf);

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tree(name: &str) -> (Tree, StaticFiles<App>) {
        tree_with(name, false)
    }

    fn tree_with(name: &str, dotfiles: bool) -> (Tree, StaticFiles<App>) {
        let root = std::env::temp_dir().join(format!("granian-sf-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("mnt/dir")).unwrap();
        std::fs::write(root.join("mnt/a.txt"), b"hello").unwrap();
        std::fs::write(root.join("mnt/a.txt.gz"), b"gz").unwrap();
        std::fs::write(root.join("mnt/dir/index.html"), b"<p>").unwrap();
        std::fs::create_dir_all(root.join("mnt/.git")).unwrap();
        std::fs::create_dir_all(root.join("mnt/.well-known")).unwrap();
        std::fs::write(root.join("mnt/.env"), b"SECRET=1").unwrap();
        std::fs::write(root.join("mnt/.git/config"), b"[core]").unwrap();
        std::fs::write(root.join("mnt/.well-known/security.txt"), b"Contact: x").unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(root.join("mnt/big.bin"), big).unwrap();
        let settings = StaticSettings::new(
            [("/static".to_owned(), root.join("mnt"))],
            Some("index.html".to_owned()),
            Some(std::time::Duration::from_secs(90)),
            dotfiles,
        )
        .unwrap();
        (Tree(root), StaticFiles::new(App, Some(Arc::new(settings))))
    }

    async fn call(
        handler: &StaticFiles<App>,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Bytes) {
        let mut request = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(IncomingBody::full(Bytes::new())).unwrap();
        let addr = "127.0.0.1:1".parse().unwrap();
        let conn = Arc::new(ConnInfo::new(addr, addr, granian_serve::Scheme::Http));
        let response = handler.handle(request, &conn).await;
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, body.collect().await.unwrap().to_bytes())
    }

    #[tokio::test]
    async fn serves_files_and_passes_the_rest() {
        let (_tree, handler) = tree("basic");
        let (status, headers, body) = call(&handler, Method::GET, "/static/a.txt", &[]).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
        assert_eq!(headers[header::CONTENT_TYPE], "text/plain");
        assert_eq!(headers[header::CACHE_CONTROL], "max-age=90");
        assert!(headers.contains_key(header::EXPIRES));
        let (status, _, body) = call(&handler, Method::GET, "/other", &[]).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"app"[..]));
        let (status, _, _) = call(&handler, Method::GET, "/static/nope", &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, headers, _) = call(&handler, Method::DELETE, "/static/a.txt", &[]).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::ALLOW], "GET, HEAD");
        let (status, _, body) = call(&handler, Method::GET, "/static/dir/", &[]).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"<p>"[..]));
    }

    #[tokio::test]
    async fn conditional_range_and_encoding() {
        let (_tree, handler) = tree("conditional");
        let (_, headers, _) = call(&handler, Method::GET, "/static/a.txt", &[]).await;
        let etag = headers[header::ETAG].to_str().unwrap().to_owned();
        let (status, _, body) = call(&handler, Method::GET, "/static/a.txt", &[("if-none-match", &etag)]).await;
        assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));
        let (status, headers, body) = call(&handler, Method::GET, "/static/a.txt", &[("range", "bytes=1-2")]).await;
        assert_eq!((status, &body[..]), (StatusCode::PARTIAL_CONTENT, &b"el"[..]));
        assert_eq!(headers[header::CONTENT_RANGE], "bytes 1-2/5");
        let (status, _, _) = call(&handler, Method::GET, "/static/a.txt", &[("range", "bytes=9-")]).await;
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
        let (_, headers, body) = call(&handler, Method::GET, "/static/a.txt", &[("accept-encoding", "gzip")]).await;
        assert_eq!(&body[..], b"gz");
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        assert_eq!(headers[header::VARY], "accept-encoding");
    }

    #[tokio::test]
    async fn large_files_stream_in_chunks() {
        let (tree, handler) = tree("stream");
        let expected = std::fs::read(tree.0.join("mnt/big.bin")).unwrap();
        let (status, headers, body) = call(&handler, Method::GET, "/static/big.bin", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_LENGTH], "300000");
        assert_eq!(&body[..], &expected[..]);
        let (status, _, body) = call(
            &handler,
            Method::GET,
            "/static/big.bin",
            &[("range", "bytes=1000-250000")],
        )
        .await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(&body[..], &expected[1000..=250_000]);
        let (status, headers, body) = call(&handler, Method::HEAD, "/static/big.bin", &[]).await;
        assert_eq!((status, body.len()), (StatusCode::OK, 0));
        assert_eq!(headers[header::CONTENT_LENGTH], "300000");
    }

    #[tokio::test]
    async fn dotfiles_are_not_found_unless_allowed() {
        let (_tree, handler) = tree("dotfiles");
        for path in [
            "/static/.env",
            "/static/.git/config",
            "/static/%2egit/config",
            "/static/.git/",
        ] {
            let (status, _, body) = call(&handler, Method::GET, path, &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert!(!body.starts_with(b"SECRET") && !body.starts_with(b"[core]"), "{path}");
        }
        let (status, _, body) = call(&handler, Method::GET, "/static/.well-known/security.txt", &[]).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"Contact: x"[..]));
        let (_tree, handler) = tree_with("dotfiles-on", true);
        let (status, _, body) = call(&handler, Method::GET, "/static/.env", &[]).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"SECRET=1"[..]));
        let (status, _, body) = call(&handler, Method::GET, "/static/.git/config", &[]).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"[core]"[..]));
    }

    #[test]
    fn expiry_stops_at_the_last_http_date() {
        let now = SystemTime::now();
        assert_eq!(expiry(now, Duration::from_secs(90)), now + Duration::from_secs(90));
        let far = expiry(now, Duration::from_secs(u64::MAX));
        // Formats without panicking, as the last second of year 9999.
        assert_eq!(date_value(far), "Fri, 31 Dec 9999 23:59:59 GMT");
        // Ten thousand years from now.
        let beyond = expiry(now, Duration::from_hours(87_600_000));
        assert_eq!(beyond, far);
    }

    #[tokio::test]
    async fn switched_off_passes_everything() {
        let handler = StaticFiles::new(App, None);
        let addr = "127.0.0.1:1".parse().unwrap();
        let conn = Arc::new(ConnInfo::new(addr, addr, granian_serve::Scheme::Http));
        let request = Request::builder()
            .uri("/static/a.txt")
            .body(IncomingBody::full(Bytes::new()))
            .unwrap();
        let body = handler
            .handle(request, &conn)
            .await
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], b"app");
    }
}
