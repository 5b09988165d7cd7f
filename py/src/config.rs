//! `ServerConfig`: the options of a `granian.server.Options` that reach the native server.
//!
//! Python declares, defaults and validates every option; here they are read once, by attribute
//! and typed ([`Options`]), and converted by [`Settings::new`], a plain Rust function, into the
//! structs the crates use. Nothing keeps the raw values: [`Settings::describe`] reads the options
//! back from the converted structs, in the units Python gives them, so a test can check that
//! what Python meant is what the server runs with.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use granian_accesslog::{AccessLogSink, Format};
use granian_compress::{CompressionSettings, Encoding};
use granian_dispatch::{HttpMode, Protocols};
use granian_health::{HealthPaths, Readiness};
use granian_http1::Http1Limits;
use granian_http2::Http2Limits;
use granian_http3::Http3Limits;
use granian_proxy::{ProxyHeader, ProxySettings, TrustedProxies};
use granian_serve::{RuntimeMode, RuntimeSettings};
use granian_staticfiles::StaticSettings;
use granian_tls::{ALPN_H2, ALPN_HTTP11, TlsSettings, TlsVersion};
use granian_websocket::WebsocketLimits;
use http::HeaderValue;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::access_log::AccessLogQueue;
use crate::health::PyReadyCheck;
use crate::metrics::MetricsRegion;
use crate::proxy_protocol::ProxyProtocol;

/// The fields of `granian.server.Options` the native server reads, each from the attribute of
/// its name, in the units the dataclass holds (validated there: bounds, pairings, spellings).
#[derive(Debug, FromPyObject)]
#[expect(clippy::struct_excessive_bools, reason = "one field per boolean option")]
struct Options {
    /// `'auto'`, `'1'` or `'2'` (`HTTPModes`).
    #[pyo3(attribute)]
    http: String,
    #[pyo3(attribute)]
    runtime_threads: usize,
    /// `'mt'` or `'st'` (`RuntimeModes`; Python resolved `'auto'`).
    #[pyo3(attribute)]
    runtime_mode: String,
    /// `None` leaves tokio's bound.
    #[pyo3(attribute)]
    runtime_blocking_threads: Option<usize>,
    /// Seconds.
    #[pyo3(attribute)]
    blocking_threads_idle_timeout: f64,
    #[pyo3(attribute)]
    backpressure: usize,
    #[pyo3(attribute)]
    http1_keep_alive: bool,
    #[pyo3(attribute)]
    http1_pipeline_flush: bool,
    /// Bytes.
    #[pyo3(attribute)]
    http1_buffer_size: usize,
    /// Milliseconds.
    #[pyo3(attribute)]
    http1_header_read_timeout: u64,
    /// Milliseconds; 0 sets no idle limit.
    #[pyo3(attribute)]
    http1_keep_alive_timeout: u64,
    #[pyo3(attribute)]
    http2_adaptive_window: bool,
    #[pyo3(attribute)]
    http2_initial_connection_window_size: u32,
    #[pyo3(attribute)]
    http2_initial_stream_window_size: u32,
    #[pyo3(attribute)]
    http2_max_concurrent_streams: u32,
    #[pyo3(attribute)]
    http2_max_frame_size: u32,
    #[pyo3(attribute)]
    http2_max_headers_size: u32,
    #[pyo3(attribute)]
    http2_max_send_buffer_size: usize,
    /// Milliseconds.
    #[pyo3(attribute)]
    http2_keep_alive_interval: Option<u64>,
    /// Seconds.
    #[pyo3(attribute)]
    http2_keep_alive_timeout: f64,
    #[pyo3(attribute)]
    http3: bool,
    #[pyo3(attribute)]
    alt_svc: bool,
    #[pyo3(attribute)]
    http3_max_concurrent_streams: u32,
    /// Seconds; 0 sets no idle limit of the server's own.
    #[pyo3(attribute)]
    http3_idle_timeout: f64,
    /// Seconds.
    #[pyo3(attribute)]
    http3_keep_alive_interval: Option<f64>,
    #[pyo3(attribute)]
    http3_max_udp_payload_size: u16,
    #[pyo3(attribute)]
    http3_initial_stream_window_size: u32,
    #[pyo3(attribute)]
    http3_initial_connection_window_size: u32,
    /// Replaced by `max_header_size` when set.
    #[pyo3(attribute)]
    http3_max_headers_size: u64,
    #[pyo3(attribute)]
    http3_max_connections: usize,
    #[pyo3(attribute)]
    http3_retry: bool,
    #[pyo3(attribute)]
    max_request_body_size: Option<u64>,
    /// Seconds.
    #[pyo3(attribute)]
    http_body_read_timeout: f64,
    /// Seconds.
    #[pyo3(attribute)]
    http_send_timeout: f64,
    #[pyo3(attribute)]
    http2_max_receiving_streams: usize,
    /// Replaces `http2_max_headers_size` when set.
    #[pyo3(attribute)]
    max_header_size: Option<u32>,
    #[pyo3(attribute)]
    ssl_cert: Option<PathBuf>,
    #[pyo3(attribute)]
    ssl_key: Option<PathBuf>,
    #[pyo3(attribute)]
    ssl_key_password: Option<String>,
    /// `'tls1.2'` or `'tls1.3'` (`SSLProtocols`).
    #[pyo3(attribute)]
    ssl_protocol_min: String,
    #[pyo3(attribute)]
    ssl_ca: Option<PathBuf>,
    /// Empty unless `ssl_ca` is given.
    #[pyo3(attribute)]
    ssl_crl: Vec<PathBuf>,
    #[pyo3(attribute)]
    ssl_client_verify: bool,
    #[pyo3(attribute)]
    websockets: bool,
    #[pyo3(attribute)]
    ws_deflate: bool,
    #[pyo3(attribute)]
    ws_max_message_size: usize,
    /// Seconds; 0 sends no pings.
    #[pyo3(attribute)]
    ws_ping_interval: f64,
    /// Seconds.
    #[pyo3(attribute)]
    ws_ping_timeout: f64,
    /// Stripped already; `None` sends no `Server` header.
    #[pyo3(attribute)]
    server_header: Option<String>,
    #[pyo3(attribute)]
    response_compression: bool,
    #[pyo3(attribute)]
    response_compression_min_size: u64,
    /// `'br'`, `'zstd'`, `'gzip'` in order of preference, never empty.
    #[pyo3(attribute)]
    response_compression_algorithms: Vec<String>,
    /// Paired with `static_path_mount`, in order.
    #[pyo3(attribute)]
    static_path_route: Vec<String>,
    #[pyo3(attribute)]
    static_path_mount: Vec<PathBuf>,
    #[pyo3(attribute)]
    static_path_dir_to_file: Option<String>,
    /// Seconds.
    #[pyo3(attribute)]
    static_path_expires: f64,
    #[pyo3(attribute)]
    proxy_headers: bool,
    /// Comma-separated addresses, networks and `*`.
    #[pyo3(attribute)]
    forwarded_allow_ips: String,
    /// Lower-case header names, never empty.
    #[pyo3(attribute)]
    forwarded_headers: Vec<String>,
    #[pyo3(attribute)]
    url_path_prefix: Option<String>,
    #[pyo3(attribute)]
    log_enabled: bool,
    #[pyo3(attribute)]
    log_access: bool,
    #[pyo3(attribute)]
    log_access_json: bool,
    #[pyo3(attribute)]
    log_access_format: String,
    /// Connections per worker, resolved by Python (a share of the open-file limit by default).
    #[pyo3(attribute)]
    max_connections: usize,
    /// Seconds; 0 sets no idle limit.
    #[pyo3(attribute)]
    http2_idle_timeout: f64,
    #[pyo3(attribute)]
    h2c_upgrade: bool,
    /// Bytes a whole-body read (RSGI `await protocol()`) may buffer.
    #[pyo3(attribute)]
    max_body_buffer_size: usize,
    #[pyo3(attribute)]
    static_path_dotfiles: bool,
    #[pyo3(attribute)]
    proxy_protocol: bool,
    /// Starts with `/`; `None` answers no health probes.
    #[pyo3(attribute)]
    health_path: Option<String>,
    /// Starts with `/`; `None` answers no readiness probes.
    #[pyo3(attribute)]
    ready_path: Option<String>,
    #[pyo3(attribute)]
    health_access_log: bool,
    /// Seconds.
    #[pyo3(attribute)]
    ready_check_timeout: f64,
    /// Seconds.
    #[pyo3(attribute)]
    ready_check_ttl: f64,
}

