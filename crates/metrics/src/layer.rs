use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::Either;
use granian_serve::{ConnInfo, Handler, IncomingBody, ResponseBody, Tallied};
use http::{Request, Response};
use http_body::Body;

use crate::{Recorder, reached};

/// A [`Handler`] counting what passes through it in a [`Recorder`]: requests, response
/// statuses, the time to each response head, request and response body bytes, and, with
/// [`Reached`](crate::Reached) markers below it, the requests the static files layer answered.
/// Without a recorder it passes requests straight through.
#[derive(Debug, Clone)]
pub struct Metered<H> {
    handler: H,
    recorder: Option<Recorder>,
}

impl<H> Metered<H> {
    /// Count the traffic of `handler` in `recorder`, if any.
    #[must_use]
    pub fn new(handler: H, recorder: Option<Recorder>) -> Self {
        Self { handler, recorder }
    }
}

impl<H: Handler> Handler for Metered<H> {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<H> {
        let recorder = self.recorder.clone();
        let Some(recorder) = recorder else {
            return Either::Left(self.handler.handle(request, conn));
        };
        recorder.request();
        let started = Instant::now();
        let request = count_request(&recorder, request);
        reached::reset();
        let response = self.handler.handle(request, conn);
        let static_file = reached::answered_by_static_files();
        Either::Right(async move {
            let response = response.await;
            let status = response.status();
            recorder.response(status.as_u16(), started.elapsed());
            if static_file {
                recorder.static_file(!(status.is_client_error() || status.is_server_error()));
            }
            count_response(recorder, response)
        })
    }
}

/// A body whose length is known up front is counted at once; any other is counted as it is
/// read.
fn count_request(recorder: &Recorder, request: Request<IncomingBody>) -> Request<IncomingBody> {
    let body = request.body();
    if body.is_end_stream() {
        return request;
    }
    if let Some(length) = body.size_hint().exact() {
        recorder.received(length);
        return request;
    }
    let recorder = recorder.clone();
    request.map(|body| IncomingBody::boxed(Tallied::new(body, move |bytes| recorder.received(bytes))))
}

