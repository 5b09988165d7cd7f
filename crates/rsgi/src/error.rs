use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    _native,
    RSGIProtocolError,
    PyRuntimeError,
    "The application used the RSGI protocol out of order: a second response, or the request body read twice."
);

create_exception!(
    _native,
    RSGIProtocolClosed,
    PyRuntimeError,
    "The RSGI protocol is closed: the client left, the response is complete, or its stream ended."
);

/// What an application did wrong, or what stopped it, when using the protocol object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A second `response_*` call for one request.
    #[error("a response was already sent for this request")]
    AlreadyResponded,
    /// `await protocol()` or iteration after the body was taken the other way or already.
    #[error("the request body was already read")]
    BodyConsumed,
    /// A body read after a complete response.
    #[error("the response is complete: the request body can no longer be read")]
    ResponseComplete,
    /// The client is gone.
    #[error("client disconnected")]
    Disconnected,
    /// `await protocol()` on a body larger than a whole read may hold.
    #[error(
        "the request body is larger than the {limit} bytes `await protocol()` may hold (--max-body-buffer-size); \
         read it with `async for chunk in protocol`"
    )]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// `send_*` on a stream transport whose response has ended.
    #[error("the response stream is closed")]
    StreamClosed,
    /// A websocket protocol used out of order (accepted twice, or after closing).
    #[error("{0}")]
    Websocket(&'static str),
    /// A status outside 100..=999.
    #[error("invalid HTTP status {0}")]
    BadStatus(i64),
    /// A header name or value HTTP does not allow.
    #[error("invalid response header {name:?}")]
    BadHeader {
        /// The header's name as given.
        name: String,
    },
    /// Headers that are not `(str, str)` pairs.
    #[error("response headers must be a list of (str, str) tuples")]
    BadHeaders,
    /// A body of the wrong type.
    #[error("{0} must be bytes")]
    NotBytes(&'static str),
    /// A file range that selects nothing.
    #[error("invalid file range: start ({start}) must be below end ({end})")]
    BadRange {
        /// First byte, inclusive.
        start: u64,
        /// Last byte, exclusive.
        end: u64,
    },
}

impl From<Error> for PyErr {
    fn from(err: Error) -> Self {
        match err {
            Error::AlreadyResponded | Error::BodyConsumed | Error::Websocket(_) => {
                RSGIProtocolError::new_err(err.to_string())
            }
            Error::ResponseComplete | Error::Disconnected | Error::BodyTooLarge { .. } | Error::StreamClosed => {
                RSGIProtocolClosed::new_err(err.to_string())
            }
            Error::BadStatus(_) | Error::BadHeader { .. } | Error::BadRange { .. } => {
                PyValueError::new_err(err.to_string())
            }
            Error::BadHeaders | Error::NotBytes(_) => PyTypeError::new_err(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_named_exceptions() {
        Python::attach(|py| {
            let err = PyErr::from(Error::AlreadyResponded);
            assert!(err.is_instance_of::<RSGIProtocolError>(py));
            assert_eq!(
                err.value(py).to_string(),
                "a response was already sent for this request"
            );
            assert!(PyErr::from(Error::ResponseComplete).is_instance_of::<RSGIProtocolClosed>(py));
            assert!(PyErr::from(Error::Disconnected).is_instance_of::<RSGIProtocolClosed>(py));
            assert!(PyErr::from(Error::BodyTooLarge { limit: 9 }).is_instance_of::<RSGIProtocolClosed>(py));
            assert!(PyErr::from(Error::BadStatus(42)).is_instance_of::<PyValueError>(py));
            assert!(PyErr::from(Error::BadHeaders).is_instance_of::<PyTypeError>(py));
            // Both are RuntimeErrors, as in Granian, so `except RuntimeError` keeps working.
            assert!(PyErr::from(Error::StreamClosed).is_instance_of::<PyRuntimeError>(py));
        });
    }
}