/// An option whose value a crate refused while converting it.
#[derive(Debug)]
struct Invalid {
    option: &'static str,
    message: String,
}

impl Invalid {
    fn new(option: &'static str, err: impl std::fmt::Display) -> Self {
        Self {
            option,
            message: err.to_string(),
        }
    }
}

impl From<Invalid> for PyErr {
    fn from(err: Invalid) -> Self {
        PyValueError::new_err(format!("{}: {}", err.option, err.message))
    }
}

/// What one worker's server runs with, as the crates take it.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) runtime: RuntimeSettings,
    /// How long a WSGI thread beyond the first waits for work before it exits.
    pub(crate) blocking_threads_idle_timeout: Duration,
    pub(crate) backpressure: usize,
    /// Connections a worker holds at once.
    pub(crate) max_connections: usize,
    /// Bytes a whole-body read may buffer.
    pub(crate) max_body_buffer_size: usize,
    /// The HTTP mode and each protocol's limits (the `Server` header among them).
    pub(crate) protocols: Protocols,
    /// `None` without TLS.
    pub(crate) tls: Option<TlsSettings>,
    /// `None` serves websocket requests as plain HTTP.
    pub(crate) websockets: Option<WebsocketLimits>,
    /// `None` without response compression.
    pub(crate) compression: Option<CompressionSettings>,
    /// `None` without static files.
    pub(crate) static_files: Option<Arc<StaticSettings>>,
    pub(crate) proxy: ProxySettings,
    /// `None` without the access log.
    pub(crate) access_log: Option<Arc<AccessLogSink>>,
    /// `None` without `proxy_protocol`.
    pub(crate) proxy_protocol: Option<Arc<ProxyProtocol>>,
    /// `None` without a health or readiness path.
    pub(crate) probes: Option<Probes>,
    /// `None` without HTTP/3.
    pub(crate) http3: Option<Http3Settings>,
}

/// The health and readiness probes the server answers itself.
#[derive(Debug, Clone)]
pub(crate) struct Probes {
    pub(crate) paths: HealthPaths,
    /// Answered inside the access log (and counted, metered) rather than before every layer.
    pub(crate) logged: bool,
    /// How long an application readiness check may take.
    pub(crate) check_timeout: Duration,
    /// How long its result stands.
    pub(crate) check_reuse: Duration,
}

/// HTTP/3 as one worker serves it.
#[derive(Debug)]
pub(crate) struct Http3Settings {
    pub(crate) limits: Http3Limits,
    /// Advertise HTTP/3 on the responses of TCP connections.
    pub(crate) alt_svc: bool,
}

impl Settings {
    /// Convert the options Python validated.
    fn new(options: &Options) -> Result<Self, Invalid> {
        let mode = match options.http.as_str() {
            "auto" => HttpMode::Auto,
            "1" => HttpMode::Http1,
            "2" => HttpMode::Http2,
            other => return Err(Invalid::new("http", format_args!("no HTTP mode {other:?}"))),
        };
        let server = options
            .server_header
            .as_deref()
            .map(static_header)
            .transpose()
            .map_err(|err| Invalid::new("server_header", err))?;
        let runtime_mode = match options.runtime_mode.as_str() {
            "mt" => RuntimeMode::MultiThread,
            "st" => RuntimeMode::SingleThread,
            other => return Err(Invalid::new("runtime_mode", format_args!("no runtime mode {other:?}"))),
        };
        let server_for_http3 = server.clone();
        Ok(Self {
            runtime: RuntimeSettings {
                mode: runtime_mode,
                threads: options.runtime_threads,
                max_blocking_threads: options.runtime_blocking_threads,
            },
            blocking_threads_idle_timeout: seconds(
                "blocking_threads_idle_timeout",
                options.blocking_threads_idle_timeout,
            )?,
            backpressure: options.backpressure,
            max_connections: options.max_connections,
            max_body_buffer_size: options.max_body_buffer_size,
            protocols: Protocols {
                mode,
                h2c_upgrade: options.h2c_upgrade,
                http1: http1_limits(options, server.clone())?,
                http2: Arc::new(http2_limits(options, server)?),
            },
            tls: tls_settings(options, mode)?,
            websockets: websocket_limits(options)?,
            compression: compression_settings(options)?,
            static_files: static_settings(options)?,
            proxy: proxy_settings(options)?,
            access_log: access_log(options)?,
            proxy_protocol: proxy_protocol(options)?,
            probes: probes(options)?,
            http3: http3_settings(options, server_for_http3)?,
        })
    }

    /// How long a TLS handshake may take: the HTTP/1.1 header read timeout, which bounds the
    /// wait for a request head that follows it.
    pub(crate) fn tls_handshake_timeout(&self) -> Option<Duration> {
        self.protocols.http1.header_read_timeout
    }

