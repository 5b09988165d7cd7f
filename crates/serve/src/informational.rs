use std::fmt;
use std::sync::Arc;

use http::{Response, StatusCode};

/// Sends informational (1xx) responses ahead of a request's final response, such as
/// `103 Early Hints` (RFC 8297). A protocol layer that can send them puts one in the request's
/// extensions before handing the request to the [`Handler`](crate::Handler); an interface takes it
/// from there. A request without one cannot get informational responses, and an interface should
/// not offer them to its application.
///
/// One [`InformationalSink`] serves a whole connection; each request's handle is the sink and the
/// request's number on the connection, so handing one out costs no allocation.
#[derive(Clone)]
pub struct Informational {
    sink: Arc<dyn InformationalSink>,
    request: u64,
}

/// Where a connection's informational responses go: written out, or queued to be written before
/// anything else of the response.
pub trait InformationalSink: Send + Sync + 'static {
    /// Send `head` for request `request` of the connection; whether it could (not when the final
    /// response of that request is already on its way, or the connection is gone).
    fn send(&self, request: u64, head: Response<()>) -> bool;
}

impl<F: Fn(u64, Response<()>) -> bool + Send + Sync + 'static> InformationalSink for F {
    fn send(&self, request: u64, head: Response<()>) -> bool {
        self(request, head)
    }
}

impl Informational {
    /// The handle of request `request` on a connection whose informational responses go to
    /// `sink`.
    pub fn new(sink: Arc<dyn InformationalSink>, request: u64) -> Self {
        Self { sink, request }
    }

    /// Send `head`, a 1xx status other than `101 Switching Protocols` with its headers, ahead of
    /// the final response. `false` when it was not sent: another status, the final response
    /// already on its way, or the connection gone.
    #[expect(
        clippy::must_use_candidate,
        reason = "sending is the point; whether it went out is for the callers that care"
    )]
    pub fn send(&self, head: Response<()>) -> bool {
        is_informational(head.status()) && self.sink.send(self.request, head)
    }
}

/// Whether `status` may be sent as an informational response: 1xx, but not the 101 that
/// switches protocols (the protocol layer's own business).
#[must_use]
pub fn is_informational(status: StatusCode) -> bool {
    status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS
}

impl fmt::Debug for Informational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Informational")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn only_informational_statuses_are_sent() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&sent);
        let sink = move |request: u64, head: Response<()>| {
            assert_eq!(request, 7);
            seen.lock().unwrap().push(head.status().as_u16());
            true
        };
        let informational = Informational::new(Arc::new(sink), 7);
        for status in [103, 100, 101, 200, 404] {
            let mut head = Response::new(());
            *head.status_mut() = StatusCode::from_u16(status).unwrap();
            assert_eq!(informational.send(head), matches!(status, 100 | 103), "{status}");
        }
        assert_eq!(*sent.lock().unwrap(), [103, 100]);
    }
}
