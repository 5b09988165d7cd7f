//! End-to-end: an HTTP/3 server on 127.0.0.1 and an h3 client.

mod common;

use std::time::Duration;

use bytes::{Buf, Bytes};
use common::{STREAM_CHUNK, STREAM_CHUNKS, connect, fetch, limits, pattern, patterned, request, start, within};
use granian_http3::Http3Limits;
use granian_serve::Phase;
use http::{HeaderValue, Method, StatusCode};

#[tokio::test]
async fn get() {
    within(async {
        let server = start(limits());
        let mut client = connect(&server, true).await;
        let (response, body) = fetch(&mut client.send, request(Method::GET, "/"), None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), http::Version::HTTP_3);
        assert_eq!(response.headers()["content-length"], "5");
        assert_eq!(response.headers()["server"], "granian");
        assert_eq!(body, Bytes::from_static(b"hello"));
    })
    .await;
}

#[tokio::test]
async fn request_and_connection_are_described() {
    within(async {
        let server = start(limits());
        let mut client = connect(&server, true).await;
        let (_, body) = fetch(&mut client.send, request(Method::GET, "/headers?q=1"), None)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            format!(
                "peer=127.0.0.1 local={} scheme=https tls=Some(772) version=HTTP/3.0 uri=https://localhost/headers?q=1",
                server.addr
            )
        );
    })
    .await;
}

