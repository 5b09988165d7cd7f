use std::future::Future;

use bytes::Bytes;
use granian_serve::ShutdownWatch;
use http::{HeaderMap, HeaderValue, Request, header};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;

/// The largest body an upgrading request may carry: it is read whole before the switch.
/// A request with a larger or chunked body is served as plain HTTP/1.1 instead, which RFC
/// 9110 §7.8 allows ("a server MAY ignore a received Upgrade header field").
pub const UPGRADE_BODY_LIMIT: u64 = 1024 * 1024;

/// A protocol an HTTP/1.1 connection may switch to (RFC 9110 §7.8): which requests ask for it,
/// and what serves the connection after the `101 Switching Protocols` response.
pub trait Upgrades: Clone + Send + Sync + 'static {
    /// The `upgrade` token to answer with when this request head asks for the protocol and
    /// is valid for it; `None` serves the request as HTTP/1.1.
    fn accept(&self, headers: &HeaderMap) -> Option<HeaderValue>;

    /// Serve the connection once switched. `request` is the upgrading request with its body
    /// read whole; `io` continues right after the 101 response.
    fn serve(
        &self,
        request: Request<Bytes>,
        io: TokioIo<Upgraded>,
        watch: ShutdownWatch,
    ) -> impl Future<Output = ()> + Send + 'static;
}

/// No protocol switching: every request is served as HTTP/1.1.
#[derive(Debug, Clone, Copy)]
pub struct NoUpgrades;

impl Upgrades for NoUpgrades {
    fn accept(&self, _headers: &HeaderMap) -> Option<HeaderValue> {
        None
    }

    fn serve(
        &self,
        _request: Request<Bytes>,
        _io: TokioIo<Upgraded>,
        _watch: ShutdownWatch,
    ) -> impl Future<Output = ()> + Send + 'static {
        std::future::ready(())
    }
}

/// Whether a request's body is small enough, and delimited by length, to be read whole
/// before switching protocols.
pub(crate) fn body_fits(headers: &HeaderMap) -> bool {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return false;
    }
    match headers.get(header::CONTENT_LENGTH) {
        None => true,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|length| length <= UPGRADE_BODY_LIMIT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn bodies_that_fit() {
        assert!(body_fits(&headers(&[])));
        assert!(body_fits(&headers(&[("content-length", "1048576")])));
        assert!(!body_fits(&headers(&[("content-length", "1048577")])));
        assert!(!body_fits(&headers(&[("content-length", "x")])));
        assert!(!body_fits(&headers(&[("transfer-encoding", "chunked")])));
    }
}
