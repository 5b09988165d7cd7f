use std::fs::File;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;
use granian_serve::StreamSender;
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use tokio::runtime::Handle;

/// Bytes read from a file per chunk when the server streams it itself.
const FILE_CHUNK: u64 = 256 * 1024;

/// `wsgi.file_wrapper(filelike, blksize=8192)` (PEP 3333's optional platform-specific file
/// handling). Iterating it yields `filelike.read(blksize)` until `b''`; `close()` closes the
/// file. Returned as the response of an application, a wrapper around a regular file with a
/// descriptor is sent by the server from the file itself, from its current position, without
/// the bytes passing through Python; anything else (`BytesIO`, pipes, sockets) is iterated.
#[pyclass(frozen, module = "granian._native", name = "WSGIFileWrapper")]
pub(crate) struct FileWrapper {
    filelike: Py<PyAny>,
    blksize: usize,
}

/// A file the server reads itself: its own descriptor, from `offset`, `length` bytes.
pub(crate) struct NativeFile {
    file: File,
    offset: u64,
    /// The bytes from `offset` to the end of the file.
    pub(crate) length: u64,
}

impl FileWrapper {
    /// The wrapped object as a file the server can read itself, or `None` when it is not a
    /// regular file with a descriptor and a position (the wrapper is then iterated).
    pub(crate) fn native(&self, py: Python<'_>, text_io: &Bound<'_, PyAny>) -> Option<NativeFile> {
        let filelike = self.filelike.bind(py);
        // A text file would give `str`: iterating reports that as the error it is.
        if filelike.is_instance(text_io).unwrap_or(true) {
            return None;
        }
        let fd: RawFd = filelike.call_method0(intern!(py, "fileno")).ok()?.extract().ok()?;
        // The logical position, which accounts for what a buffered reader read ahead.
        let offset: u64 = filelike.call_method0(intern!(py, "tell")).ok()?.extract().ok()?;
        if fd < 0 {
            return None;
        }
        // SAFETY: `fileno()` just returned `fd` for an open file, and it cannot be closed
        // while this thread holds the GIL; it is only borrowed to duplicate it, so the server
        // keeps its own descriptor however the application closes the file later.
        let owned = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned().ok()?;
        let file = File::from(owned);
        let metadata = file.metadata().ok()?;
        if !metadata.is_file() {
            return None;
        }
        Some(NativeFile {
            file,
            offset,
            length: metadata.len().saturating_sub(offset),
        })
    }
}

impl NativeFile {
    /// Send `limit` bytes of the file through `sender` on `runtime`, reading off the runtime's
    /// threads, a chunk at a time as the client takes them; then run `done`. A file that ends
    /// early aborts the body, whose declared length cannot be met.
    pub(crate) fn stream(
        self,
        runtime: &Handle,
        limit: u64,
        sender: StreamSender,
        done: impl FnOnce() + Send + 'static,
    ) {
        runtime.spawn(async move {
            let file = Arc::new(self.file);
            let mut offset = self.offset;
            let mut left = limit;
            while left > 0 {
                let size = left.min(FILE_CHUNK);
                let reader = Arc::clone(&file);
                let read = tokio::task::spawn_blocking(move || read_at(&reader, offset, size)).await;
                let chunk = match read {
                    Ok(Ok(chunk)) if !chunk.is_empty() => chunk,
                    _ => {
                        sender.abort();
                        break;
                    }
                };
                offset += chunk.len() as u64;
                left = left.saturating_sub(chunk.len() as u64);
                if !sender.send(chunk).await {
                    break;
                }
            }
            drop(sender);
            done();
        });
    }
}

/// Up to `size` bytes at `offset`; fewer only at the end of the file.
fn read_at(file: &File, offset: u64, size: u64) -> io::Result<Bytes> {
    let mut buffer = vec![0; usize::try_from(size).unwrap_or(usize::MAX)];
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read_at(&mut buffer[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    buffer.truncate(filled);
    Ok(Bytes::from(buffer))
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize = 8192))]
    fn new(filelike: Py<PyAny>, blksize: isize) -> PyResult<Self> {
        let blksize = usize::try_from(blksize)
            .ok()
            .filter(|&size| size > 0)
            .ok_or_else(|| PyValueError::new_err("blksize must be a positive integer"))?;
        Ok(Self { filelike, blksize })
    }

    /// The wrapped file-like object.
    #[getter]
    fn filelike(&self, py: Python<'_>) -> Py<PyAny> {
        self.filelike.clone_ref(py)
    }

    /// The size of the blocks iteration reads.
    #[getter]
    fn blksize(&self) -> usize {
        self.blksize
    }

    fn __iter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let data = self
            .filelike
            .bind(py)
            .call_method1(intern!(py, "read"), (self.blksize,))?;
        Ok(data.is_truthy()?.then_some(data))
    }

    /// Close the wrapped object, if it can be closed.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let filelike = self.filelike.bind(py);
        if filelike.hasattr(intern!(py, "close"))? {
            filelike.call_method0(intern!(py, "close"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_at_an_offset_and_stops_at_the_end() {
        let path = std::env::temp_dir().join(format!("granian-wsgi-read-at-{}", std::process::id()));
        File::create(&path).unwrap().write_all(b"0123456789").unwrap();
        let file = File::open(&path).unwrap();
        assert_eq!(read_at(&file, 2, 3).unwrap(), Bytes::from_static(b"234"));
        assert_eq!(read_at(&file, 8, 10).unwrap(), Bytes::from_static(b"89"));
        assert_eq!(read_at(&file, 20, 10).unwrap(), Bytes::new());
        std::fs::remove_file(path).unwrap();
    }
}
