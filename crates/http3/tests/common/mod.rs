//! A server on 127.0.0.1 with a self-signed certificate and a test handler, and an h3 client.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::fmt::Write;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use granian_http3::{ALPN_H3, Http3Limits, Http3Server, Steering};
use granian_serve::{BodyAborted, ConnInfo, Handler, IncomingBody, ResponseBody, Shutdown};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::task::JoinHandle;

/// Bytes of the streamed response: `STREAM_CHUNKS` chunks of `STREAM_CHUNK` bytes.
pub const STREAM_CHUNK: usize = 16 * 1024;
pub const STREAM_CHUNKS: usize = 64;

/// The byte at `index` of a streamed or generated body.
pub fn pattern(index: usize) -> u8 {
    u8::try_from(index % 251).expect("below 256")
}

pub fn patterned(len: usize) -> Bytes {
    (0..len).map(pattern).collect::<Vec<u8>>().into()
}

/// Limits as the tests start from.
pub fn limits() -> Http3Limits {
    Http3Limits {
        max_concurrent_streams: 100,
        idle_timeout: Some(Duration::from_secs(10)),
        keep_alive_interval: None,
        max_udp_payload_size: 1472,
        initial_stream_window_size: 256 * 1024,
        initial_connection_window_size: 1024 * 1024,
        max_headers_size: 16 * 1024,
        max_body_size: None,
        header_read_timeout: Some(Duration::from_secs(5)),
        body_read_timeout: None,
        send_timeout: None,
        max_connections: None,
        validate_address: false,
        migration: false,
        server_header: Some(HeaderValue::from_static("granian")),
    }
}

/// What the handler saw that a response cannot tell: body errors, and how much of an endless
/// response body was produced.
#[derive(Clone, Default)]
pub struct Events {
    log: Arc<Mutex<Vec<String>>>,
    pub produced: Arc<AtomicUsize>,
}

impl Events {
    pub fn push(&self, event: String) {
        self.log.lock().unwrap().push(event);
    }

