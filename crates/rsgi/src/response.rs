use bytes::Bytes;
use granian_pyconv::bytes_from_py;
use http::header::{HeaderName, HeaderValue};
use http::{Response, StatusCode};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString, PyTuple};

use crate::error::Error;

/// A response head from the status and `(str, str)` header pairs an application gave.
pub fn response_head(status: i64, headers: Option<&Bound<'_, PyAny>>) -> PyResult<Response<()>> {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or(Error::BadStatus(status))?;
    let mut response = Response::new(());
    *response.status_mut() = status;
    if let Some(headers) = headers.filter(|headers| !headers.is_none()) {
        let map = response.headers_mut();
        for item in headers.try_iter().map_err(|_| Error::BadHeaders)? {
            let item = item?;
            let (name, value) = header_pair(&item).ok_or(Error::BadHeaders)?;
            let (name, value) = (name.to_str()?, value.to_str()?);
            let bad = || Error::BadHeader { name: name.to_owned() };
            let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let header_value = HeaderValue::from_str(value).map_err(|_| bad())?;
            map.append(header_name, header_value);
        }
    }
    Ok(response)
}

fn header_pair<'py>(item: &Bound<'py, PyAny>) -> Option<(Bound<'py, PyString>, Bound<'py, PyString>)> {
    // Tuples, what applications pass nearly always, are read without the sequence protocol.
    if let Ok(pair) = item.cast::<PyTuple>() {
        if pair.len() != 2 {
            return None;
        }
        let name = pair.get_item(0).ok()?.cast_into::<PyString>().ok()?;
        let value = pair.get_item(1).ok()?.cast_into::<PyString>().ok()?;
        return Some((name, value));
    }
    // A two-letter str is a sequence of two str too.
    if item.is_instance_of::<PyString>() || item.len().ok()? != 2 {
        return None;
    }
    let name = item.get_item(0).ok()?.cast_into::<PyString>().ok()?;
    let value = item.get_item(1).ok()?.cast_into::<PyString>().ok()?;
    Some((name, value))
}

/// A `bytes` (shared when large) or `bytearray` (copied) body.
pub(crate) fn body_bytes(body: &Bound<'_, PyAny>, what: &'static str) -> PyResult<Bytes> {
    if let Ok(bytes) = body.cast::<PyBytes>() {
        return Ok(bytes_from_py(bytes));
    }
    if let Ok(array) = body.cast::<PyByteArray>() {
        return Ok(Bytes::from(array.to_vec()));
    }
    Err(Error::NotBytes(what).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::exceptions::{PyTypeError, PyValueError};
    use pyo3::types::PyList;

    fn headers<'py>(py: Python<'py>, code: &std::ffi::CStr) -> Bound<'py, PyAny> {
        py.eval(code, None, None).unwrap()
    }

    #[test]
    fn builds_status_and_headers() {
        Python::attach(|py| {
            let list = headers(py, c"[('Content-Type', 'text/plain'), ('x-a', '1'), ('x-a', '2')]");
            let head = response_head(201, Some(&list)).unwrap();
            assert_eq!(head.status(), 201);
            assert_eq!(head.headers()["content-type"], "text/plain");
            assert_eq!(head.headers().get_all("x-a").iter().count(), 2);
            // The `Server` header is the protocol layers' to add (`granian_serve::add_default_headers`).
            assert!(!head.headers().contains_key("server"));
            let own = headers(py, c"[('server', 'mine')]");
            assert_eq!(response_head(200, Some(&own)).unwrap().headers()["server"], "mine");
            assert_eq!(response_head(204, None).unwrap().status(), 204);
        });
    }

    #[test]
    fn refuses_bad_input() {
        Python::attach(|py| {
            for status in [0, 99, 1000, -1, i64::MAX] {
                let err = response_head(status, None).unwrap_err();
                assert!(err.is_instance_of::<PyValueError>(py), "{status}");
            }
            for code in [
                c"[('a',)]",
                c"[('a', 'b', 'c')]",
                c"[(b'a', b'b')]",
                c"['ab']",
                c"[('a', 1)]",
                c"5",
            ] {
                let err = response_head(200, Some(&headers(py, code))).unwrap_err();
                assert!(err.is_instance_of::<PyTypeError>(py), "{code:?}");
            }
            for code in [c"[('bad name', 'v')]", c"[('x', 'a\\nb')]", c"[('', 'v')]"] {
                let err = response_head(200, Some(&headers(py, code))).unwrap_err();
                assert!(err.is_instance_of::<PyValueError>(py), "{code:?}");
            }
            // Pairs that are not tuples go through the sequence protocol.
            let lists = headers(py, c"[['x-a', '1'], ('x-b', '2')]");
            let head = response_head(200, Some(&lists)).unwrap();
            assert_eq!(
                (&head.headers()["x-a"], &head.headers()["x-b"]),
                (&"1".parse().unwrap(), &"2".parse().unwrap())
            );
            let empty = PyList::empty(py);
            assert!(response_head(200, Some(empty.as_any())).is_ok());
        });
    }

    #[test]
    fn bodies_are_bytes() {
        Python::attach(|py| {
            let bytes = PyBytes::new(py, b"abc");
            assert_eq!(body_bytes(bytes.as_any(), "body").unwrap(), Bytes::from_static(b"abc"));
            let array = PyByteArray::new(py, b"xy");
            assert_eq!(body_bytes(array.as_any(), "body").unwrap(), Bytes::from_static(b"xy"));
            let text = PyString::new(py, "no");
            assert!(
                body_bytes(text.as_any(), "body")
                    .unwrap_err()
                    .is_instance_of::<PyTypeError>(py)
            );
        });
    }
}
