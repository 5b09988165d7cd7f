use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    _native,
    ClientDisconnected,
    PyOSError,
    "Raised by `send` once the client has gone away (ASGI spec: a subclass of OSError)."
);

/// `args[0]` of the `RuntimeError` a message of the wrong type or at the wrong time raises.
const UNSUPPORTED: &str = "Unsupported ASGI message";

/// What an application did wrong in a message it sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message of a type this interface does not know, or at the wrong time.
    #[error("unexpected ASGI message '{kind}' {when}")]
    UnexpectedMessage {
        /// The message's `type`.
        kind: String,
        /// Why it was unexpected.
        when: &'static str,
    },
    /// A message that is not a dict, or a key of the wrong type.
    #[error("ASGI message {0}")]
    BadMessage(String),
    /// A status outside 100..=999.
    #[error("invalid HTTP status {0}")]
    BadStatus(i64),
    /// A header name or value HTTP does not allow.
    #[error("invalid response header {name:?}")]
    BadHeader {
        /// The header's name as sent.
        name: String,
    },
    /// The client is gone.
    #[error("client disconnected")]
    Disconnected,
}

impl From<Error> for PyErr {
    fn from(err: Error) -> Self {
        match err {
            // Granian's words come first (applications and tests compare `args[0]` with them);
            // the second argument says which message and why.
            Error::UnexpectedMessage { .. } => PyRuntimeError::new_err((UNSUPPORTED, err.to_string())),
            Error::BadMessage(_) => PyTypeError::new_err(err.to_string()),
            Error::BadStatus(_) | Error::BadHeader { .. } => PyValueError::new_err(err.to_string()),
            Error::Disconnected => ClientDisconnected::new_err(err.to_string()),
        }
    }
}