    pub fn all(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Wait until an event starting with `prefix` was recorded.
    pub async fn wait_for(&self, prefix: &str) -> String {
        loop {
            if let Some(event) = self.all().into_iter().find(|event| event.starts_with(prefix)) {
                return event;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// `/echo` returns the body, `/upload` counts it, `/ignore` leaves it unread, `/firehose`
/// streams without end, `/trailers` ends with trailers, `/stream` streams a patterned body, `/headers` lists the request
/// headers and what the connection reports, `/slow` answers after a while, anything else
/// `hello`.
#[derive(Clone)]
pub struct TestHandler {
    pub events: Events,
}

impl Handler for TestHandler {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
        let events = self.events.clone();
        let description = describe(&request, conn);
        let produced = Arc::clone(&self.events.produced);
        async move {
            match request.uri().path() {
                "/echo" => echo(request, &events).await,
                "/upload" => upload(request, &events).await,
                "/ignore" => {
                    // Answers without reading the body.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    drop(request);
                    Response::new(ResponseBody::full(Bytes::from_static(b"ignored")))
                }
                "/firehose" => {
                    // An endless body: how much of it gets produced shows the backpressure.
                    let (sender, body) = ResponseBody::channel(4);
                    tokio::spawn(async move {
                        let chunk = Bytes::from(vec![b'x'; STREAM_CHUNK]);
                        while sender.send(chunk.clone()).await {
                            produced.fetch_add(chunk.len(), Ordering::Relaxed);
                        }
                    });
                    Response::new(body)
                }
                "/trailers" => Response::new(ResponseBody::wrap(WithTrailers(0))),
                "/stream" => {
                    let (sender, body) = ResponseBody::channel(4);
                    tokio::spawn(async move {
                        for index in 0..STREAM_CHUNKS {
                            let chunk: Vec<u8> = (0..STREAM_CHUNK).map(|i| pattern(index * STREAM_CHUNK + i)).collect();
                            if !sender.send(chunk.into()).await {
                                return;
                            }
                        }
                    });
                    Response::new(body)
                }
                "/headers" => {
                    let mut text = description;
                    for (name, value) in request.headers() {
                        let _ = writeln!(text, "{name}: {}", value.to_str().unwrap_or("?"));
                    }
                    Response::new(ResponseBody::full(text.into()))
                }
                "/slow" => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    Response::new(ResponseBody::full(Bytes::from_static(b"slow done")))
                }
                "/own-server" => {
                    let mut response = Response::new(ResponseBody::full(Bytes::from_static(b"mine")));
                    response.headers_mut().insert("server", HeaderValue::from_static("app"));
                    response
                }
                _ => Response::new(ResponseBody::full(Bytes::from_static(b"hello"))),
            }
        }
    }
}

/// The request line and what the connection reports, one line each.
fn describe(request: &Request<IncomingBody>, conn: &ConnInfo) -> String {
    let tls = conn.tls.as_ref().and_then(|tls| tls.version);
    let mut description = format!(
        "peer={} local={} scheme={} tls={:?} version={:?} uri={}\n",
        conn.peer.map(|peer| peer.ip().to_string()).unwrap_or_default(),
        conn.local.map(|local| local.to_string()).unwrap_or_default(),
        conn.scheme.as_str(),
        tls,
        request.version(),
        request.uri(),
    );
    if let Some(tls) = &conn.tls
        && let Some(name) = &tls.client_cert_name
    {
        let first = tls
            .client_cert_chain
            .first()
            .map_or("", |pem| pem.lines().next().unwrap_or(""));
        let _ = writeln!(
            description,
            "client={name} chain={} first={first}",
            tls.client_cert_chain.len()
        );
    }
    description
}

async fn echo(request: Request<IncomingBody>, events: &Events) -> Response<ResponseBody> {
    match request.into_body().collect().await {
        Ok(body) => {
            let body = body.to_bytes();
            events.push(format!("body ok {}", body.len()));
            Response::new(ResponseBody::full(body))
        }
        Err(err) => {
            events.push(format!("body error: {err}"));
            let mut response = Response::new(ResponseBody::full(Bytes::from_static(b"body error")));
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response
        }
    }
}

/// Counts the body; reports its first frame, so a test knows the body is being read.
async fn upload(request: Request<IncomingBody>, events: &Events) -> Response<ResponseBody> {
    let mut body = request.into_body();
    let mut total = 0;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                if total == 0 {
                    events.push("body started".to_owned());
                }
                total += frame.data_ref().map_or(0, Bytes::len);
            }
            Some(Err(err)) => {
                events.push(format!("body error: {err}"));
                break;
            }
        }
    }
    Response::new(ResponseBody::full(total.to_string().into()))
}

/// `with trailers`, then the trailer `x-checksum: 42`.
struct WithTrailers(u8);

impl http_body::Body for WithTrailers {
    type Data = Bytes;
    type Error = BodyAborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BodyAborted>>> {
        self.0 += 1;
        Poll::Ready(match self.0 {
            1 => Some(Ok(http_body::Frame::data(Bytes::from_static(b"with trailers")))),
            2 => {
                let mut trailers = http::HeaderMap::new();
                trailers.insert("x-checksum", HeaderValue::from_static("42"));
                Some(Ok(http_body::Frame::trailers(trailers)))
            }
            _ => None,
        })
    }
}

/// A server running on its own task.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: Arc<Shutdown>,
    pub task: JoinHandle<()>,
    pub cert: CertificateDer<'static>,
    pub events: Events,
}

pub fn tls_config() -> (Arc<rustls::ServerConfig>, CertificateDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    tls.alpn_protocols = vec![ALPN_H3.to_vec()];
    (Arc::new(tls), cert)
}

pub fn start(limits: Http3Limits) -> TestServer {
    let (tls, cert) = tls_config();
    start_with(tls, cert, limits)
}

pub fn start_with(tls: Arc<rustls::ServerConfig>, cert: CertificateDer<'static>, limits: Http3Limits) -> TestServer {
    start_server(tls, cert, limits, None)
}

/// A server whose connection IDs carry `steering`.
pub fn start_steered(steering: Steering) -> TestServer {
    let (tls, cert) = tls_config();
    start_server(tls, cert, limits(), Some(steering))
}

