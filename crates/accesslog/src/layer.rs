use std::future::Future;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use futures_util::future::Either;
use granian_serve::{ConnInfo, Handler, IncomingBody, RequestOrigin, ResponseBody, Tallied};
use http::header::HeaderMap;
use http::{HeaderValue, Request, Response, Version};

use crate::clock::local_time;
use crate::{Format, LineQueue, Record};

/// Where an [`AccessLog`] layer sends its lines: the compiled format and the queue a logging
/// thread drains.
#[derive(Debug)]
pub struct AccessLogSink {
    format: Format,
    queue: Arc<LineQueue>,
}

impl AccessLogSink {
    /// Format lines with `format` into `queue`.
    #[must_use]
    pub fn new(format: Format, queue: Arc<LineQueue>) -> Self {
        Self { format, queue }
    }

    /// The queue lines go to.
    #[must_use]
    pub fn queue(&self) -> &Arc<LineQueue> {
        &self.queue
    }

    /// How lines are formatted.
    #[must_use]
    pub fn format(&self) -> &Format {
        &self.format
    }
}

/// A [`Handler`] that writes one access log line per request once its response body ended
/// (written out, aborted, or abandoned with its connection), so the duration and byte count
/// are final. Without a sink, requests pass straight through.
#[derive(Debug, Clone)]
pub struct AccessLog<H> {
    handler: H,
    sink: Option<Arc<AccessLogSink>>,
}

impl<H> AccessLog<H> {
    /// Log the requests `handler` answers into `sink`; `None` logs nothing.
    #[must_use]
    pub fn new(handler: H, sink: Option<Arc<AccessLogSink>>) -> Self {
        Self { handler, sink }
    }
}

impl<H: Handler> Handler for AccessLog<H> {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<H> {
        let Some(sink) = &self.sink else {
            return Either::Left(self.handler.handle(request, conn));
        };
        let sink = Arc::clone(sink);
        let pending = Pending::arrived(&sink, &request, conn);
        let response = self.handler.handle(request, conn);
        Either::Right(async move {
            let response = response.await;
            let (parts, body) = response.into_parts();
            let pending = pending.responded(&sink, &parts.headers, parts.status.as_u16());
            // The line is written when `pending` goes, with the body.
            let mut pending = pending;
            let body = ResponseBody::wrap(Tallied::new(body, move |bytes| pending.sent(bytes)));
            Response::from_parts(parts, body)
        })
    }
}

/// A request whose line is not written yet.
struct Pending {
    sink: Arc<AccessLogSink>,
    started: Instant,
    record: Record,
}

impl Pending {
    fn arrived(sink: &Arc<AccessLogSink>, request: &Request<IncomingBody>, conn: &ConnInfo) -> Self {
        let started = Instant::now();
        let format = &sink.format;
        let origin = request.extensions().get::<RequestOrigin>();
        let addr = match origin.and_then(|origin| origin.client.as_ref()) {
            Some(client) => Some(client.host()),
            None => conn.peer.map(|peer| peer.ip().to_string()),
        };
        let scheme = origin.and_then(|origin| origin.scheme).unwrap_or(conn.scheme);
        let record = Record {
            addr,
            time: if format.uses_time() {
                local_time(SystemTime::now())
            } else {
                String::new()
            },
            dt_ms: 0.0,
            status: 0,
            path: request.uri().path().to_owned(),
            query_string: request.uri().query().unwrap_or("").to_owned(),
            method: request.method().as_str().to_owned(),
            scheme: scheme.as_str(),
            protocol: match request.version() {
                Version::HTTP_09 => "HTTP/0.9",
                Version::HTTP_10 => "HTTP/1.0",
                Version::HTTP_2 => "HTTP/2",
                Version::HTTP_3 => "HTTP/3",
                _ => "HTTP/1.1",
            },
            bytes_sent: 0,
            request_headers: capture(format.request_headers(), request.headers()),
            response_headers: Vec::new(),
        };
        Self {
            sink: Arc::clone(sink),
            started,
            record,
        }
    }

    /// Count `bytes` more of the response body as handed to the connection.
    fn sent(&mut self, bytes: u64) {
        self.record.bytes_sent += bytes;
    }

    fn responded(mut self, sink: &AccessLogSink, headers: &HeaderMap, status: u16) -> Self {
        self.record.status = status;
        self.record.response_headers = capture(sink.format.response_headers(), headers);
        self
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        // No response (the client left before the application answered): nothing to log.
        if self.record.status == 0 {
            return;
        }
        self.record.dt_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let line = self.sink.format.render(&self.record);
        self.sink.queue.push(line);
    }
}

