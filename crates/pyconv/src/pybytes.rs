use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// Bodies at least this large are handed to the connection without a copy.
const ZERO_COPY_FROM: usize = 16 * 1024;

/// An immutable Python object's buffer, kept alive without a copy while a connection writes it.
struct PyOwned {
    _object: Py<PyAny>,
    data: &'static [u8],
}

impl AsRef<[u8]> for PyOwned {
    fn as_ref(&self) -> &[u8] {
        self.data
    }
}

fn share(object: &Bound<'_, PyAny>, data: &[u8]) -> Bytes {
    if data.len() < ZERO_COPY_FROM {
        return Bytes::copy_from_slice(data);
    }
    // SAFETY: `data` is the buffer of an immutable object (a bytes object's contents, or a
    // str's UTF-8 form, which CPython caches in the object for its lifetime). The owner holds
    // a strong reference to the object, so the slice stays valid as long as the `Bytes` (and
    // so the owner) lives.
    let data: &'static [u8] = unsafe { std::slice::from_raw_parts(data.as_ptr(), data.len()) };
    Bytes::from_owner(PyOwned {
        _object: object.clone().unbind(),
        data,
    })
}

/// A bytes object's contents as [`Bytes`]; large ones are shared rather than copied.
#[must_use]
pub fn bytes_from_py(bytes: &Bound<'_, PyBytes>) -> Bytes {
    share(bytes.as_any(), bytes.as_bytes())
}

/// A str's UTF-8 encoding as [`Bytes`]; large ones are shared rather than copied.
pub fn bytes_from_str(text: &Bound<'_, PyString>) -> PyResult<Bytes> {
    Ok(share(text.as_any(), text.to_str()?.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_bodies_keep_their_contents() {
        Python::attach(|py| {
            let small = PyBytes::new(py, b"abc");
            assert_eq!(bytes_from_py(&small), Bytes::from_static(b"abc"));
            let payload: Vec<u8> = (0..=255u8).cycle().take(ZERO_COPY_FROM * 2).collect();
            let large = PyBytes::new(py, &payload);
            let shared = bytes_from_py(&large);
            assert_eq!(shared.as_ptr(), large.as_bytes().as_ptr());
            drop(large);
            assert_eq!(&shared[..], &payload[..]);
        });
    }

    #[test]
    fn strings_encode_as_utf8() {
        Python::attach(|py| {
            let text = "é".repeat(ZERO_COPY_FROM);
            let shared = bytes_from_str(&PyString::new(py, &text)).unwrap();
            assert_eq!(&shared[..], text.as_bytes());
            assert_eq!(
                bytes_from_str(&PyString::new(py, "hi")).unwrap(),
                Bytes::from_static(b"hi")
            );
        });
    }
}