    /// The options these settings hold, by `Options` field name and in its units, read back
    /// from the converted structs. An option that did not reach the server is left out: those of
    /// a feature switched off (TLS, websockets, compression, static files, proxy headers, the
    /// access log) and `http2_max_headers_size` when `max_header_size` replaces it.
    fn describe(&self) -> Vec<(&'static str, Value)> {
        let http1 = &self.protocols.http1;
        let http2 = &self.protocols.http2;
        let mut out = vec![
            ("http", Value::Str(mode_name(self.protocols.mode).to_owned())),
            ("runtime_threads", Value::int(self.runtime.threads)),
            (
                "runtime_mode",
                Value::Str(runtime_mode_name(self.runtime.mode).to_owned()),
            ),
            (
                "runtime_blocking_threads",
                Value::or_none(self.runtime.max_blocking_threads, Value::int),
            ),
            (
                "blocking_threads_idle_timeout",
                Value::seconds(Some(self.blocking_threads_idle_timeout)),
            ),
            ("backpressure", Value::int(self.backpressure)),
            ("max_request_body_size", Value::or_none(http1.max_body_size, Value::int)),
            ("http_body_read_timeout", Value::seconds(http1.body_read_timeout)),
            ("http_send_timeout", Value::seconds(http1.send_timeout)),
            ("http2_max_receiving_streams", Value::int(http2.max_receiving_streams)),
            ("max_header_size", Value::or_none(http1.max_header_size, Value::int)),
            ("server_header", Value::or_none(http1.server.as_ref(), header_text)),
            ("websockets", Value::Bool(self.websockets.is_some())),
            ("response_compression", Value::Bool(self.compression.is_some())),
            ("proxy_headers", Value::Bool(self.proxy.trusted().is_some())),
            (
                "url_path_prefix",
                Value::or_none(self.proxy.path_prefix(), |prefix| Value::Str(prefix.to_owned())),
            ),
            ("log_access", Value::Bool(self.access_log.is_some())),
            ("max_connections", Value::int(self.max_connections)),
            ("http2_idle_timeout", Value::seconds(http2.idle_timeout)),
            ("h2c_upgrade", Value::Bool(self.protocols.h2c_upgrade)),
            ("max_body_buffer_size", Value::int(self.max_body_buffer_size)),
        ];
        describe_protocols(&self.protocols, &mut out);
        match &self.tls {
            Some(tls) => describe_tls(tls, &mut out),
            None => out.extend([("ssl_cert", Value::None), ("ssl_key", Value::None)]),
        }
        if let Some(limits) = &self.websockets {
            out.extend([
                ("ws_deflate", Value::Bool(limits.deflate)),
                ("ws_max_message_size", Value::int(limits.max_message_size)),
                ("ws_ping_interval", Value::seconds(limits.ping_interval)),
                ("ws_ping_timeout", Value::seconds(Some(limits.ping_timeout))),
            ]);
        }
        if let Some(compression) = &self.compression {
            let algorithms = compression
                .encodings
                .iter()
                .map(|encoding| encoding.as_str().to_owned());
            out.extend([
                ("response_compression_min_size", Value::int(compression.min_size)),
                ("response_compression_algorithms", Value::Strs(algorithms.collect())),
            ]);
        }
        describe_static(self.static_files.as_deref(), &mut out);
        if let Some(trusted) = self.proxy.trusted() {
            let headers = self.proxy.headers().iter().map(|header| header.name().to_owned());
            out.extend([
                ("forwarded_allow_ips", Value::Str(trusted.to_string())),
                ("forwarded_headers", Value::Strs(headers.collect())),
            ]);
        } else if let Some(proxy_protocol) = self.proxy_protocol.as_deref() {
            out.push(("forwarded_allow_ips", Value::Str(proxy_protocol.trusted().to_string())));
        }
        out.push(("proxy_protocol", Value::Bool(self.proxy_protocol.is_some())));
        describe_probes(self.probes.as_ref(), &mut out);
        if let Some(sink) = &self.access_log {
            out.extend([
                ("log_access_format", Value::Str(sink.format().template().to_owned())),
                ("log_access_json", Value::Bool(sink.format().is_json())),
            ]);
        }
        describe_http3(
            self.http3.as_ref(),
            self.protocols.http1.max_header_size.is_none(),
            &mut out,
        );
        out
    }
}

/// The HTTP/1.1 and HTTP/2 limits; `http2_max_headers_size` only when `max_header_size` does
/// not replace it.
fn describe_protocols(protocols: &Protocols, out: &mut Vec<(&'static str, Value)>) {
    let http1 = &protocols.http1;
    let http2 = &protocols.http2;
    out.extend([
        ("http1_keep_alive", Value::Bool(http1.keep_alive)),
        ("http1_pipeline_flush", Value::Bool(http1.pipeline_flush)),
        ("http1_buffer_size", Value::int(http1.buffer_size)),
        ("http1_header_read_timeout", Value::millis(http1.header_read_timeout)),
        ("http1_keep_alive_timeout", Value::millis(http1.keep_alive_timeout)),
        ("http2_adaptive_window", Value::Bool(http2.adaptive_window)),
        (
            "http2_initial_connection_window_size",
            Value::int(http2.initial_connection_window_size),
        ),
        (
            "http2_initial_stream_window_size",
            Value::int(http2.initial_stream_window_size),
        ),
        ("http2_max_concurrent_streams", Value::int(http2.max_concurrent_streams)),
        ("http2_max_frame_size", Value::int(http2.max_frame_size)),
        ("http2_max_send_buffer_size", Value::int(http2.max_send_buffer_size)),
        (
            "http2_keep_alive_interval",
            Value::or_none(http2.keep_alive_interval, |interval| Value::millis(Some(interval))),
        ),
        (
            "http2_keep_alive_timeout",
            Value::seconds(Some(http2.keep_alive_timeout)),
        ),
    ]);
    if http1.max_header_size.is_none() {
        out.push(("http2_max_headers_size", Value::int(http2.max_headers_size)));
    }
}

fn nonzero(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

/// A duration given in seconds as a float.
/// A header value every response carries, valid for the life of the process: a clone of it (one
/// per response) then takes no reference count. The few bytes stay allocated for good; a worker
/// builds its settings once.
pub(crate) fn static_header(value: &str) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    let header = HeaderValue::from_str(value)?;
    // `from_static` takes visible ASCII only; anything else a header may carry stays as it is.
    if !value.bytes().all(|byte| byte == b'\t' || (b' '..=b'~').contains(&byte)) {
        return Ok(header);
    }
    Ok(HeaderValue::from_static(Box::leak(value.to_owned().into_boxed_str())))
}

fn seconds(option: &'static str, value: f64) -> Result<Duration, Invalid> {
    Duration::try_from_secs_f64(value).map_err(|err| Invalid::new(option, err))
}

fn http1_limits(options: &Options, server: Option<HeaderValue>) -> Result<Http1Limits, Invalid> {
    Ok(Http1Limits {
        keep_alive: options.http1_keep_alive,
        header_read_timeout: nonzero(Duration::from_millis(options.http1_header_read_timeout)),
        keep_alive_timeout: nonzero(Duration::from_millis(options.http1_keep_alive_timeout)),
        buffer_size: options.http1_buffer_size,
        max_header_size: options.max_header_size.map(|size| size as usize),
        max_body_size: options.max_request_body_size,
        body_read_timeout: Some(body_read_timeout(options)?),
        send_timeout: Some(send_timeout(options)?),
        pipeline_flush: options.http1_pipeline_flush,
        server,
        // The server sets it once it knows the HTTP/3 port.
        alt_svc: None,
        // The server turns it on for an interface that sends informational responses.
        informational: false,
    })
}

fn body_read_timeout(options: &Options) -> Result<Duration, Invalid> {
    seconds("http_body_read_timeout", options.http_body_read_timeout)
}

fn send_timeout(options: &Options) -> Result<Duration, Invalid> {
    seconds("http_send_timeout", options.http_send_timeout)
}

fn http2_limits(options: &Options, server: Option<HeaderValue>) -> Result<Http2Limits, Invalid> {
    Ok(Http2Limits {
        max_concurrent_streams: options.http2_max_concurrent_streams,
        initial_connection_window_size: options.http2_initial_connection_window_size,
        initial_stream_window_size: options.http2_initial_stream_window_size,
        max_frame_size: options.http2_max_frame_size,
        // One limit on request heads for both protocols when `max_header_size` is given.
        max_headers_size: options.max_header_size.unwrap_or(options.http2_max_headers_size),
        max_send_buffer_size: options.http2_max_send_buffer_size,
        adaptive_window: options.http2_adaptive_window,
        keep_alive_interval: options.http2_keep_alive_interval.map(Duration::from_millis),
        keep_alive_timeout: seconds("http2_keep_alive_timeout", options.http2_keep_alive_timeout)?,
        // As nginx's `client_header_timeout` bounds both: the time a client has to open.
        handshake_timeout: nonzero(Duration::from_millis(options.http1_header_read_timeout)),
        idle_timeout: nonzero(seconds("http2_idle_timeout", options.http2_idle_timeout)?),
        max_body_size: options.max_request_body_size,
        body_read_timeout: Some(body_read_timeout(options)?),
        send_timeout: Some(send_timeout(options)?),
        max_receiving_streams: options.http2_max_receiving_streams,
        server,
        // The server sets it once it knows the HTTP/3 port.
        alt_svc: None,
    })
}

/// TLS when `ssl_cert` and `ssl_key` are given; ALPN offers what `mode` speaks, HTTP/2 first.
fn tls_settings(options: &Options, mode: HttpMode) -> Result<Option<TlsSettings>, Invalid> {
    let (Some(certificate), Some(key)) = (&options.ssl_cert, &options.ssl_key) else {
        return Ok(None);
    };
    let min_version = TlsVersion::parse(&options.ssl_protocol_min).ok_or_else(|| {
        Invalid::new(
            "ssl_protocol_min",
            format_args!("no TLS version {:?}", options.ssl_protocol_min),
        )
    })?;
    let alpn = match mode {
        HttpMode::Auto => vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()],
        HttpMode::Http1 => vec![ALPN_HTTP11.to_vec()],
        HttpMode::Http2 => vec![ALPN_H2.to_vec()],
    };
    Ok(Some(TlsSettings {
        certificate: certificate.clone(),
        key: key.clone(),
        key_password: options.ssl_key_password.clone(),
        min_version,
        alpn,
        client_ca: options.ssl_ca.clone(),
        client_verify: options.ssl_client_verify,
        client_crls: options.ssl_crl.clone(),
    }))
}

