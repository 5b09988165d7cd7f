use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::Either;
use granian_serve::{ConnInfo, Handler, IncomingBody, ResponseBody, only_get_or_head};
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};

use crate::Readiness;
use crate::readiness::NotReady;

/// The paths probes are answered on; a request for any other path goes to the application.
/// Each starts with `/` and is matched exactly, without its query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthPaths {
    /// Liveness: 200 while the process serves, drain included.
    pub health: Option<Box<str>>,
    /// Readiness: 200 while [`Readiness`] says so, 503 otherwise.
    pub ready: Option<Box<str>>,
}

#[derive(Debug, Clone, Copy)]
enum Probe {
    Health,
    Ready,
}

impl HealthPaths {
    fn probe(&self, path: &str) -> Option<Probe> {
        if self.health.as_deref() == Some(path) {
            Some(Probe::Health)
        } else if self.ready.as_deref() == Some(path) {
            Some(Probe::Ready)
        } else {
            None
        }
    }
}

#[derive(Debug)]
struct Probes {
    paths: HealthPaths,
    readiness: Arc<Readiness>,
}

/// Answers health and readiness probes in front of `H`; with no paths, passes every request on.
#[derive(Debug, Clone)]
pub struct Health<H> {
    handler: H,
    probes: Option<Arc<Probes>>,
}

impl<H> Health<H> {
    /// Answer the probes on `paths` (none when `None`) from `readiness`, in front of `handler`.
    #[must_use]
    pub fn new(handler: H, paths: Option<HealthPaths>, readiness: Arc<Readiness>) -> Self {
        let probes = paths
            .filter(|paths| paths.health.is_some() || paths.ready.is_some())
            .map(|paths| Arc::new(Probes { paths, readiness }));
        Self { handler, probes }
    }
}

impl<H: Handler> Handler for Health<H> {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<H> {
        if let Some(probes) = &self.probes
            && let Some(probe) = probes.paths.probe(request.uri().path())
        {
            let probes = Arc::clone(probes);
            let method = request.method().clone();
            return Either::Right(async move { answer(&probes.readiness, probe, &method).await });
        }
        Either::Left(self.handler.handle(request, conn))
    }
}

async fn answer(readiness: &Readiness, probe: Probe, method: &Method) -> Response<ResponseBody> {
    if let Some(refused) = only_get_or_head(method) {
        return refused;
    }
    let head = method == Method::HEAD;
    let (status, text) = match probe {
        Probe::Health => (StatusCode::OK, "ok\n"),
        Probe::Ready => match readiness.ready().await {
            Ok(()) => (StatusCode::OK, "ready\n"),
            Err(NotReady::Draining) => (StatusCode::SERVICE_UNAVAILABLE, "draining\n"),
            Err(NotReady::Check) => (StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        },
    };
    let body = if head {
        ResponseBody::empty()
    } else {
        ResponseBody::full(Bytes::from_static(text.as_bytes()))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    // A cached answer would say nothing about the server now.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReadyCheck;
    use http_body_util::BodyExt;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    /// The application: counts its calls, answers 204.
    #[derive(Clone, Default)]
    struct App(Arc<AtomicUsize>);

    impl Handler for App {
        fn handle(
            &self,
            _request: Request<IncomingBody>,
            _conn: &Arc<ConnInfo>,
        ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
            self.0.fetch_add(1, Ordering::SeqCst);
            let mut response = Response::new(ResponseBody::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            std::future::ready(response)
        }
    }

    struct Flag(Arc<AtomicBool>);

    impl ReadyCheck for Flag {
        fn check(&self) -> Pin<Box<dyn Future<Output = bool> + Send>> {
            Box::pin(std::future::ready(self.0.load(Ordering::SeqCst)))
        }
    }

    fn paths() -> HealthPaths {
        HealthPaths {
            health: Some("/healthz".into()),
            ready: Some("/readyz".into()),
        }
    }

    fn conn() -> Arc<ConnInfo> {
        Arc::new(ConnInfo::new(
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:8000".parse().unwrap(),
            granian_serve::Scheme::Http,
        ))
    }

    async fn call<H: Handler>(handler: &H, method: Method, uri: &str) -> (StatusCode, Vec<u8>) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(IncomingBody::full(Bytes::new()))
            .unwrap();
        let response = handler.handle(request, &conn()).await;
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, body)
    }

    #[tokio::test]
    async fn probes_never_reach_the_application() {
        let app = App::default();
        let readiness = Arc::new(Readiness::new());
        let health = Health::new(app.clone(), Some(paths()), Arc::clone(&readiness));
        assert_eq!(
            call(&health, Method::GET, "/healthz").await,
            (StatusCode::OK, b"ok\n".to_vec())
        );
        assert_eq!(
            call(&health, Method::GET, "/readyz?verbose=1").await,
            (StatusCode::OK, b"ready\n".to_vec())
        );
        assert_eq!(
            call(&health, Method::HEAD, "/readyz").await,
            (StatusCode::OK, Vec::new())
        );
        assert_eq!(
            call(&health, Method::POST, "/healthz").await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(app.0.load(Ordering::SeqCst), 0);
        // Other paths, including look-alikes, are the application's.
        for path in ["/", "/healthz/", "/readyz2", "/Healthz"] {
            assert_eq!(
                call(&health, Method::GET, path).await.0,
                StatusCode::NO_CONTENT,
                "{path}"
            );
        }
        assert_eq!(app.0.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn readiness_follows_the_drain_and_the_check() {
        let passing = Arc::new(AtomicBool::new(false));
        let readiness = Arc::new(Readiness::with_check(
            Flag(Arc::clone(&passing)),
            Duration::from_secs(1),
            Duration::ZERO,
        ));
        let health = Health::new(App::default(), Some(paths()), Arc::clone(&readiness));
        assert_eq!(
            call(&health, Method::GET, "/readyz").await,
            (StatusCode::SERVICE_UNAVAILABLE, b"not ready\n".to_vec())
        );
        passing.store(true, Ordering::SeqCst);
        assert_eq!(call(&health, Method::GET, "/readyz").await.0, StatusCode::OK);
        readiness.drain();
        assert_eq!(
            call(&health, Method::GET, "/readyz").await,
            (StatusCode::SERVICE_UNAVAILABLE, b"draining\n".to_vec())
        );
        // Liveness holds while draining.
        assert_eq!(call(&health, Method::GET, "/healthz").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn without_paths_everything_passes() {
        let app = App::default();
        let health = Health::new(app.clone(), None, Arc::new(Readiness::new()));
        assert_eq!(call(&health, Method::GET, "/healthz").await.0, StatusCode::NO_CONTENT);
        let health = Health::new(app.clone(), Some(HealthPaths::default()), Arc::new(Readiness::new()));
        assert!(health.probes.is_none());
        assert_eq!(app.0.load(Ordering::SeqCst), 1);
    }
}
