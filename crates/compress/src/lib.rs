//! The response layer of granian: on-the-fly response compression (brotli, zstd, gzip),
//! negotiated from the request's `Accept-Encoding`. Streamed bodies are compressed as they
//! go, flushed whenever the application pauses, so server-sent events keep flowing. Knows
//! nothing about Python nor about any particular HTTP version.

mod body;
mod decide;
mod encoder;
mod error;
mod layer;
mod negotiate;

pub use decide::{compressible, compressible_type};
pub use error::Error;
pub use layer::{CompressionSettings, ResponseLayer};
pub use negotiate::{Encoding, negotiate};
