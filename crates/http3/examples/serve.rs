//! A standalone HTTP/3 server for trying clients and load generators against the crate without
//! Python: `cargo run --release -p granian-http3 --example serve -- 127.0.0.1:8443 30`
//! serves for 30 seconds with a fresh self-signed certificate for `localhost`. `GET` answers
//! `hello`; `POST` echoes its body.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use granian_http3::{ALPN_H3, Http3Limits, Http3Server, bind_udp};
use granian_serve::{ConnInfo, Handler, IncomingBody, Phase, ResponseBody, Shutdown};
use http::{HeaderValue, Method, Request, Response};
use http_body_util::BodyExt;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

#[derive(Clone)]
struct Hello;

impl Handler for Hello {
    fn handle(
        &self,
        request: Request<IncomingBody>,
        _conn: &Arc<ConnInfo>,
    ) -> impl Future<Output = Response<ResponseBody>> + Send + use<> {
        async move {
            if request.method() == Method::POST {
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .map(http_body_util::Collected::to_bytes)
                    .unwrap_or_default();
                return Response::new(ResponseBody::full(body));
            }
            Response::new(ResponseBody::full(Bytes::from_static(b"hello")))
        }
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .as_deref()
        .unwrap_or("127.0.0.1:8443")
        .parse()
        .expect("an address");
    let seconds: u64 = args.next().as_deref().unwrap_or("30").parse().expect("whole seconds");
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("a certificate and its key");
    tls.alpn_protocols = vec![ALPN_H3.to_vec()];
    let limits = Http3Limits {
        max_concurrent_streams: 100,
        idle_timeout: Some(Duration::from_secs(30)),
        keep_alive_interval: None,
        max_udp_payload_size: 1472,
        initial_stream_window_size: 1024 * 1024,
        initial_connection_window_size: 4 * 1024 * 1024,
        max_headers_size: 16 * 1024,
        max_body_size: None,
        header_read_timeout: Some(Duration::from_secs(30)),
        body_read_timeout: None,
        send_timeout: None,
        max_connections: None,
        validate_address: false,
        migration: false,
        server_header: Some(HeaderValue::from_static("granian")),
    };
    let socket = bind_udp(addr, false).expect("the address is free");
    let server = Http3Server::new(socket, Arc::new(tls), limits).expect("a QUIC endpoint");
    println!("Listening at: https://{} (HTTP/3) for {seconds}s", server.local_addr());
    let shutdown = Arc::new(Shutdown::new());
    let serving = {
        let shutdown = Arc::clone(&shutdown);
        tokio::spawn(async move { server.serve(Hello, &shutdown).await })
    };
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    shutdown.advance(Phase::Draining);
    if tokio::time::timeout(Duration::from_secs(5), shutdown.wait_idle())
        .await
        .is_err()
    {
        shutdown.advance(Phase::Closing);
    }
    let _ = serving.await;
}