fn websocket_limits(options: &Options) -> Result<Option<WebsocketLimits>, Invalid> {
    if !options.websockets {
        return Ok(None);
    }
    Ok(Some(WebsocketLimits {
        max_message_size: options.ws_max_message_size,
        ping_interval: nonzero(seconds("ws_ping_interval", options.ws_ping_interval)?),
        ping_timeout: seconds("ws_ping_timeout", options.ws_ping_timeout)?,
        close_timeout: WebsocketLimits::CLOSE_TIMEOUT,
        send_timeout: Some(send_timeout(options)?),
        deflate: options.ws_deflate,
    }))
}

/// HTTP/3 with `http3`. Its head limit is `max_header_size` when given, as for the TCP protocols;
/// a request's header section gets `http1_header_read_timeout` to arrive, as a TCP head does.
fn http3_settings(options: &Options, server: Option<HeaderValue>) -> Result<Option<Http3Settings>, Invalid> {
    if !options.http3 {
        return Ok(None);
    }
    let keep_alive_interval = options
        .http3_keep_alive_interval
        .map(|interval| seconds("http3_keep_alive_interval", interval))
        .transpose()?;
    Ok(Some(Http3Settings {
        limits: Http3Limits {
            max_concurrent_streams: options.http3_max_concurrent_streams,
            idle_timeout: nonzero(seconds("http3_idle_timeout", options.http3_idle_timeout)?),
            keep_alive_interval,
            max_udp_payload_size: options.http3_max_udp_payload_size,
            initial_stream_window_size: options.http3_initial_stream_window_size,
            initial_connection_window_size: options.http3_initial_connection_window_size,
            max_headers_size: options
                .max_header_size
                .map_or(options.http3_max_headers_size, u64::from),
            max_body_size: options.max_request_body_size,
            header_read_timeout: nonzero(Duration::from_millis(options.http1_header_read_timeout)),
            // The same bounds on slow clients as over TCP.
            body_read_timeout: Some(body_read_timeout(options)?),
            send_timeout: Some(send_timeout(options)?),
            max_connections: Some(options.http3_max_connections),
            validate_address: options.http3_retry,
            // A client moving to a new address would keep its connection IDs, and so its
            // worker; migration stays off until it is tested end to end.
            migration: false,
            server_header: server,
        },
        alt_svc: options.alt_svc,
    }))
}

