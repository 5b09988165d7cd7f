use std::borrow::Cow;

use http::{HeaderMap, HeaderValue};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyIterator, PyList, PyString};

/// A header value as text. HTTP header bytes are ISO-8859-1 (RFC 9110 §5.5): every byte
/// maps to one character, so nothing is lost and `value.encode('latin-1')` gives the bytes
/// back. Plain ASCII, the usual case, is borrowed as is.
#[must_use]
pub fn header_text(value: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(value) {
        Ok(text) if value.is_ascii() => Cow::Borrowed(text),
        _ => Cow::Owned(value.iter().map(|&byte| char::from(byte)).collect()),
    }
}

fn text<'py>(py: Python<'py>, value: &HeaderValue) -> Bound<'py, PyString> {
    PyString::new(py, &header_text(value.as_bytes()))
}

/// The request headers as the RSGI scope's read-only mapping: lower-case names, `str` values,
/// `get_all` for repeated headers. `keys()` and iteration give each name once, `values()` and
/// `items()` give every value.
#[pyclass(frozen, mapping, module = "granian._native", name = "RSGIHeaders")]
pub struct RsgiHeaders {
    map: HeaderMap,
}

impl RsgiHeaders {
    /// Wrap a request's headers.
    #[must_use]
    pub fn new(map: HeaderMap) -> Self {
        Self { map }
    }
}

#[pymethods]
impl RsgiHeaders {
    /// Each header name once, in the order first seen.
    #[must_use]
    pub fn keys(&self) -> Vec<&str> {
        self.map.keys().map(http::HeaderName::as_str).collect()
    }

    /// Every value, repeated headers included.
    #[must_use]
    pub fn values<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyString>> {
        self.map.values().map(|value| text(py, value)).collect()
    }

    /// Every `(name, value)` pair, repeated headers included.
    #[must_use]
    pub fn items<'py>(&self, py: Python<'py>) -> Vec<(&str, Bound<'py, PyString>)> {
        self.map
            .iter()
            .map(|(name, value)| (name.as_str(), text(py, value)))
            .collect()
    }

    /// The first value of `key` (any case), or `default`.
    #[pyo3(signature = (key, default = None))]
    #[must_use]
    pub fn get(&self, py: Python<'_>, key: &str, default: Option<Py<PyAny>>) -> Option<Py<PyAny>> {
        match self.map.get(key) {
            Some(value) => Some(text(py, value).into_any().unbind()),
            None => default,
        }
    }

    /// Every value of `key` (any case), in the order received.
    #[must_use]
    pub fn get_all<'py>(&self, py: Python<'py>, key: &str) -> Vec<Bound<'py, PyString>> {
        self.map.get_all(key).iter().map(|value| text(py, value)).collect()
    }

    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyString>> {
        self.map
            .get(key)
            .map(|value| text(py, value))
            .ok_or_else(|| PyKeyError::new_err(key.to_owned()))
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> bool {
        key.cast::<PyString>()
            .ok()
            .and_then(|key| key.to_str().ok().map(|key| self.map.contains_key(key)))
            .unwrap_or(false)
    }

    fn __len__(&self) -> usize {
        self.map.keys_len()
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyIterator>> {
        PyList::new(py, self.keys())?.try_iter()
    }

    fn __repr__(&self) -> String {
        let items: Vec<String> = self
            .map
            .iter()
            .map(|(name, value)| format!("({:?}, {:?})", name.as_str(), header_text(value.as_bytes())))
            .collect();
        format!("RSGIHeaders([{}])", items.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderName;
    use pyo3::types::PyDict;

    fn sample() -> RsgiHeaders {
        let mut map = HeaderMap::new();
        map.append(HeaderName::from_static("host"), HeaderValue::from_static("example.com"));
        map.append(HeaderName::from_static("x-multi"), HeaderValue::from_static("a"));
        map.append(HeaderName::from_static("accept"), HeaderValue::from_static("*/*"));
        map.append(HeaderName::from_static("x-multi"), HeaderValue::from_static("b"));
        map.append(
            HeaderName::from_static("x-latin"),
            HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
        RsgiHeaders::new(map)
    }

    #[test]
    fn names_once_values_all() {
        Python::attach(|py| {
            let headers = sample();
            assert_eq!(headers.keys(), ["host", "x-multi", "accept", "x-latin"]);
            let values: Vec<String> = headers.values(py).iter().map(ToString::to_string).collect();
            assert_eq!(values.len(), 5);
            assert_eq!(headers.__len__(), 4);
            let all: Vec<String> = headers.get_all(py, "x-multi").iter().map(ToString::to_string).collect();
            assert_eq!(all, ["a", "b"]);
            assert_eq!(headers.items(py).len(), 5);
        });
    }

    #[test]
    fn lookups_ignore_case_and_fall_back() {
        Python::attach(|py| {
            let headers = sample();
            let host = headers.get(py, "HOST", None).unwrap();
            assert_eq!(host.bind(py).to_string(), "example.com");
            assert!(headers.get(py, "missing", None).is_none());
            let fallback = headers.get(py, "missing", Some(py.None())).unwrap();
            assert!(fallback.is_none(py));
            assert!(headers.get(py, "bad name\n", None).is_none());
            assert!(
                headers
                    .__getitem__(py, "nope")
                    .unwrap_err()
                    .is_instance_of::<PyKeyError>(py)
            );
        });
    }

    #[test]
    fn behaves_as_a_mapping_in_python() {
        Python::attach(|py| {
            let locals = PyDict::new(py);
            locals.set_item("h", Py::new(py, sample()).unwrap()).unwrap();
            py.run(
                c"
assert 'Accept' in h and 'accept' in h and 'nope' not in h and 1 not in h
assert list(h) == ['host', 'x-multi', 'accept', 'x-latin']
assert h['x-multi'] == 'a'
assert h['x-latin'] == 'caf\\xe9' and h['x-latin'].encode('latin-1') == b'caf\\xe9'
assert dict(h.items())['accept'] == '*/*'
assert len(h) == 4
",
                None,
                Some(&locals),
            )
            .unwrap();
        });
    }

    #[test]
    fn text_is_latin1() {
        assert!(matches!(header_text(b"plain"), Cow::Borrowed("plain")));
        assert_eq!(header_text(b"\xff\x80a"), "\u{ff}\u{80}a");
    }
}
