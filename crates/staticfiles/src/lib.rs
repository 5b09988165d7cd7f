//! Static files served before the application: requests whose path falls under a configured
//! route are answered from the directory mounted there ([`StaticFiles`], configured by
//! [`StaticSettings`]), every other request goes to the wrapped
//! [`Handler`](granian_serve::Handler) untouched. Knows nothing about Python.
//!
//! GET and HEAD only; validators (`ETag`, `Last-Modified`) and conditional requests, single
//! byte ranges, and precompressed `.br`/`.gz` siblings chosen by `Accept-Encoding`. Paths are
//! percent-decoded once and refused (404) when they hold `..`, a NUL or a backslash, or
//! resolve, through symlinks, outside their mount.

mod conditional;
mod encoding;
mod error;
mod handler;
mod path;
mod range;
mod settings;

pub use error::Error;
pub use handler::StaticFiles;
pub use settings::StaticSettings;
