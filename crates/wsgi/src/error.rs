use pyo3::exceptions::{PyConnectionAbortedError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

/// What went wrong between the server and a WSGI application.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A status that is not a three-digit code (100..=999), optionally followed by a space and
    /// a reason phrase.
    #[error("invalid status {status:?}: {reason}")]
    BadStatus {
        /// The status as the application gave it.
        status: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A response header HTTP does not allow.
    #[error("invalid response header {name:?}: {reason}")]
    BadHeader {
        /// The header's name as the application gave it.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An argument or a body item of the wrong type.
    #[error("{what} must be {expected}, not {found}")]
    WrongType {
        /// What was passed.
        what: &'static str,
        /// The type PEP 3333 asks for.
        expected: &'static str,
        /// The type's name that came instead.
        found: String,
    },
    /// `start_response` called again without `exc_info` (PEP 3333: a fatal error).
    #[error("start_response called a second time without exc_info")]
    AlreadyStarted,
    /// Body bytes, or the end of the response, before `start_response`.
    #[error("start_response was not called before {0}")]
    NotStarted(&'static str),
    /// `write()` once the response is complete.
    #[error("write() called after the response completed")]
    Finished,
    /// The client went away.
    #[error("client disconnected")]
    Disconnected,
    /// The request body could not be read to its end (the client left mid-body, or sent a
    /// malformed chunk).
    #[error("request body incomplete: {0}")]
    Input(String),
}

impl From<Error> for PyErr {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        match err {
            Error::BadStatus { .. } | Error::BadHeader { .. } => PyValueError::new_err(message),
            Error::WrongType { .. } => PyTypeError::new_err(message),
            Error::AlreadyStarted | Error::NotStarted(_) | Error::Finished => PyRuntimeError::new_err(message),
            // An OSError subclass: frameworks expect read errors on wsgi.input to be OSErrors
            // (Django turns them into UnreadablePostError), and the client is gone either way.
            Error::Disconnected | Error::Input(_) => PyConnectionAbortedError::new_err(message),
        }
    }
}

/// The type name of `object`, for messages.
pub(crate) fn type_name(object: &Bound<'_, PyAny>) -> String {
    object
        .get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |name| name.to_string())
}