/// Header values as text: UTF-8 when they are, otherwise byte by byte as Latin-1 (RFC 9110
/// §5.5: field values are octets, historically ISO-8859-1).
fn capture(names: &[http::HeaderName], headers: &HeaderMap) -> Vec<Option<String>> {
    names.iter().map(|name| headers.get(name).map(latin1)).collect()
}

fn latin1(value: &HeaderValue) -> String {
    match std::str::from_utf8(value.as_bytes()) {
        Ok(text) => text.to_owned(),
        Err(_) => value.as_bytes().iter().map(|&byte| char::from(byte)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use granian_serve::Scheme;
    use http_body_util::BodyExt;
    use std::time::Duration;

    #[derive(Clone)]
    struct Hello;

    impl Handler for Hello {
        fn handle(
            &self,
            _request: Request<IncomingBody>,
            _conn: &Arc<ConnInfo>,
        ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
            async {
                let mut response = Response::new(ResponseBody::full(Bytes::from_static(b"hello")));
                *response.status_mut() = http::StatusCode::CREATED;
                response.headers_mut().insert("x-out", HeaderValue::from_static("yes"));
                response
            }
        }
    }

    fn conn() -> Arc<ConnInfo> {
        Arc::new(ConnInfo::new(
            "10.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:8000".parse().unwrap(),
            Scheme::Http,
        ))
    }

    fn request() -> Request<IncomingBody> {
        Request::builder()
            .uri("/p?q=1")
            .header("user-agent", "t\u{e9}st")
            .body(IncomingBody::full(Bytes::new()))
            .unwrap()
    }

    #[tokio::test]
    async fn logs_once_the_body_is_written() {
        let queue = Arc::new(LineQueue::new(8));
        let format = Format::new(
            "%(addr)s %(method)s %(path)s %(query_string)s %(status)d %(bytes_sent)d %(header{user-agent})s \
             %(response_header{x-out})s %(protocol)s %(scheme)s",
            false,
        )
        .unwrap();
        let layer = AccessLog::new(Hello, Some(Arc::new(AccessLogSink::new(format, Arc::clone(&queue)))));
        let response = layer.handle(request(), &conn()).await;
        assert_eq!(queue.drain(Duration::ZERO), Some(vec![]));
        assert_eq!(
            response.into_body().collect().await.unwrap().to_bytes(),
            Bytes::from_static(b"hello")
        );
        let lines = queue.drain(Duration::ZERO).unwrap();
        assert_eq!(lines, ["10.0.0.1 GET /p q=1 201 5 t\u{e9}st yes HTTP/1.1 http"]);
    }

    #[tokio::test]
    async fn non_utf8_header_reads_as_latin1() {
        let queue = Arc::new(LineQueue::new(8));
        let format = Format::new("%(header{x})s", false).unwrap();
        let layer = AccessLog::new(Hello, Some(Arc::new(AccessLogSink::new(format, Arc::clone(&queue)))));
        let mut request = request();
        request
            .headers_mut()
            .insert("x", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        drop(layer.handle(request, &conn()).await);
        assert_eq!(queue.drain(Duration::ZERO).unwrap(), ["caf\u{e9}"]);
    }

    #[tokio::test]
    async fn a_trusted_proxy_names_the_client_and_scheme() {
        let queue = Arc::new(LineQueue::new(8));
        let format = Format::new("%(addr)s %(scheme)s", false).unwrap();
        let layer = AccessLog::new(Hello, Some(Arc::new(AccessLogSink::new(format, Arc::clone(&queue)))));
        let mut request = request();
        request.extensions_mut().insert(RequestOrigin {
            client: Some(granian_serve::ClientAddr::Ip("[2001:db8::1]:4711".parse().unwrap())),
            scheme: Some(Scheme::Https),
            ..RequestOrigin::default()
        });
        drop(layer.handle(request, &conn()).await);
        assert_eq!(queue.drain(Duration::ZERO).unwrap(), ["2001:db8::1 https"]);
    }

    #[tokio::test]
    async fn an_unread_body_logs_zero_bytes() {
        let queue = Arc::new(LineQueue::new(8));
        let format = Format::new("%(bytes_sent)d", false).unwrap();
        let layer = AccessLog::new(Hello, Some(Arc::new(AccessLogSink::new(format, Arc::clone(&queue)))));
        drop(layer.handle(request(), &conn()).await);
        assert_eq!(queue.drain(Duration::ZERO).unwrap(), ["0"]);
    }

    #[tokio::test]
    async fn without_a_sink_passes_through() {
        let layer = AccessLog::new(Hello, None);
        let response = layer.handle(request(), &conn()).await;
        assert_eq!(response.status(), http::StatusCode::CREATED);
    }
}