fn describe_http3(settings: Option<&Http3Settings>, own_head_limit: bool, out: &mut Vec<(&'static str, Value)>) {
    out.push(("http3", Value::Bool(settings.is_some())));
    let Some(settings) = settings else {
        return;
    };
    let limits = &settings.limits;
    out.extend([
        ("alt_svc", Value::Bool(settings.alt_svc)),
        (
            "http3_max_concurrent_streams",
            Value::int(limits.max_concurrent_streams),
        ),
        ("http3_idle_timeout", Value::seconds(limits.idle_timeout)),
        (
            "http3_keep_alive_interval",
            Value::or_none(limits.keep_alive_interval, |interval| Value::seconds(Some(interval))),
        ),
        ("http3_max_udp_payload_size", Value::int(limits.max_udp_payload_size)),
        (
            "http3_initial_stream_window_size",
            Value::int(limits.initial_stream_window_size),
        ),
        (
            "http3_initial_connection_window_size",
            Value::int(limits.initial_connection_window_size),
        ),
        (
            "http3_max_connections",
            Value::or_none(limits.max_connections, Value::int),
        ),
        ("http3_retry", Value::Bool(limits.validate_address)),
    ]);
    if own_head_limit {
        out.push(("http3_max_headers_size", Value::int(limits.max_headers_size)));
    }
}

fn compression_settings(options: &Options) -> Result<Option<CompressionSettings>, Invalid> {
    if !options.response_compression {
        return Ok(None);
    }
    let encodings = options
        .response_compression_algorithms
        .iter()
        .map(|name| Encoding::parse(name))
        .collect::<Result<_, _>>()
        .map_err(|err| Invalid::new("response_compression_algorithms", err))?;
    Ok(Some(CompressionSettings {
        min_size: options.response_compression_min_size,
        encodings,
    }))
}

/// Static files when directories are mounted, each on the route at its position.
fn static_settings(options: &Options) -> Result<Option<Arc<StaticSettings>>, Invalid> {
    if options.static_path_mount.is_empty() {
        return Ok(None);
    }
    let expires = seconds("static_path_expires", options.static_path_expires)?;
    let mounts = options
        .static_path_route
        .iter()
        .cloned()
        .zip(options.static_path_mount.iter().cloned());
    let index = options.static_path_dir_to_file.clone();
    let settings = StaticSettings::new(mounts, index, Some(expires), options.static_path_dotfiles).map_err(|err| {
        let option = match err {
            granian_staticfiles::Error::InvalidRoute { .. } => "static_path_route",
            granian_staticfiles::Error::InvalidIndex { .. } => "static_path_dir_to_file",
            _ => "static_path_mount",
        };
        Invalid::new(option, err)
    })?;
    Ok(Some(Arc::new(settings)))
}

fn proxy_settings(options: &Options) -> Result<ProxySettings, Invalid> {
    let trusted = options
        .proxy_headers
        .then(|| options.forwarded_allow_ips.parse::<TrustedProxies>())
        .transpose()
        .map_err(|err| Invalid::new("forwarded_allow_ips", err))?;
    let headers = options
        .forwarded_headers
        .iter()
        .map(|name| name.parse::<ProxyHeader>())
        .collect::<Result<_, _>>()
        .map_err(|err| Invalid::new("forwarded_headers", err))?;
    ProxySettings::new(trusted, headers, options.url_path_prefix.as_deref())
        .map_err(|err| Invalid::new("url_path_prefix", err))
}

/// Whom PROXY protocol headers are taken from, when every connection must start with one; the
/// header must arrive within the header read timeout.
fn proxy_protocol(options: &Options) -> Result<Option<Arc<ProxyProtocol>>, Invalid> {
    if !options.proxy_protocol {
        return Ok(None);
    }
    let trusted = options
        .forwarded_allow_ips
        .parse::<TrustedProxies>()
        .map_err(|err| Invalid::new("forwarded_allow_ips", err))?;
    let timeout = nonzero(Duration::from_millis(options.http1_header_read_timeout));
    Ok(Some(Arc::new(ProxyProtocol::new(trusted, timeout))))
}

fn probes(options: &Options) -> Result<Option<Probes>, Invalid> {
    let paths = HealthPaths {
        health: options.health_path.as_deref().map(Box::from),
        ready: options.ready_path.as_deref().map(Box::from),
    };
    if paths == HealthPaths::default() {
        return Ok(None);
    }
    Ok(Some(Probes {
        paths,
        logged: options.health_access_log,
        check_timeout: seconds("ready_check_timeout", options.ready_check_timeout)?,
        check_reuse: seconds("ready_check_ttl", options.ready_check_ttl)?,
    }))
}

fn describe_probes(probes: Option<&Probes>, out: &mut Vec<(&'static str, Value)>) {
    let Some(probes) = probes else {
        out.extend([("health_path", Value::None), ("ready_path", Value::None)]);
        return;
    };
    let path = |path: Option<&str>| Value::or_none(path, |path| Value::Str(path.to_owned()));
    out.extend([
        ("health_path", path(probes.paths.health.as_deref())),
        ("ready_path", path(probes.paths.ready.as_deref())),
        ("health_access_log", Value::Bool(probes.logged)),
        ("ready_check_timeout", Value::seconds(Some(probes.check_timeout))),
        ("ready_check_ttl", Value::seconds(Some(probes.check_reuse))),
    ]);
}

/// The access log, on with `log_access` unless logging is off altogether.
fn access_log(options: &Options) -> Result<Option<Arc<AccessLogSink>>, Invalid> {
    if !(options.log_access && options.log_enabled) {
        return Ok(None);
    }
    let format = Format::new(&options.log_access_format, options.log_access_json)
        .map_err(|err| Invalid::new("log_access_format", err))?;
    Ok(Some(crate::access_log::sink(format)))
}

fn runtime_mode_name(mode: RuntimeMode) -> &'static str {
    match mode {
        RuntimeMode::MultiThread => "mt",
        RuntimeMode::SingleThread => "st",
    }
}

fn mode_name(mode: HttpMode) -> &'static str {
    match mode {
        HttpMode::Auto => "auto",
        HttpMode::Http1 => "1",
        HttpMode::Http2 => "2",
    }
}

fn header_text(value: &HeaderValue) -> Value {
    // Built from a `str`, so always text.
    Value::Str(String::from_utf8_lossy(value.as_bytes()).into_owned())
}

fn describe_tls(tls: &TlsSettings, out: &mut Vec<(&'static str, Value)>) {
    out.extend([
        ("ssl_cert", Value::Path(tls.certificate.clone())),
        ("ssl_key", Value::Path(tls.key.clone())),
        ("ssl_key_password", Value::or_none(tls.key_password.clone(), Value::Str)),
        ("ssl_protocol_min", Value::Str(tls.min_version.as_str().to_owned())),
        ("ssl_ca", Value::or_none(tls.client_ca.clone(), Value::Path)),
        ("ssl_crl", Value::Paths(tls.client_crls.clone())),
        ("ssl_client_verify", Value::Bool(tls.client_verify)),
    ]);
}

fn describe_static(settings: Option<&StaticSettings>, out: &mut Vec<(&'static str, Value)>) {
    let Some(settings) = settings else {
        out.extend([
            ("static_path_route", Value::Strs(Vec::new())),
            ("static_path_mount", Value::Paths(Vec::new())),
        ]);
        return;
    };
    let (routes, mounts): (Vec<_>, Vec<_>) = settings
        .mounts()
        .map(|(route, path)| (route.to_owned(), path.to_path_buf()))
        .unzip();
    out.extend([
        ("static_path_route", Value::Strs(routes)),
        ("static_path_mount", Value::Paths(mounts)),
        (
            "static_path_dir_to_file",
            Value::or_none(settings.index(), |index| Value::Str(index.to_owned())),
        ),
        ("static_path_expires", Value::seconds(settings.expires())),
        ("static_path_dotfiles", Value::Bool(settings.dotfiles())),
    ]);
}

/// One option's value as `describe` reports it.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(u64),
    Float(f64),
    Str(String),
    Path(PathBuf),
    Strs(Vec<String>),
    Paths(Vec<PathBuf>),
}

impl Value {
    fn int(value: impl TryInto<u64>) -> Self {
        // Every count and size here fits: they came from Python as 64-bit at most.
        Self::Int(value.try_into().unwrap_or(u64::MAX))
    }

    /// Whole milliseconds, 0 for none.
    fn millis(duration: Option<Duration>) -> Self {
        Self::int(duration.unwrap_or_default().as_millis())
    }

    /// Seconds as a float, 0.0 for none.
    fn seconds(duration: Option<Duration>) -> Self {
        Self::Float(duration.unwrap_or_default().as_secs_f64())
    }

    fn or_none<T>(value: Option<T>, some: impl FnOnce(T) -> Self) -> Self {
        value.map_or(Self::None, some)
    }

    fn into_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(match self {
            Self::None => py.None().into_bound(py),
            Self::Bool(value) => value.into_pyobject(py)?.to_owned().into_any(),
            Self::Int(value) => value.into_pyobject(py)?.into_any(),
            Self::Float(value) => value.into_pyobject(py)?.into_any(),
            Self::Str(value) => value.into_pyobject(py)?.into_any(),
            Self::Path(value) => value.into_pyobject(py)?.into_any(),
            Self::Strs(values) => PyTuple::new(py, values)?.into_any(),
            Self::Paths(values) => PyTuple::new(py, values)?.into_any(),
        })
    }
}

/// The settings one worker's server runs with, converted once from a `granian.server.Options`.
#[pyclass(frozen, module = "granian._native")]
pub(crate) struct ServerConfig {
    pub(crate) settings: Settings,
    /// Where this worker process counts its traffic, when metrics are on.
    pub(crate) metrics: Option<granian_metrics::Recorder>,
    /// Whether the readiness path answers 200: shared by the probes and the server's drain.
    pub(crate) readiness: Arc<Readiness>,
}

