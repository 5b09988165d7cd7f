use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{Request, Response};

use crate::{ConnInfo, Handler, IncomingBody, ResponseBody};

/// How many requests a server has handed to its interface since it started.
///
/// One relaxed atomic increment per request: the count only feeds a periodic check (a worker
/// asking to be replaced after `max_requests`), which needs no ordering with anything else.
#[derive(Debug, Clone, Default)]
pub struct RequestCount(Arc<AtomicU64>);

impl RequestCount {
    /// A count at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The requests counted so far.
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A [`Handler`] that counts every request in a [`RequestCount`] before passing it on.
#[derive(Debug, Clone)]
pub struct Counted<H> {
    handler: H,
    count: RequestCount,
}

impl<H> Counted<H> {
    /// Count the requests `handler` gets in `count`.
    #[must_use]
    pub fn new(handler: H, count: RequestCount) -> Self {
        Self { handler, count }
    }
}

impl<H: Handler> Handler for Counted<H> {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<H> {
        self.count.0.fetch_add(1, Ordering::Relaxed);
        self.handler.handle(request, conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scheme;
    use http::StatusCode;

    #[derive(Clone)]
    struct Ok200;

    impl Handler for Ok200 {
        fn handle(
            &self,
            _request: Request<IncomingBody>,
            _conn: &Arc<ConnInfo>,
        ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
            async { crate::error_response(StatusCode::OK) }
        }
    }

    #[tokio::test]
    async fn counts_each_request_across_clones() {
        let count = RequestCount::new();
        let handler = Counted::new(Ok200, count.clone());
        let other = handler.clone();
        let addr = "127.0.0.1:1".parse().unwrap();
        let conn = Arc::new(ConnInfo::new(addr, addr, Scheme::Http));
        assert_eq!(count.get(), 0);
        let response = handler
            .handle(Request::new(IncomingBody::full(bytes::Bytes::new())), &conn)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let _ = other
            .handle(Request::new(IncomingBody::full(bytes::Bytes::new())), &conn)
            .await;
        assert_eq!(count.get(), 2);
    }
}
