//! Proxy headers and the URL path prefix: a [`Handler`](granian_serve::Handler) layer that,
//! for requests from a trusted proxy, reads the proxy headers it was told to read
//! ([`ProxyHeaderSet`]: RFC 7239 `Forwarded`, `X-Forwarded-For`, `-Proto`, `-Host`, `-Port`,
//! `-Prefix`) and attaches what they say to the request as a
//! [`RequestOrigin`](granian_serve::RequestOrigin), together with the configured URL path
//! prefix. Interfaces read that; they never parse these headers themselves.
//!
//! A header no one named is never read: the proxy in front overwrites only the headers it
//! sets, and a client sends whatever it likes in the others. The client address is found by
//! walking the hops from the nearest (the last one a proxy appended) past trusted proxies.

mod error;
mod forwarded;
mod headers;
mod layer;
mod node;
mod trust;

pub use error::Error;
pub use forwarded::{ForwardedElement, forwarded_elements, parse_forwarded};
pub use headers::{ProxyHeader, ProxyHeaderSet};
pub use layer::{ProxyHeaders, ProxySettings};
pub use node::parse_node;
pub use trust::TrustedProxies;
