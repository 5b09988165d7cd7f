//! Conversions every interface (ASGI, RSGI, WSGI) makes between Python objects and the bytes of
//! requests and responses: [`bytes_from_py`] and [`bytes_from_str`] hand large Python buffers
//! to a connection without a copy, and [`percent_decode`] turns a request path into the decoded
//! path a scope or environ reports. Knows nothing of event loops or threads.

mod path;
mod pybytes;

pub use path::percent_decode;
pub use pybytes::{bytes_from_py, bytes_from_str};
