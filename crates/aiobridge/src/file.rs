//! Files answered from the runtime, for the interfaces whose applications name a file instead of
//! sending its bytes (RSGI `response_file`, ASGI `http.response.pathsend`): the file is opened and
//! read on the runtime in bounded chunks as the client takes them, never through Python.

use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::BytesMut;
use granian_serve::{ResponseBody, StreamSender, error_response};
use http::header::{CONTENT_LENGTH, HeaderValue};
use http::{Response, StatusCode};
use tokio::fs::File;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};
use tokio::sync::oneshot;

use crate::LoopContext;

/// Bytes read from the file per chunk.
const FILE_CHUNK: usize = 128 * 1024;
/// Chunks read ahead of the client; with [`FILE_CHUNK`] this bounds what a slow client costs.
const FILE_CHANNEL_CAPACITY: usize = 4;

/// An open file positioned at the first byte to send, and how many bytes to send.
struct Opened {
    file: File,
    length: u64,
}

/// Why a file cannot be sent.
enum Refusal {
    /// No such file (or a directory): the client asked for something that is not there.
    Missing,
    /// The file exists but the server cannot read it: its own problem, logged.
    Unreadable(io::Error),
}

async fn open(path: &Path, range: Option<(u64, u64)>) -> Result<Opened, Refusal> {
    let unreadable = Refusal::Unreadable;
    let mut file = match File::open(path).await {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(Refusal::Missing),
        Err(err) => return Err(unreadable(err)),
    };
    let metadata = file.metadata().await.map_err(unreadable)?;
    if metadata.is_dir() {
        return Err(Refusal::Missing);
    }
    if !metadata.is_file() {
        return Err(unreadable(io::Error::other("not a regular file")));
    }
    let size = metadata.len();
    let (start, end) = range.map_or((0, size), |(start, end)| (start.min(size), end.min(size)));
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await.map_err(unreadable)?;
    }
    Ok(Opened {
        file,
        length: end - start,
    })
}

/// A file to answer a request with.
#[derive(Debug, Clone)]
pub struct FileBody {
    /// Where the file is.
    pub path: PathBuf,
    /// Bytes `start` (inclusive) to `end` (exclusive) only, clipped to the file; `None` for all.
    pub range: Option<(u64, u64)>,
    /// Answer with the head only (a `HEAD` request): the file is opened and measured, not read.
    pub head_only: bool,
}

/// Open the file on `owner`'s runtime and answer `respond` with `head` and the file: its bytes
/// streamed in bounded chunks with `content-length` set, 404 when there is no such file (or a
/// directory), or 500 (logged on the interface's logger) when it cannot be read. `owner` keeps the
/// loop context alive while the file is sent.
pub fn respond_with_file<S>(
    owner: &Arc<S>,
    respond: oneshot::Sender<Response<ResponseBody>>,
    head: Response<()>,
    file: FileBody,
) where
    S: AsRef<LoopContext> + Send + Sync + 'static,
{
    let shared = Arc::clone(owner);
    let runtime = (*shared).as_ref().runtime().clone();
    runtime.spawn(async move {
        let FileBody { path, range, head_only } = file;
        let response = match open(&path, range).await {
            Ok(Opened { file, length }) => {
                let body = if length == 0 || head_only {
                    ResponseBody::empty()
                } else {
                    let (sender, body) = ResponseBody::channel(FILE_CHANNEL_CAPACITY);
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        if let Err(err) = stream_file(file.take(length), length, &sender).await {
                            (*shared).as_ref().abort_stream(&sender);
                            log_soon(&shared, format!("Reading file {} failed: {err}", path.display()));
                        }
                    });
                    body
                };
                let mut response = head.map(|()| body);
                response.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(length));
                response
            }
            Err(Refusal::Missing) => error_response(StatusCode::NOT_FOUND),
            Err(Refusal::Unreadable(err)) => {
                log_soon(&shared, format!("Cannot read file {}: {err}", path.display()));
                error_response(StatusCode::INTERNAL_SERVER_ERROR)
            }
        };
        let _ = respond.send(response);
    });
}

/// Send `length` bytes of `reader` through `sender` in chunks of at most [`FILE_CHUNK`],
/// each waiting for room in the channel. A client that goes away ends it early, without error;
/// a file shorter than announced is an error.
async fn stream_file<R: AsyncRead + Unpin>(mut reader: R, length: u64, sender: &StreamSender) -> io::Result<()> {
    let mut remaining = length;
    while remaining > 0 {
        let want = usize::try_from(remaining).map_or(FILE_CHUNK, |left| left.min(FILE_CHUNK));
        let mut chunk = BytesMut::with_capacity(want);
        while chunk.len() < want {
            if reader.read_buf(&mut chunk).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while being sent",
                ));
            }
        }
        remaining -= chunk.len() as u64;
        if !sender.send(chunk.freeze()).await {
            return Ok(());
        }
    }
    Ok(())
}

fn log_soon<S: AsRef<LoopContext> + Send + Sync + 'static>(shared: &Arc<S>, message: String) {
    let logger = Arc::clone(shared);
    (**shared)
        .as_ref()
        .handle()
        .schedule(Box::new(move |py| (*logger).as_ref().log_error(py, &message, None)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// The body's bytes, and whether it ended cleanly.
    async fn collect(body: ResponseBody) -> (Vec<u8>, bool) {
        match body.collect().await {
            Ok(collected) => (collected.to_bytes().to_vec(), true),
            Err(_) => (Vec::new(), false),
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("granian-file-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn streams_a_range_in_bounded_chunks() {
        let contents: Vec<u8> = (0..=255u8).cycle().take(FILE_CHUNK * 3 + 17).collect();
        let path = temp_file("range", &contents);
        runtime().block_on(async {
            let opened = open(&path, Some((5, (FILE_CHUNK * 2 + 9) as u64))).await.ok().unwrap();
            assert_eq!(opened.length, (FILE_CHUNK * 2 + 4) as u64);
            let (sender, body) = ResponseBody::channel(1);
            let reader = tokio::spawn(collect(body));
            stream_file(opened.file.take(opened.length), opened.length, &sender)
                .await
                .unwrap();
            drop(sender);
            let (bytes, clean) = reader.await.unwrap();
            assert!(clean);
            assert_eq!(bytes, &contents[5..FILE_CHUNK * 2 + 9]);
        });
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn ranges_are_clamped_to_the_file() {
        let path = temp_file("clamp", b"0123456789");
        runtime().block_on(async {
            assert_eq!(open(&path, Some((8, 100))).await.ok().unwrap().length, 2);
            assert_eq!(open(&path, Some((50, 100))).await.ok().unwrap().length, 0);
            assert_eq!(open(&path, None).await.ok().unwrap().length, 10);
        });
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn missing_files_and_directories_are_missing() {
        runtime().block_on(async {
            let missing = std::env::temp_dir().join("granian-file-definitely-missing");
            assert!(matches!(open(&missing, None).await, Err(Refusal::Missing)));
            assert!(matches!(open(&std::env::temp_dir(), None).await, Err(Refusal::Missing)));
        });
    }

    #[test]
    fn a_file_shorter_than_announced_is_an_error() {
        runtime().block_on(async {
            let (sender, body) = ResponseBody::channel(4);
            let err = stream_file(&b"short"[..], 10, &sender).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
            sender.abort();
            drop(sender);
            assert!(!collect(body).await.1);
        });
    }
}