#[tokio::test]
async fn post_echoes_a_mebibyte() {
    within(async {
        let server = start(limits());
        let mut client = connect(&server, true).await;
        let body = patterned(1024 * 1024);
        let mut post = request(Method::POST, "/echo");
        post.headers_mut()
            .insert("content-length", HeaderValue::from(body.len()));
        let (response, echoed) = fetch(&mut client.send, post, Some(body.clone())).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(echoed.len(), body.len());
        assert!(echoed == body);
        // Without content-length too.
        let (response, echoed) = fetch(&mut client.send, request(Method::POST, "/echo"), Some(body.clone()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(echoed == body);
    })
    .await;
}

#[tokio::test]
async fn streamed_response() {
    within(async {
        let server = start(limits());
        let mut client = connect(&server, true).await;
        let (response, body) = fetch(&mut client.send, request(Method::GET, "/stream"), None)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("content-length"));
        assert_eq!(body.len(), STREAM_CHUNK * STREAM_CHUNKS);
        assert!(body.iter().enumerate().all(|(index, byte)| *byte == pattern(index)));
    })
    .await;
}

#[tokio::test]
async fn fifty_concurrent_streams_on_one_connection() {
    within(async {
        let server = start(limits());
        let client = connect(&server, true).await;
        let mut tasks = Vec::new();
        for index in 0..50 {
            let mut send = client.send.clone();
            tasks.push(tokio::spawn(async move {
                let path = if index % 2 == 0 { "/stream" } else { "/" };
                let (response, body) = fetch(&mut send, request(Method::GET, path), None).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                body.len()
            }));
        }
        for (index, task) in tasks.into_iter().enumerate() {
            let expected = if index % 2 == 0 {
                STREAM_CHUNK * STREAM_CHUNKS
            } else {
                5
            };
            assert_eq!(task.await.unwrap(), expected);
        }
    })
    .await;
}

#[tokio::test]
async fn head_has_no_body() {
    within(async {
        let server = start(limits());
        let mut client = connect(&server, true).await;
        let (response, body) = fetch(&mut client.send, request(Method::HEAD, "/"), None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-length"], "5");
        assert!(body.is_empty());
        let (response, body) = fetch(&mut client.send, request(Method::HEAD, "/stream"), None)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(body.is_empty());
    })
    .await;
}

#[tokio::test]
async fn repeated_headers_reach_the_handler_in_order() {
    within(async {
        let server = start(limits());
        let mut client = connect(&server, true).await;
        let mut get = request(Method::GET, "/headers");
        get.headers_mut().append("x-multi", HeaderValue::from_static("a"));
        get.headers_mut().append("x-multi", HeaderValue::from_static("b"));
        get.headers_mut().append("cookie", HeaderValue::from_static("c=1"));
        get.headers_mut().append("cookie", HeaderValue::from_static("d=2"));
        let (_, body) = fetch(&mut client.send, get, None).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("x-multi: a\nx-multi: b\n"), "{text}");
        assert!(text.contains("cookie: c=1\ncookie: d=2\n"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn oversized_headers_get_431_and_the_connection_goes_on() {
    within(async {
        let server = start(limits());
        // The client's driver is held back, so it never learns the server's header limit from
        // SETTINGS and sends the oversized request instead of refusing to.
        let mut client = connect(&server, false).await;
        let mut get = request(Method::GET, "/headers");
        let big = "x".repeat(32 * 1024);
        get.headers_mut().insert("x-big", HeaderValue::from_str(&big).unwrap());
        let (response, _) = fetch(&mut client.send, get, None).await.unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let (response, body) = fetch(&mut client.send, request(Method::GET, "/"), None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body, Bytes::from_static(b"hello"));
    })
    .await;
}

#[tokio::test]
async fn body_limit_gives_413() {
    within(async {
        let server = start(Http3Limits {
            max_body_size: Some(1024),
            ..limits()
        });
        let mut client = connect(&server, true).await;
        // Declared beyond the limit: refused before any of it is read.
        let mut post = request(Method::POST, "/echo");
        post.headers_mut().insert("content-length", HeaderValue::from(4096));
        let (response, _) = fetch(&mut client.send, post, Some(patterned(4096))).await.unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.headers()["server"], "granian");
        // Undeclared: counted as read.
        let (response, _) = fetch(&mut client.send, request(Method::POST, "/echo"), Some(patterned(4096)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // Within it.
        let (response, body) = fetch(&mut client.send, request(Method::POST, "/echo"), Some(patterned(1024)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body.len(), 1024);
    })
    .await;
}

#[tokio::test]
async fn body_longer_than_declared_is_an_error() {
    within(async {
        let server = start(limits());
        let mut client = connect(&server, true).await;
        let mut post = request(Method::POST, "/echo");
        post.headers_mut().insert("content-length", HeaderValue::from(5));
        let _ = fetch(&mut client.send, post, Some(patterned(10))).await;
        server.events.wait_for("body error").await;
        let (response, _) = fetch(&mut client.send, request(Method::GET, "/"), None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn reset_mid_body_is_a_body_error() {
    within(async {
        let server = start(limits());
        let mut client = connect(&server, true).await;
        let mut post = request(Method::POST, "/upload");
        post.headers_mut()
            .insert("content-length", HeaderValue::from(1024 * 1024));
        let mut stream = client.send.send_request(post).await.unwrap();
        stream.send_data(patterned(64 * 1024)).await.unwrap();
        server.events.wait_for("body started").await;
        stream.stop_stream(h3::error::Code::H3_REQUEST_CANCELLED);
        drop(stream);
        server.events.wait_for("body error").await;
        // The server, and this connection, go on.
        let (response, body) = fetch(&mut client.send, request(Method::GET, "/"), None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body, Bytes::from_static(b"hello"));
    })
    .await;
}

/// A small xorshift generator: garbage that is the same on every run.
fn garbage(seed: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            seed.to_le_bytes()[3]
        })
        .collect()
}

#[tokio::test]
async fn udp_garbage_is_ignored() {
    within(Box::pin(async {
        let server = start(limits());
        let mut client = connect(&server, true).await;
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        for len in [0, 1, 7, 20, 64, 1199, 1200, 1350, 1472, 2000] {
            for _ in 0..20 {
                let _ = socket.send_to(&garbage(&mut seed, len), server.addr).await;
            }
        }
        // Truncated Initials: a long header for QUIC v1 cut short at every length.
        let mut initial = vec![0xc3, 0, 0, 0, 1, 8];
        initial.extend(garbage(&mut seed, 8));
        initial.push(8);
        initial.extend(garbage(&mut seed, 8));
        initial.extend([0, 0x44, 0xd0]);
        initial.extend(garbage(&mut seed, 1200));
        for cut in (1..initial.len()).step_by(37) {
            let _ = socket.send_to(&initial[..cut], server.addr).await;
        }
        // A whole one, padded, whose encryption is garbage.
        let _ = socket.send_to(&initial, server.addr).await;
        // Short-header packets for connections that do not exist.
        for _ in 0..20 {
            let mut short = vec![0x40];
            short.extend(garbage(&mut seed, 100));
            let _ = socket.send_to(&short, server.addr).await;
        }
        // The open connection and new ones are served.
        let (response, _) = fetch(&mut client.send, request(Method::GET, "/"), None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut fresh = connect(&server, true).await;
        let (response, _) = fetch(&mut fresh.send, request(Method::GET, "/"), None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!server.task.is_finished());
    }))
    .await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    within(async {
        let server = start(limits());
        let client = connect(&server, true).await;
        let mut send = client.send.clone();
        let slow = tokio::spawn(async move { fetch(&mut send, request(Method::GET, "/slow"), None).await });
        tokio::time::sleep(Duration::from_millis(150)).await;
        server.shutdown.advance(Phase::Draining);
        let (response, body) = slow.await.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body, Bytes::from_static(b"slow done"));
        // New connections get no answer while draining.
        let attempt = tokio::time::timeout(
            Duration::from_millis(500),
            common::quic_connect(server.addr, &server.cert),
        );
        assert!(!matches!(attempt.await, Ok(Ok(_))));
        // The endpoint closes the idle connection and ends on its own.
        tokio::time::timeout(Duration::from_secs(5), server.task)
            .await
            .unwrap()
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), server.shutdown.wait_idle())
            .await
            .unwrap();
        let closed = client.connection.closed().await;
        assert!(
            matches!(closed, quinn::ConnectionError::ApplicationClosed(_)),
            "{closed:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn closing_drops_connections_at_once() {
    within(async {
        let server = start(limits());
        let client = connect(&server, true).await;
        let mut send = client.send.clone();
        let slow = tokio::spawn(async move { fetch(&mut send, request(Method::GET, "/slow"), None).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        server.shutdown.advance(Phase::Closing);
        assert!(slow.await.unwrap().is_err());
        tokio::time::timeout(Duration::from_secs(2), server.task)
            .await
            .unwrap()
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused() {
    within(async {
        let server = start(Http3Limits {
            max_connections: Some(1),
            ..limits()
        });
        let mut first = connect(&server, true).await;
        let refused = common::quic_connect(server.addr, &server.cert).await;
        assert!(
            matches!(refused, Err(quinn::ConnectionError::ConnectionClosed(_))),
            "{refused:?}"
        );
        let (response, _) = fetch(&mut first.send, request(Method::GET, "/"), None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        // Once the first is gone, there is room again.
        first.connection.close(0u32.into(), b"done");
        drop(first);
        let mut reopened = None;
        for _ in 0..50 {
            if let Ok((endpoint, connection)) = common::quic_connect(server.addr, &server.cert).await {
                reopened = Some((endpoint, connection));
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(reopened.is_some());
    })
    .await;
}

#[tokio::test]
async fn retry_validates_addresses() {
    within(async {
        let server = start(Http3Limits {
            validate_address: true,
            ..limits()
        });
        let mut client = connect(&server, true).await;
        let (response, _) = fetch(&mut client.send, request(Method::GET, "/"), None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn server_header_follows_the_limits() {
    within(Box::pin(async {
        let server = start(Http3Limits {
            server_header: None,
            ..limits()
        });
        let mut client = connect(&server, true).await;
        let (response, _) = fetch(&mut client.send, request(Method::GET, "/"), None).await.unwrap();
        assert!(!response.headers().contains_key("server"));
        let (response, _) = fetch(&mut client.send, request(Method::GET, "/own-server"), None)
            .await
            .unwrap();
        assert_eq!(response.headers()["server"], "app");
        let server = start(limits());
        let mut client = connect(&server, true).await;
        let (response, _) = fetch(&mut client.send, request(Method::GET, "/own-server"), None)
            .await
            .unwrap();
        assert_eq!(response.headers()["server"], "app");
    }))
    .await;
}

#[tokio::test]
async fn request_bodies_wait_for_the_application() {
    within(async {
        // The stream window is 256 KiB: that much may wait for an application not reading.
        let server = start(limits());
        let client = connect(&server, true).await;
        let mut send = client.send.clone();
        let stream = send.send_request(request(Method::POST, "/ignore")).await.unwrap();
        let (mut upload, mut download) = stream.split();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let uploading = {
            let accepted = std::sync::Arc::clone(&accepted);
            tokio::spawn(async move {
                for _ in 0..64 {
                    if upload.send_data(patterned(64 * 1024)).await.is_err() {
                        return;
                    }
                    accepted.fetch_add(64 * 1024, std::sync::atomic::Ordering::Relaxed);
                }
                let _ = upload.finish().await;
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let queued = accepted.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            queued < 1024 * 1024,
            "{queued} bytes accepted while the application read none"
        );
        assert!(!uploading.is_finished());
        // The answer comes without the body being read, and the client is told to stop.
        let response = download.recv_response().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        tokio::time::timeout(Duration::from_secs(5), uploading)
            .await
            .unwrap()
            .unwrap();
        assert!(accepted.load(std::sync::atomic::Ordering::Relaxed) < 4 * 1024 * 1024);
    })
    .await;
}

/// An endless response (`/firehose`) whose head arrived.
async fn firehose(client: &mut common::Client) -> h3::client::RequestStream<h3_quinn::BidiStream<Bytes>, Bytes> {
    let mut stream = client
        .send
        .send_request(request(Method::GET, "/firehose"))
        .await
        .unwrap();
    stream.finish().await.unwrap();
    let response = stream.recv_response().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    stream
}

#[tokio::test]
async fn response_bodies_wait_for_the_client() {
    within(async {
        let server = start(limits());
        let mut client = connect(&server, true).await;
        let mut stream = firehose(&mut client).await;
        // The client reads nothing: the producer stalls once flow control is used up.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stalled = server.events.produced.load(std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let later = server.events.produced.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(stalled, later);
        assert!(
            later < 8 * 1024 * 1024,
            "{later} bytes produced for a client reading none"
        );
        // Reading lets it go on; leaving stops it.
        let mut read = 0;
        while read < 4 * 1024 * 1024 {
            read += stream.recv_data().await.unwrap().unwrap().remaining();
        }
        drop(stream);
        let (response, _) = fetch(&mut client.send, request(Method::GET, "/"), None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn response_trailers() {
    within(async {
        let server = start(limits());
        let mut client = connect(&server, true).await;
        let mut stream = client
            .send
            .send_request(request(Method::GET, "/trailers"))
            .await
            .unwrap();
        stream.finish().await.unwrap();
        let response = stream.recv_response().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut body = Vec::new();
        while let Some(mut chunk) = stream.recv_data().await.unwrap() {
            while chunk.has_remaining() {
                let part = chunk.chunk().to_vec();
                chunk.advance(part.len());
                body.extend(part);
            }
        }
        assert_eq!(body, b"with trailers");
        let trailers = stream.recv_trailers().await.unwrap().unwrap();
        assert_eq!(trailers["x-checksum"], "42");
    })
    .await;
}

#[tokio::test]
async fn client_certificates_reach_the_handler() {
    within(Box::pin(async {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "h3 test ca");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(vec!["client".to_owned()]).unwrap();
        client_params.distinguished_name.push(DnType::CommonName, "h3 client");
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_cert.der().clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::clone(&provider),
        )
        .build()
        .unwrap();
        let server_cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let server_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_cert.signing_key.serialize_der()));
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server_cert.cert.der().clone()], server_key)
            .unwrap();
        tls.alpn_protocols = vec![granian_http3::ALPN_H3.to_vec()];
        let server = common::start_with(std::sync::Arc::new(tls), server_cert.cert.der().clone(), limits());

        let client_tls = common::client_tls(&server.cert)
            .with_client_auth_cert(
                vec![client_cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(client_key.serialize_der())),
            )
            .unwrap();
        let (endpoint, connection) = common::quic_connect_with(server.addr, client_tls).await.unwrap();
        let mut client = common::h3_client(endpoint, connection, true).await;
        let (_, body) = fetch(&mut client.send, request(Method::GET, "/headers"), None)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains("client=CN=h3 client chain=1 first=-----BEGIN CERTIFICATE-----\n"),
            "{text}"
        );
    }))
    .await;
}

/// Relays datagrams between one client and `server`, keeping those the client sent.
async fn relay(server: std::net::SocketAddr) -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>) {
    let socket = std::sync::Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = std::sync::Arc::clone(&seen);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        let mut client = None;
        loop {
            let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            if from == server {
                if let Some(client) = client {
                    let _ = socket.send_to(&buf[..len], client).await;
                }
            } else {
                client = Some(from);
                kept.lock().unwrap().push(buf[..len].to_vec());
                let _ = socket.send_to(&buf[..len], server).await;
            }
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn steered_connection_ids_carry_the_socket() {
    within(async {
        let steering = granian_http3::Steering {
            marker: 0x5A17,
            socket: 3,
        };
        let server = common::start_steered(steering);
        let (relayed, seen) = relay(server.addr).await;
        let (endpoint, connection) = common::quic_connect(relayed, &server.cert).await.unwrap();
        let mut client = common::h3_client(endpoint, connection, true).await;
        let (response, body) = fetch(&mut client.send, request(Method::GET, "/"), None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body, Bytes::from_static(b"hello"));
        let datagrams = seen.lock().unwrap().clone();
        // Once the client has heard from the server, every packet it sends names a connection ID
        // the server chose: after a long header's version and length byte, or right after a
        // short header's first byte (RFC 9000 §17).
        let short: Vec<_> = datagrams.iter().filter(|d| d[0] & 0x80 == 0).collect();
        assert!(!short.is_empty());
        for datagram in short {
            assert_eq!(datagram[1..5], steering.prefix());
        }
        // Long headers: all but the client's first Initial (and its repeats), whose ID the client
        // drew, name the server's ID too.
        let dcid = |datagram: &[u8]| datagram[6..6 + usize::from(datagram[5])].to_vec();
        let drawn = dcid(&datagrams[0]);
        let long: Vec<_> = datagrams
            .iter()
            .filter(|d| d[0] & 0x80 != 0 && dcid(d) != drawn)
            .collect();
        assert!(!long.is_empty());
        for datagram in long {
            assert_eq!(usize::from(datagram[5]), granian_http3::STEERED_CID_LEN);
            assert_eq!(datagram[6..10], steering.prefix());
        }
    })
    .await;
}

#[tokio::test]
async fn stalled_request_body_gets_408() {
    within(async {
        let server = start(Http3Limits {
            body_read_timeout: Some(Duration::from_millis(300)),
            ..limits()
        });
        let mut client = connect(&server, true).await;
        let mut post = request(Method::POST, "/echo");
        post.headers_mut().insert("content-length", HeaderValue::from(100));
        let mut stream = client.send.send_request(post).await.unwrap();
        stream.send_data(patterned(10)).await.unwrap();
        // The other 90 bytes never come.
        let response = stream.recv_response().await.unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        drop(stream);
        // A body that keeps coming is not timed out, however long it takes in all.
        let mut post = request(Method::POST, "/echo");
        post.headers_mut().insert("content-length", HeaderValue::from(40));
        let mut stream = client.send.send_request(post).await.unwrap();
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            stream.send_data(patterned(10)).await.unwrap();
        }
        stream.finish().await.unwrap();
        let response = stream.recv_response().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn unread_response_is_reset_after_the_send_timeout() {
    within(async {
        let server = start(Http3Limits {
            send_timeout: Some(Duration::from_millis(300)),
            ..limits()
        });
        let mut client = connect(&server, true).await;
        let mut stream = firehose(&mut client).await;
        // Reading nothing for longer than the send timeout: the server gives the response up.
        tokio::time::sleep(Duration::from_millis(900)).await;
        let produced = server.events.produced.load(std::sync::atomic::Ordering::Relaxed);
        let ended = loop {
            match stream.recv_data().await {
                Ok(Some(_)) => {}
                Ok(None) => break Ok(()),
                Err(err) => break Err(err),
            }
        };
        assert!(ended.is_err(), "an endless response ended normally");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            server.events.produced.load(std::sync::atomic::Ordering::Relaxed),
            produced
        );
        // The connection goes on.
        let (response, _) = fetch(&mut client.send, request(Method::GET, "/"), None).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    })
    .await;
}