fn start_server(
    tls: Arc<rustls::ServerConfig>,
    cert: CertificateDer<'static>,
    limits: Http3Limits,
    steering: Option<Steering>,
) -> TestServer {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = match steering {
        Some(steering) => Http3Server::steered(socket, tls, limits, steering).unwrap(),
        None => Http3Server::new(socket, tls, limits).unwrap(),
    };
    let addr = server.local_addr();
    let shutdown = Arc::new(Shutdown::new());
    let events = Events::default();
    let handler = TestHandler { events: events.clone() };
    let task = {
        let shutdown = Arc::clone(&shutdown);
        tokio::spawn(async move { server.serve(handler, &shutdown).await })
    };
    TestServer {
        addr,
        shutdown,
        task,
        cert,
        events,
    }
}

pub type SendRequest = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;
pub type ClientDriver = h3::client::Connection<h3_quinn::Connection, Bytes>;

/// An h3 client connection; its driver (which reads the server's control stream) runs on a
/// task of its own unless the test holds it.
pub struct Client {
    pub endpoint: quinn::Endpoint,
    pub connection: quinn::Connection,
    pub send: SendRequest,
    pub driver: Option<ClientDriver>,
}

/// A client TLS configuration trusting `cert`.
pub fn client_tls(
    cert: &CertificateDer<'static>,
) -> rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert> {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
}

pub async fn quic_connect(
    addr: SocketAddr,
    cert: &CertificateDer<'static>,
) -> Result<(quinn::Endpoint, quinn::Connection), quinn::ConnectionError> {
    quic_connect_with(addr, client_tls(cert).with_no_client_auth()).await
}

/// Connect with `tls`, which gets ALPN `h3`.
pub async fn quic_connect_with(
    addr: SocketAddr,
    mut tls: rustls::ClientConfig,
) -> Result<(quinn::Endpoint, quinn::Connection), quinn::ConnectionError> {
    tls.alpn_protocols = vec![ALPN_H3.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
    let connection = endpoint.connect(addr, "localhost").unwrap().await?;
    Ok((endpoint, connection))
}

/// Connect; with `drive`, the client's driver runs on its own task.
pub async fn connect(server: &TestServer, drive: bool) -> Client {
    let (endpoint, connection) = quic_connect(server.addr, &server.cert).await.unwrap();
    h3_client(endpoint, connection, drive).await
}

/// Speak h3 on a connected QUIC connection.
pub async fn h3_client(endpoint: quinn::Endpoint, connection: quinn::Connection, drive: bool) -> Client {
    let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(connection.clone()))
        .await
        .unwrap();
    let driver = if drive {
        tokio::spawn(async move {
            let _ = poll_fn(|cx| driver.poll_close(cx)).await;
        });
        None
    } else {
        Some(driver)
    };
    Client {
        endpoint,
        connection,
        send,
        driver,
    }
}

pub fn request(method: Method, path: &str) -> Request<()> {
    Request::builder()
        .method(method)
        .uri(format!("https://localhost{path}"))
        .body(())
        .unwrap()
}

/// Send `request` with `body` (in 64 KiB DATA frames) and read the whole response.
pub async fn fetch(
    send: &mut SendRequest,
    request: Request<()>,
    body: Option<Bytes>,
) -> Result<(Response<()>, Bytes), h3::error::StreamError> {
    let mut stream = send.send_request(request).await?;
    if let Some(body) = body {
        for chunk in body.chunks(64 * 1024) {
            // A server that answered early stops the upload: its response still arrives.
            if stream.send_data(Bytes::copy_from_slice(chunk)).await.is_err() {
                break;
            }
        }
    }
    let _ = stream.finish().await;
    let response = stream.recv_response().await?;
    let mut collected = BytesMut::new();
    while let Some(mut chunk) = stream.recv_data().await? {
        while chunk.has_remaining() {
            let part = chunk.chunk();
            collected.extend_from_slice(part);
            let len = part.len();
            chunk.advance(len);
        }
    }
    Ok((response, collected.freeze()))
}

/// Run `test` with a time limit, so a hang fails instead of stalling the suite.
pub async fn within<F: Future<Output = T>, T>(test: F) -> T {
    tokio::time::timeout(Duration::from_secs(30), test)
        .await
        .expect("test timed out")
}