/// As [`count_request`], for the response body on its way out.
fn count_response(recorder: Recorder, response: Response<ResponseBody>) -> Response<ResponseBody> {
    if let Some(length) = response.body().size_hint().exact() {
        recorder.sent(length);
        return response;
    }
    response.map(|body| ResponseBody::wrap(Tallied::new(body, move |bytes| recorder.sent(bytes))))
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use granian_serve::{BodyError, Scheme};
    use http::StatusCode;
    use http_body::Frame;
    use http_body_util::BodyExt;

    use super::*;
    use crate::{Reached, Region, Stage};

    /// Echoes the request body back, streamed when `stream` is asked for in the path.
    #[derive(Clone)]
    struct Echo;

    impl Handler for Echo {
        fn handle(
            &self,
            request: Request<IncomingBody>,
            _conn: &Arc<ConnInfo>,
        ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
            async move {
                let stream = request.uri().path() == "/stream";
                let status = if request.uri().path() == "/missing" {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::OK
                };
                let body = request.into_body().collect().await.unwrap().to_bytes();
                let body = if stream {
                    let (tx, streamed) = ResponseBody::channel(4);
                    assert!(tx.try_send(body_half(&body, true)).is_ok());
                    assert!(tx.try_send(body_half(&body, false)).is_ok());
                    streamed
                } else {
                    ResponseBody::full(body)
                };
                let mut response = Response::new(body);
                *response.status_mut() = status;
                response
            }
        }
    }

    fn body_half(body: &Bytes, first: bool) -> Bytes {
        let middle = body.len() / 2;
        if first {
            body.slice(..middle)
        } else {
            body.slice(middle..)
        }
    }

    fn conn() -> Arc<ConnInfo> {
        let addr = "127.0.0.1:1".parse().unwrap();
        Arc::new(ConnInfo::new(addr, addr, Scheme::Http))
    }

    fn value(text: &str, series: &str) -> String {
        text.lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_default()
            .to_owned()
    }

    async fn send(handler: &Metered<Echo>, path: &str, body: IncomingBody) -> Bytes {
        let mut request = Request::new(body);
        *request.uri_mut() = path.parse().unwrap();
        let response = handler.handle(request, &conn()).await;
        response.into_body().collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn counts_requests_statuses_and_bytes() {
        let region = Arc::new(Region::new(1).unwrap());
        let recorder = region.recorder(region.assign(1).unwrap()).unwrap();
        let handler = Metered::new(Echo, Some(recorder));
        assert_eq!(
            send(&handler, "/", IncomingBody::full(Bytes::from_static(b"hello"))).await,
            "hello"
        );
        assert_eq!(
            send(&handler, "/stream", IncomingBody::full(Bytes::from_static(b"abcdef"))).await,
            "abcdef"
        );
        let streamed = IncomingBody::boxed(Chunks(vec![
            Bytes::from_static(b"z"),
            Bytes::from_static(b"y"),
            Bytes::from_static(b"x"),
        ]));
        assert_eq!(send(&handler, "/missing", streamed).await, "xyz");
        let text = region.render();
        assert_eq!(value(&text, "granian_requests_handled{worker=\"1\"}"), "3");
        assert_eq!(value(&text, "granian_responses_total{worker=\"1\",code=\"200\"}"), "2");
        assert_eq!(value(&text, "granian_responses_total{worker=\"1\",code=\"404\"}"), "1");
        assert_eq!(value(&text, "granian_request_body_bytes_total{worker=\"1\"}"), "14");
        assert_eq!(value(&text, "granian_response_body_bytes_total{worker=\"1\"}"), "14");
        assert_eq!(
            value(&text, "granian_request_duration_seconds_count{worker=\"1\"}"),
            "3"
        );
    }

    #[tokio::test]
    async fn passes_through_without_a_recorder() {
        let handler = Metered::new(Echo, None);
        assert_eq!(
            send(&handler, "/stream", IncomingBody::full(Bytes::from_static(b"ab"))).await,
            "ab"
        );
    }

    /// Answers `/static/...` itself (404 for `/static/missing`), like the static files layer,
    /// and passes anything else on.
    #[derive(Clone)]
    struct FakeStatic<H>(H);

    impl<H: Handler> Handler for FakeStatic<H> {
        fn handle(
            &self,
            request: Request<IncomingBody>,
            conn: &Arc<ConnInfo>,
        ) -> impl Future<Output = Response<ResponseBody>> + Send + use<H> {
            match request.uri().path() {
                "/static/missing" => {
                    Either::Left(std::future::ready(granian_serve::error_response(StatusCode::NOT_FOUND)))
                }
                path if path.starts_with("/static/") => Either::Left(std::future::ready(Response::new(
                    ResponseBody::full(Bytes::from_static(b"file")),
                ))),
                _ => Either::Right(self.0.handle(request, conn)),
            }
        }
    }

    #[tokio::test]
    async fn tells_static_files_from_the_application() {
        let region = Arc::new(Region::new(1).unwrap());
        let recorder = region.recorder(region.assign(1).unwrap()).unwrap();
        let application = Reached::new(Echo, Stage::Application, true);
        let files = Reached::new(FakeStatic(application), Stage::StaticFiles, true);
        let handler = Metered::new(files, Some(recorder));
        for path in ["/static/a", "/static/b", "/static/missing", "/", "/missing"] {
            let mut request = Request::new(IncomingBody::full(Bytes::new()));
            *request.uri_mut() = path.parse().unwrap();
            let _ = handler.handle(request, &conn()).await;
        }
        let text = region.render();
        assert_eq!(value(&text, "granian_static_requests_handled{worker=\"1\"}"), "2");
        assert_eq!(value(&text, "granian_static_requests_err{worker=\"1\"}"), "1");
        assert_eq!(value(&text, "granian_requests_handled{worker=\"1\"}"), "5");
    }

    /// A request body of unknown length, its frames popped from the end.
    struct Chunks(Vec<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = BodyError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
            Poll::Ready(self.0.pop().map(|chunk| Ok(Frame::data(chunk))))
        }
    }
}