#[pymethods]
impl ServerConfig {
    #[new]
    #[pyo3(signature = (options, *, metrics = None, metrics_slot = 0, ready_check = None))]
    #[expect(
        clippy::needless_pass_by_value,
        reason = "pyo3 hands extracted arguments over by value"
    )]
    fn new(
        options: Options,
        metrics: Option<PyRef<'_, MetricsRegion>>,
        metrics_slot: usize,
        ready_check: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let settings = Settings::new(&options)?;
        let readiness = match (ready_check, &settings.probes) {
            (Some(runner), Some(probes)) if probes.paths.ready.is_some() => {
                Readiness::with_check(PyReadyCheck::new(runner), probes.check_timeout, probes.check_reuse)
            }
            _ => Readiness::new(),
        };
        Ok(Self {
            settings,
            metrics: metrics.map(|region| region.recorder(metrics_slot)).transpose()?,
            readiness: Arc::new(readiness),
        })
    }

    /// Answer the readiness path with 503 from now on: the server is about to stop.
    fn not_ready(&self) {
        self.readiness.drain();
    }

    /// Whether the readiness path answers 503 because the server drains or is about to.
    #[getter]
    fn draining(&self) -> bool {
        self.readiness.is_draining()
    }

    /// The queue the access log layer writes into, when the access log is on.
    #[getter]
    fn access_log_queue(&self) -> Option<AccessLogQueue> {
        self.settings
            .access_log
            .as_ref()
            .map(|sink| AccessLogQueue::new(Arc::clone(sink)))
    }

    /// The options the server runs with, read back from what they were converted into (see
    /// `Settings::describe`).
    fn describe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (name, value) in self.settings.describe() {
            out.set_item(name, value.into_py(py)?)?;
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!(
            "ServerConfig(http={:?}, runtime_mode={:?}, runtime_threads={}, backpressure={})",
            mode_name(self.settings.protocols.mode),
            runtime_mode_name(self.settings.runtime.mode),
            self.settings.runtime.threads,
            self.settings.backpressure
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_header_is_kept_for_the_process() {
        let header = static_header("granian").unwrap();
        assert_eq!(header, "granian");
        // Not visible ASCII: kept as a plain value rather than refused.
        let header = static_header("caf\u{e9}").unwrap();
        assert_eq!(header.as_bytes(), "caf\u{e9}".as_bytes());
        assert!(static_header("a\nb").is_err());
    }
    use std::path::Path;

    /// A directory of this crate, for static mounts.
    fn dir(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
    }

    /// Options with every feature on.
    fn options() -> Options {
        Options {
            http: "auto".into(),
            runtime_threads: 2,
            runtime_mode: "st".into(),
            runtime_blocking_threads: Some(16),
            blocking_threads_idle_timeout: 12.5,
            backpressure: 64,
            http1_keep_alive: true,
            http1_pipeline_flush: false,
            http1_buffer_size: 65_536,
            http1_header_read_timeout: 2_500,
            http1_keep_alive_timeout: 0,
            http2_adaptive_window: true,
            http2_initial_connection_window_size: 1 << 21,
            http2_initial_stream_window_size: 1 << 19,
            http2_max_concurrent_streams: 50,
            http2_max_frame_size: 1 << 15,
            http2_max_headers_size: 8_192,
            http2_max_send_buffer_size: 1 << 18,
            http2_keep_alive_interval: Some(1_500),
            http2_keep_alive_timeout: 7.0,
            http3: true,
            alt_svc: false,
            http3_max_concurrent_streams: 64,
            http3_idle_timeout: 12.5,
            http3_keep_alive_interval: Some(4.0),
            http3_max_udp_payload_size: 1350,
            http3_initial_stream_window_size: 1 << 18,
            http3_initial_connection_window_size: 1 << 22,
            http3_max_headers_size: 12_000,
            http3_max_connections: 900,
            http3_retry: true,
            max_request_body_size: Some(1 << 20),
            http_body_read_timeout: 12.5,
            http_send_timeout: 45.0,
            http2_max_receiving_streams: 16,
            max_header_size: None,
            ssl_cert: Some(dir("cert.pem")),
            ssl_key: Some(dir("key.pem")),
            ssl_key_password: Some("secret".into()),
            ssl_protocol_min: "tls1.3".into(),
            ssl_ca: None,
            ssl_crl: Vec::new(),
            ssl_client_verify: false,
            websockets: true,
            ws_deflate: false,
            ws_max_message_size: 4_096,
            ws_ping_interval: 0.0,
            ws_ping_timeout: 2.5,
            server_header: Some("edge/1".into()),
            response_compression: true,
            response_compression_min_size: 512,
            response_compression_algorithms: vec!["gzip".into(), "br".into()],
            static_path_route: vec!["/assets".into(), "/assets/img".into()],
            static_path_mount: vec![dir("src"), dir("granian")],
            static_path_dir_to_file: Some("index.html".into()),
            static_path_expires: 90.0,
            proxy_headers: true,
            forwarded_allow_ips: "10.0.0.0/8,::1".into(),
            forwarded_headers: vec!["x-forwarded-prefix".into(), "forwarded".into()],
            url_path_prefix: Some("/app".into()),
            log_enabled: true,
            log_access: true,
            log_access_json: true,
            log_access_format: "%(status)d".into(),
            max_connections: 300,
            http2_idle_timeout: 42.5,
            h2c_upgrade: false,
            max_body_buffer_size: 1 << 22,
            static_path_dotfiles: true,
            proxy_protocol: true,
            health_path: Some("/healthz".into()),
            ready_path: Some("/readyz".into()),
            health_access_log: false,
            ready_check_timeout: 0.25,
            ready_check_ttl: 2.0,
        }
    }

    fn settings(options: &Options) -> Settings {
        Settings::new(options).unwrap()
    }

    fn described(options: &Options) -> Vec<(&'static str, Value)> {
        let mut out = settings(options).describe();
        out.sort_by_key(|(name, _)| *name);
        out
    }

    fn value(options: &Options, name: &str) -> Option<Value> {
        settings(options)
            .describe()
            .into_iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    }

    #[test]
    fn milliseconds_and_seconds_convert() {
        let settings = settings(&options());
        let http1 = &settings.protocols.http1;
        let http2 = &settings.protocols.http2;
        assert_eq!(http1.header_read_timeout, Some(Duration::from_millis(2_500)));
        assert_eq!(settings.tls_handshake_timeout(), Some(Duration::from_millis(2_500)));
        assert_eq!(http2.keep_alive_interval, Some(Duration::from_millis(1_500)));
        assert_eq!(http2.keep_alive_timeout, Duration::from_secs(7));
        assert_eq!(http2.handshake_timeout, Some(Duration::from_millis(2_500)));
        assert_eq!(http2.idle_timeout, Some(Duration::from_millis(42_500)));
        // One body read timeout and one send timeout for every protocol and websockets.
        assert_eq!(http1.body_read_timeout, Some(Duration::from_millis(12_500)));
        assert_eq!(http2.body_read_timeout, Some(Duration::from_millis(12_500)));
        assert_eq!(http1.send_timeout, Some(Duration::from_secs(45)));
        assert_eq!(http2.send_timeout, Some(Duration::from_secs(45)));
        assert_eq!(http2.max_receiving_streams, 16);
        let websockets = settings.websockets.as_ref().unwrap();
        assert_eq!(websockets.ping_timeout, Duration::from_millis(2_500));
        assert_eq!(websockets.send_timeout, Some(Duration::from_secs(45)));
        assert_eq!(
            settings.static_files.as_ref().unwrap().expires(),
            Some(Duration::from_secs(90))
        );
    }

    #[test]
    fn zero_is_off() {
        let settings = settings(&options());
        assert_eq!(settings.protocols.http1.keep_alive_timeout, None);
        assert_eq!(settings.websockets.as_ref().unwrap().ping_interval, None);
        let without_expiry = Options {
            static_path_expires: 0.0,
            ..options()
        };
        assert_eq!(value(&without_expiry, "static_path_expires"), Some(Value::Float(0.0)));
        let untimed = Options {
            http2_idle_timeout: 0.0,
            ..options()
        };
        assert_eq!(Settings::new(&untimed).unwrap().protocols.http2.idle_timeout, None);
        let timed = Options {
            http1_keep_alive_timeout: 90_000,
            ws_ping_interval: 0.25,
            ..options()
        };
        assert_eq!(value(&timed, "http1_keep_alive_timeout"), Some(Value::Int(90_000)));
        assert_eq!(value(&timed, "ws_ping_interval"), Some(Value::Float(0.25)));
    }

    #[test]
    fn max_header_size_replaces_the_protocol_limits() {
        let options = Options {
            max_header_size: Some(20_000),
            ..options()
        };
        let settings = settings(&options);
        assert_eq!(settings.protocols.http1.max_header_size, Some(20_000));
        assert_eq!(settings.protocols.http2.max_headers_size, 20_000);
        // The replaced option did not reach the server.
        assert_eq!(value(&options, "http2_max_headers_size"), None);
        assert_eq!(value(&options, "max_header_size"), Some(Value::Int(20_000)));
        let plain = Settings::new(&self::options()).unwrap();
        assert_eq!(plain.protocols.http1.max_header_size, None);
        assert_eq!(plain.protocols.http2.max_headers_size, 8_192);
    }

    #[test]
    fn http3_limits_convert() {
        let settings = settings(&options());
        let http3 = settings.http3.as_ref().unwrap();
        let limits = &http3.limits;
        assert_eq!(limits.idle_timeout, Some(Duration::from_millis(12_500)));
        assert_eq!(limits.keep_alive_interval, Some(Duration::from_secs(4)));
        assert_eq!(limits.header_read_timeout, Some(Duration::from_millis(2_500)));
        assert_eq!(limits.max_body_size, Some(1 << 20));
        assert_eq!(limits.max_connections, Some(900));
        assert_eq!(limits.server_header, Some(HeaderValue::from_static("edge/1")));
        assert!(limits.validate_address && !http3.alt_svc);
        // One head limit for every protocol when `max_header_size` is given.
        let options = Options {
            max_header_size: Some(20_000),
            http3_idle_timeout: 0.0,
            ..options()
        };
        let limits = &self::settings(&options).http3.unwrap().limits;
        assert_eq!(limits.max_headers_size, 20_000);
        assert_eq!(limits.idle_timeout, None);
        assert_eq!(value(&options, "http3_max_headers_size"), None);
        let off = Options {
            http3: false,
            ..self::options()
        };
        assert!(self::settings(&off).http3.is_none());
        let names: Vec<_> = described(&off).into_iter().map(|(name, _)| name).collect();
        assert!(names.contains(&"http3") && !names.contains(&"http3_retry"));
    }

    #[test]
    fn alpn_follows_the_http_mode() {
        for (http, alpn) in [
            ("auto", vec![b"h2".to_vec(), b"http/1.1".to_vec()]),
            ("1", vec![b"http/1.1".to_vec()]),
            ("2", vec![b"h2".to_vec()]),
        ] {
            let options = Options {
                http: http.into(),
                ..options()
            };
            assert_eq!(settings(&options).tls.unwrap().alpn, alpn, "{http}");
            assert_eq!(value(&options, "http"), Some(Value::Str(http.into())));
        }
    }

    #[test]
    fn runtime_modes_convert() {
        let converted = settings(&options());
        assert_eq!(
            converted.runtime,
            RuntimeSettings {
                mode: RuntimeMode::SingleThread,
                threads: 2,
                max_blocking_threads: Some(16),
            }
        );
        assert_eq!(converted.blocking_threads_idle_timeout, Duration::from_millis(12_500));
        let multi = Options {
            runtime_mode: "mt".into(),
            runtime_blocking_threads: None,
            ..options()
        };
        assert_eq!(value(&multi, "runtime_mode"), Some(Value::Str("mt".into())));
        // No bound given: tokio's own, reported as none.
        assert_eq!(value(&multi, "runtime_blocking_threads"), Some(Value::None));
        assert_eq!(settings(&multi).runtime.max_blocking_threads, None);
    }

    #[test]
    fn revocation_lists_go_with_the_client_ca() {
        let options = Options {
            ssl_ca: Some(dir("ca.pem")),
            ssl_crl: vec![dir("a.crl"), dir("b.crl")],
            ssl_client_verify: true,
            ..options()
        };
        let tls = settings(&options).tls.unwrap();
        assert_eq!(tls.client_crls, [dir("a.crl"), dir("b.crl")]);
        assert_eq!(
            value(&options, "ssl_crl"),
            Some(Value::Paths(vec![dir("a.crl"), dir("b.crl")]))
        );
    }

    #[test]
    fn compression_keeps_the_order_given() {
        let compression = settings(&options()).compression.unwrap();
        assert_eq!(compression.encodings, [Encoding::Gzip, Encoding::Brotli]);
        assert_eq!(compression.min_size, 512);
    }

    #[test]
    fn static_routes_pair_with_mounts_in_order() {
        let settings = settings(&options());
        let mounts: Vec<_> = settings.static_files.as_ref().unwrap().mounts().collect();
        let src = std::fs::canonicalize(dir("src")).unwrap();
        let granian = std::fs::canonicalize(dir("granian")).unwrap();
        // Longest route first, each with the mount at its position.
        assert_eq!(mounts, [("/assets/img", granian.as_path()), ("/assets", src.as_path())]);
    }

    #[test]
    fn switched_off_features_hold_nothing() {
        let off = Options {
            ssl_cert: None,
            ssl_key: None,
            websockets: false,
            response_compression: false,
            static_path_route: Vec::new(),
            static_path_mount: Vec::new(),
            proxy_headers: false,
            url_path_prefix: None,
            log_enabled: false,
            server_header: None,
            proxy_protocol: false,
            health_path: None,
            ready_path: None,
            ..options()
        };
        let settings = settings(&off);
        assert!(settings.proxy_protocol.is_none());
        assert!(settings.probes.is_none());
        assert!(settings.tls.is_none());
        assert!(settings.websockets.is_none());
        assert!(settings.compression.is_none());
        assert!(settings.static_files.is_none());
        assert!(settings.proxy.is_off());
        assert!(settings.access_log.is_none());
        assert_eq!(settings.protocols.http1.server, None);
        let names: Vec<_> = described(&off).into_iter().map(|(name, _)| name).collect();
        for absent in [
            "ssl_protocol_min",
            "ws_ping_timeout",
            "forwarded_allow_ips",
            "forwarded_headers",
            "log_access_format",
            "ready_check_timeout",
        ] {
            assert!(!names.contains(&absent), "{absent}");
        }
    }

    #[test]
    fn describe_reads_every_option_back() {
        let options = options();
        let src = std::fs::canonicalize(dir("src")).unwrap();
        let granian = std::fs::canonicalize(dir("granian")).unwrap();
        let mut expected = vec![
            ("http", Value::Str("auto".into())),
            ("runtime_threads", Value::Int(2)),
            ("runtime_mode", Value::Str("st".into())),
            ("runtime_blocking_threads", Value::Int(16)),
            ("blocking_threads_idle_timeout", Value::Float(12.5)),
            ("backpressure", Value::Int(64)),
            ("http1_keep_alive", Value::Bool(true)),
            ("http1_pipeline_flush", Value::Bool(false)),
            ("http1_buffer_size", Value::Int(65_536)),
            ("http1_header_read_timeout", Value::Int(2_500)),
            ("http1_keep_alive_timeout", Value::Int(0)),
            ("http2_adaptive_window", Value::Bool(true)),
            ("http2_initial_connection_window_size", Value::Int(1 << 21)),
            ("http2_initial_stream_window_size", Value::Int(1 << 19)),
            ("http2_max_concurrent_streams", Value::Int(50)),
            ("http2_max_frame_size", Value::Int(1 << 15)),
            ("http2_max_headers_size", Value::Int(8_192)),
            ("http2_max_send_buffer_size", Value::Int(1 << 18)),
            ("http2_keep_alive_interval", Value::Int(1_500)),
            ("http2_keep_alive_timeout", Value::Float(7.0)),
            ("max_request_body_size", Value::Int(1 << 20)),
            ("http_body_read_timeout", Value::Float(12.5)),
            ("http_send_timeout", Value::Float(45.0)),
            ("http2_max_receiving_streams", Value::Int(16)),
            ("max_header_size", Value::None),
            ("ssl_cert", Value::Path(dir("cert.pem"))),
            ("ssl_key", Value::Path(dir("key.pem"))),
            ("ssl_key_password", Value::Str("secret".into())),
            ("ssl_protocol_min", Value::Str("tls1.3".into())),
            ("ssl_ca", Value::None),
            ("ssl_crl", Value::Paths(Vec::new())),
            ("ssl_client_verify", Value::Bool(false)),
            ("websockets", Value::Bool(true)),
            ("ws_deflate", Value::Bool(false)),
            ("ws_max_message_size", Value::Int(4_096)),
            ("ws_ping_interval", Value::Float(0.0)),
            ("ws_ping_timeout", Value::Float(2.5)),
            ("server_header", Value::Str("edge/1".into())),
            ("response_compression", Value::Bool(true)),
            ("response_compression_min_size", Value::Int(512)),
            (
                "response_compression_algorithms",
                Value::Strs(vec!["gzip".into(), "br".into()]),
            ),
            (
                "static_path_route",
                Value::Strs(vec!["/assets/img".into(), "/assets".into()]),
            ),
            ("static_path_mount", Value::Paths(vec![granian, src])),
            ("static_path_dir_to_file", Value::Str("index.html".into())),
            ("static_path_expires", Value::Float(90.0)),
            ("proxy_headers", Value::Bool(true)),
            ("forwarded_allow_ips", Value::Str("10.0.0.0/8,::1".into())),
            (
                "forwarded_headers",
                Value::Strs(vec!["forwarded".into(), "x-forwarded-prefix".into()]),
            ),
            ("url_path_prefix", Value::Str("/app".into())),
            ("log_access", Value::Bool(true)),
            ("log_access_format", Value::Str("%(status)d".into())),
            ("log_access_json", Value::Bool(true)),
            ("max_connections", Value::Int(300)),
            ("http2_idle_timeout", Value::Float(42.5)),
            ("h2c_upgrade", Value::Bool(false)),
            ("max_body_buffer_size", Value::Int(1 << 22)),
            ("static_path_dotfiles", Value::Bool(true)),
            ("proxy_protocol", Value::Bool(true)),
            ("health_path", Value::Str("/healthz".into())),
            ("ready_path", Value::Str("/readyz".into())),
            ("health_access_log", Value::Bool(false)),
            ("ready_check_timeout", Value::Float(0.25)),
            ("ready_check_ttl", Value::Float(2.0)),
            ("http3", Value::Bool(true)),
            ("alt_svc", Value::Bool(false)),
            ("http3_max_concurrent_streams", Value::Int(64)),
            ("http3_idle_timeout", Value::Float(12.5)),
            ("http3_keep_alive_interval", Value::Float(4.0)),
            ("http3_max_udp_payload_size", Value::Int(1350)),
            ("http3_initial_stream_window_size", Value::Int(1 << 18)),
            ("http3_initial_connection_window_size", Value::Int(1 << 22)),
            ("http3_max_headers_size", Value::Int(12_000)),
            ("http3_max_connections", Value::Int(900)),
            ("http3_retry", Value::Bool(true)),
        ];
        expected.sort_by_key(|(name, _)| *name);
        assert_eq!(described(&options), expected);
    }

    #[test]
    fn proxy_protocol_trusts_the_forwarded_allow_ips_alone() {
        let options = Options {
            proxy_headers: false,
            forwarded_allow_ips: "10.0.0.0/8".into(),
            ..options()
        };
        let settings = settings(&options);
        let proxy_protocol = settings.proxy_protocol.as_ref().unwrap();
        assert!(proxy_protocol.trusted().contains("10.1.2.3".parse().unwrap()));
        assert!(!proxy_protocol.trusted().contains("127.0.0.1".parse().unwrap()));
        assert!(settings.proxy.trusted().is_none());
        assert_eq!(
            value(&options, "forwarded_allow_ips"),
            Some(Value::Str("10.0.0.0/8".into()))
        );
    }

    #[test]
    fn probes_are_answered_where_asked() {
        let probes = settings(&options()).probes.unwrap();
        assert!(!probes.logged);
        assert_eq!(probes.check_timeout, Duration::from_millis(250));
        assert_eq!(probes.check_reuse, Duration::from_secs(2));
        let ready_only = Options {
            health_path: None,
            health_access_log: true,
            ..options()
        };
        let probes = settings(&ready_only).probes.unwrap();
        assert!(probes.logged);
        assert_eq!(probes.paths.health, None);
        assert_eq!(value(&ready_only, "health_path"), Some(Value::None));
    }

    #[test]
    fn refused_values_name_their_option() {
        for (options, option) in [
            (
                Options {
                    http: "3".into(),
                    ..options()
                },
                "http",
            ),
            (
                Options {
                    server_header: Some("bad\nvalue".into()),
                    ..options()
                },
                "server_header",
            ),
            (
                Options {
                    // Python resolves `auto` before the options cross.
                    runtime_mode: "auto".into(),
                    ..options()
                },
                "runtime_mode",
            ),
            (
                Options {
                    forwarded_allow_ips: "10.0.0.1/8".into(),
                    ..options()
                },
                "forwarded_allow_ips",
            ),
            (
                Options {
                    forwarded_headers: vec!["x-real-ip".into()],
                    ..options()
                },
                "forwarded_headers",
            ),
            (
                Options {
                    log_access_format: "%(nope)s".into(),
                    ..options()
                },
                "log_access_format",
            ),
            (
                Options {
                    static_path_mount: vec![dir("no-such-dir"), dir("src")],
                    ..options()
                },
                "static_path_mount",
            ),
        ] {
            assert_eq!(Settings::new(&options).unwrap_err().option, option);
        }
    }
}
