//! Proxy headers and the URL path prefix: a [`Handler`](granian_serve::Handler) layer that,
//! for requests from a trusted proxy, reads RFC 7239 `Forwarded` (or, without it,
//! `X-Forwarded-For`, `-Proto`, `-Host` and `-Prefix`) and attaches what they say to the request
//! as a [`RequestOrigin`](granian_serve::RequestOrigin), together with the configured URL path
//! prefix. Interfaces read that; they never parse these headers themselves.

mod error;
mod forwarded;
mod layer;
mod node;
mod trust;

pub use error::Error;
pub use forwarded::{ForwardedElement, parse_forwarded};
pub use layer::{ProxyHeaders, ProxySettings};
pub use node::parse_node;
pub use trust::TrustedProxies;
