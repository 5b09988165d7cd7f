use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use granian_compress::{CompressionSettings, Encoding};
use granian_dispatch::{HttpMode, Protocols};
use granian_http1::Http1Limits;
use granian_http2::Http2Limits;
use granian_staticfiles::StaticSettings;
use granian_tls::{ALPN_H2, ALPN_HTTP11, TlsSettings, TlsVersion};
use granian_websocket::WebsocketLimits;
use http::HeaderValue;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The settings one worker's server runs with, validated before they reach Rust.
#[pyclass(frozen, module = "granian._native")]
#[expect(clippy::struct_excessive_bools, reason = "one field per boolean CLI flag")]
pub(crate) struct ServerConfig {
    #[pyo3(get)]
    http: String,
    #[pyo3(get)]
    runtime_threads: usize,
    #[pyo3(get)]
    backpressure: usize,
    #[pyo3(get)]
    http1_keep_alive: bool,
    #[pyo3(get)]
    http1_header_read_timeout: f64,
    #[pyo3(get)]
    http1_buffer_size: usize,
    #[pyo3(get)]
    http1_pipeline_flush: bool,
    #[pyo3(get)]
    http2_adaptive_window: bool,
    #[pyo3(get)]
    http2_initial_connection_window_size: u32,
    #[pyo3(get)]
    http2_initial_stream_window_size: u32,
    #[pyo3(get)]
    http2_keep_alive_interval: Option<f64>,
    #[pyo3(get)]
    http2_keep_alive_timeout: f64,
    #[pyo3(get)]
    http2_max_concurrent_streams: u32,
    #[pyo3(get)]
    http2_max_frame_size: u32,
    #[pyo3(get)]
    http2_max_headers_size: u32,
    #[pyo3(get)]
    http2_max_send_buffer_size: usize,
    #[pyo3(get)]
    http1_keep_alive_timeout: f64,
    #[pyo3(get)]
    max_request_body_size: Option<u64>,
    #[pyo3(get)]
    max_header_size: Option<usize>,
    ssl_cert: Option<PathBuf>,
    ssl_key: Option<PathBuf>,
    ssl_key_password: Option<String>,
    #[pyo3(get)]
    ssl_protocol_min: String,
    ssl_ca: Option<PathBuf>,
    #[pyo3(get)]
    ssl_client_verify: bool,
    #[pyo3(get)]
    websockets: bool,
    #[pyo3(get)]
    ws_max_message_size: usize,
    #[pyo3(get)]
    ws_ping_interval: f64,
    #[pyo3(get)]
    ws_ping_timeout: f64,
    #[pyo3(get)]
    ws_deflate: bool,
    // Static files.
    static_files: Option<Arc<StaticSettings>>,
    // Proxy headers and the URL path prefix.
    #[pyo3(get)]
    proxy_headers: bool,
    #[pyo3(get)]
    forwarded_allow_ips: String,
    #[pyo3(get)]
    url_path_prefix: Option<String>,
    /// What the proxy layer does, parsed from the three above.
    pub(crate) proxy: granian_proxy::ProxySettings,
    // Metrics.
    /// Where this worker process counts its traffic, when metrics are on.
    metrics: Option<granian_metrics::Recorder>,
    // Access log.
    #[pyo3(get)]
    access_log: bool,
    #[pyo3(get)]
    access_log_format: String,
    #[pyo3(get)]
    access_log_json: bool,
    /// The queue the access log layer writes into, when the access log is on.
    #[pyo3(get)]
    access_log_queue: Option<crate::access_log::AccessLogQueue>,
    // Server header and response compression.
    #[pyo3(get)]
    server_header: Option<String>,
    #[pyo3(get)]
    response_compression: bool,
    #[pyo3(get)]
    response_compression_min_size: u64,
    #[pyo3(get)]
    response_compression_algorithms: Vec<String>,
}

/// A duration option in seconds: finite and not negative.
fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| PyValueError::new_err(format!("{name} must be a non-negative number of seconds")))
}

#[pymethods]
impl ServerConfig {
    #[new]
    #[pyo3(signature = (
        *,
        http = "auto",
        runtime_threads = 1,
        backpressure = 1024,
        http1_keep_alive = true,
        http1_header_read_timeout = 30.0,
        http1_buffer_size = 417_792,
        http1_pipeline_flush = false,
        http2_adaptive_window = false,
        http2_initial_connection_window_size = 1_048_576,
        http2_initial_stream_window_size = 1_048_576,
        http2_keep_alive_interval = None,
        http2_keep_alive_timeout = 20.0,
        http2_max_concurrent_streams = 200,
        http2_max_frame_size = 16_384,
        http2_max_headers_size = 16_384,
        http2_max_send_buffer_size = 409_600,
        http1_keep_alive_timeout = 30.0,
        max_request_body_size = None,
        max_header_size = None,
        ssl_cert = None,
        ssl_key = None,
        ssl_key_password = None,
        ssl_protocol_min = "tls1.2",
        ssl_ca = None,
        ssl_client_verify = false,
        websockets = true,
        ws_max_message_size = 16_777_216,
        ws_ping_interval = 20.0,
        ws_ping_timeout = 20.0,
        ws_deflate = true,
        // Static files.
        static_path_route = Vec::new(),
        static_path_mount = Vec::new(),
        static_path_dir_to_file = None,
        static_path_expires = 86400.0,
        // Proxy headers and the URL path prefix.
        proxy_headers = false,
        forwarded_allow_ips = "127.0.0.1,::1",
        url_path_prefix = None,
        // Metrics.
        metrics = None,
        metrics_slot = 0,
        // Access log.
        access_log = false,
        access_log_format = granian_accesslog::DEFAULT_FORMAT,
        access_log_json = false,
        // Server header and response compression.
        server_header = Some(String::from("granian")),
        response_compression = false,
        response_compression_min_size = 1024,
        response_compression_algorithms = None,
    ))]
    #[expect(
        clippy::too_many_arguments,
        clippy::too_many_lines,
        clippy::fn_params_excessive_bools,
        reason = "keyword-only settings, one per CLI flag, each checked here"
    )]
    fn new(
        http: &str,
        runtime_threads: usize,
        backpressure: usize,
        http1_keep_alive: bool,
        http1_header_read_timeout: f64,
        http1_buffer_size: usize,
        http1_pipeline_flush: bool,
        http2_adaptive_window: bool,
        http2_initial_connection_window_size: u32,
        http2_initial_stream_window_size: u32,
        http2_keep_alive_interval: Option<f64>,
        http2_keep_alive_timeout: f64,
        http2_max_concurrent_streams: u32,
        http2_max_frame_size: u32,
        http2_max_headers_size: u32,
        http2_max_send_buffer_size: usize,
        http1_keep_alive_timeout: f64,
        max_request_body_size: Option<u64>,
        max_header_size: Option<usize>,
        ssl_cert: Option<PathBuf>,
        ssl_key: Option<PathBuf>,
        ssl_key_password: Option<String>,
        ssl_protocol_min: &str,
        ssl_ca: Option<PathBuf>,
        ssl_client_verify: bool,
        websockets: bool,
        ws_max_message_size: usize,
        ws_ping_interval: f64,
        ws_ping_timeout: f64,
        ws_deflate: bool,
        // Static files.
        static_path_route: Vec<String>,
        static_path_mount: Vec<PathBuf>,
        static_path_dir_to_file: Option<String>,
        static_path_expires: f64,
        // Proxy headers and the URL path prefix.
        proxy_headers: bool,
        forwarded_allow_ips: &str,
        url_path_prefix: Option<&str>,
        // Metrics.
        metrics: Option<PyRef<'_, crate::metrics::MetricsRegion>>,
        metrics_slot: usize,
        // Access log.
        access_log: bool,
        access_log_format: &str,
        access_log_json: bool,
        // Server header and response compression.
        server_header: Option<String>,
        response_compression: bool,
        response_compression_min_size: u64,
        response_compression_algorithms: Option<Vec<String>>,
    ) -> PyResult<Self> {
        parse_mode(http)?;
        if runtime_threads == 0 {
            return Err(PyValueError::new_err("runtime_threads must be at least 1"));
        }
        if backpressure == 0 {
            return Err(PyValueError::new_err("backpressure must be at least 1"));
        }
        seconds("http1_header_read_timeout", http1_header_read_timeout)?;
        seconds("http2_keep_alive_timeout", http2_keep_alive_timeout)?;
        if let Some(interval) = http2_keep_alive_interval {
            seconds("http2_keep_alive_interval", interval)?;
        }
        // RFC 9113 §6.5.2: windows up to 2^31-1, frames from 2^14 to 2^24-1.
        for (name, window) in [
            (
                "http2_initial_connection_window_size",
                http2_initial_connection_window_size,
            ),
            ("http2_initial_stream_window_size", http2_initial_stream_window_size),
        ] {
            if window == 0 || window > (1 << 31) - 1 {
                return Err(PyValueError::new_err(format!(
                    "{name} must be between 1 and 2147483647"
                )));
            }
        }
        if !(1 << 14..1 << 24).contains(&http2_max_frame_size) {
            return Err(PyValueError::new_err(
                "http2_max_frame_size must be between 16384 and 16777215",
            ));
        }
        if http2_max_concurrent_streams == 0 || http2_max_headers_size == 0 || http2_max_send_buffer_size == 0 {
            return Err(PyValueError::new_err("http2 limits must be at least 1"));
        }
        seconds("http1_keep_alive_timeout", http1_keep_alive_timeout)?;
        check_sizes(max_request_body_size, max_header_size)?;
        check_tls(
            ssl_cert.as_ref(),
            ssl_key.as_ref(),
            ssl_ca.as_ref(),
            ssl_client_verify,
            ssl_protocol_min,
        )?;
        if ws_max_message_size == 0 {
            return Err(PyValueError::new_err("ws_max_message_size must be at least 1"));
        }
        seconds("ws_ping_interval", ws_ping_interval)?;
        seconds("ws_ping_timeout", ws_ping_timeout)?;
        // Static files.
        let static_files = build_static_files(
            static_path_route,
            static_path_mount,
            static_path_dir_to_file,
            static_path_expires,
        )?;
        // Proxy headers and the URL path prefix.
        // The list is checked even with proxy headers off: a typo fails at startup.
        let trusted = forwarded_allow_ips
            .parse::<granian_proxy::TrustedProxies>()
            .map_err(|err| PyValueError::new_err(format!("forwarded_allow_ips: {err}")))?;
        let proxy = granian_proxy::ProxySettings::new(proxy_headers.then_some(trusted), url_path_prefix)
            .map_err(|err| PyValueError::new_err(err.to_string()))?;
        // Metrics.
        let metrics = metrics.map(|region| region.recorder(metrics_slot)).transpose()?;
        // Access log.
        // Compiled even when off, so a bad format fails at startup whatever the other flags.
        let access_log_queue = crate::access_log::AccessLogQueue::new(access_log_format, access_log_json)?;
        let access_log_queue = access_log.then_some(access_log_queue);
        // Server header and response compression.
        let server_header = server_header
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty());
        server_value(server_header.as_deref())?;
        let response_compression_algorithms = response_compression_algorithms.unwrap_or_else(|| {
            Encoding::ALL
                .iter()
                .map(|encoding| encoding.as_str().to_owned())
                .collect()
        });
        compression_encodings(&response_compression_algorithms)?;
        Ok(Self {
            http: http.to_owned(),
            runtime_threads,
            backpressure,
            http1_keep_alive,
            http1_header_read_timeout,
            http1_buffer_size,
            http1_pipeline_flush,
            http2_adaptive_window,
            http2_initial_connection_window_size,
            http2_initial_stream_window_size,
            http2_keep_alive_interval,
            http2_keep_alive_timeout,
            http2_max_concurrent_streams,
            http2_max_frame_size,
            http2_max_headers_size,
            http2_max_send_buffer_size,
            websockets,
            ws_max_message_size,
            ws_ping_interval,
            ws_ping_timeout,
            ws_deflate,
            http1_keep_alive_timeout,
            max_request_body_size,
            max_header_size,
            ssl_cert,
            ssl_key,
            ssl_key_password,
            ssl_protocol_min: ssl_protocol_min.to_owned(),
            ssl_ca,
            ssl_client_verify,
            // Static files.
            static_files,
            // Proxy headers and the URL path prefix.
            proxy_headers,
            forwarded_allow_ips: forwarded_allow_ips.to_owned(),
            url_path_prefix: url_path_prefix.map(str::to_owned),
            proxy,
            // Metrics.
            metrics,
            // Access log.
            access_log,
            access_log_format: access_log_format.to_owned(),
            access_log_json,
            access_log_queue,
            // Server header and response compression.
            server_header,
            response_compression,
            response_compression_min_size,
            response_compression_algorithms,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "ServerConfig(http={:?}, runtime_threads={}, backpressure={})",
            self.http, self.runtime_threads, self.backpressure
        )
    }
}

/// The size limits: at least one byte, and a header size HTTP/2 can announce (32 bits).
fn check_sizes(max_request_body_size: Option<u64>, max_header_size: Option<usize>) -> PyResult<()> {
    if max_header_size == Some(0) || max_request_body_size == Some(0) {
        return Err(PyValueError::new_err(
            "max_header_size and max_request_body_size must be at least 1",
        ));
    }
    if max_header_size.is_some_and(|size| u32::try_from(size).is_err()) {
        return Err(PyValueError::new_err("max_header_size must be below 4 GiB"));
    }
    Ok(())
}

/// The TLS options that only make sense together.
fn check_tls(
    cert: Option<&PathBuf>,
    key: Option<&PathBuf>,
    ca: Option<&PathBuf>,
    client_verify: bool,
    protocol_min: &str,
) -> PyResult<()> {
    if TlsVersion::parse(protocol_min).is_none() {
        return Err(PyValueError::new_err(format!(
            "ssl_protocol_min must be 'tls1.2' or 'tls1.3', not {protocol_min:?}"
        )));
    }
    if cert.is_some() != key.is_some() {
        return Err(PyValueError::new_err("ssl_cert and ssl_key go together"));
    }
    if (ca.is_some() || client_verify) && cert.is_none() {
        return Err(PyValueError::new_err(
            "ssl_ca and ssl_client_verify need ssl_cert and ssl_key",
        ));
    }
    if client_verify && ca.is_none() {
        return Err(PyValueError::new_err("ssl_client_verify needs ssl_ca"));
    }
    Ok(())
}

/// The static file settings, `None` without mounts; routes pair with mounts in order.
fn build_static_files(
    routes: Vec<String>,
    mounts: Vec<PathBuf>,
    index: Option<String>,
    expires: f64,
) -> PyResult<Option<Arc<StaticSettings>>> {
    let expires = seconds("static_path_expires", expires)?;
    if mounts.is_empty() {
        return Ok(None);
    }
    if routes.len() != mounts.len() {
        return Err(PyValueError::new_err(format!(
            "static_path_route and static_path_mount pair up in order: got {} routes for {} mounts",
            routes.len(),
            mounts.len()
        )));
    }
    StaticSettings::new(routes.into_iter().zip(mounts), index, Some(expires))
        .map(|settings| Some(Arc::new(settings)))
        .map_err(|err| PyValueError::new_err(err.to_string()))
}

/// The compression algorithms, in order of preference: at least one, each known once.
fn compression_encodings(names: &[String]) -> PyResult<Vec<Encoding>> {
    let mut encodings = Vec::with_capacity(names.len());
    for name in names {
        let encoding = Encoding::parse(name)
            .map_err(|err| PyValueError::new_err(format!("response_compression_algorithms: {err}")))?;
        if encodings.contains(&encoding) {
            return Err(PyValueError::new_err(format!(
                "response_compression_algorithms: {name:?} given twice"
            )));
        }
        encodings.push(encoding);
    }
    if encodings.is_empty() {
        return Err(PyValueError::new_err(
            "response_compression_algorithms must name at least one of br, zstd, gzip",
        ));
    }
    Ok(encodings)
}

/// The `Server` header value, `None` for none.
fn server_value(text: Option<&str>) -> PyResult<Option<HeaderValue>> {
    text.map(|text| HeaderValue::from_str(text).map_err(|err| PyValueError::new_err(format!("server_header: {err}"))))
        .transpose()
}

fn parse_mode(http: &str) -> PyResult<HttpMode> {
    match http {
        "auto" => Ok(HttpMode::Auto),
        "1" => Ok(HttpMode::Http1),
        "2" => Ok(HttpMode::Http2),
        other => Err(PyValueError::new_err(format!(
            "http must be 'auto', '1' or '2', not {other:?}"
        ))),
    }
}

impl ServerConfig {
    pub(crate) fn protocols(&self) -> Protocols {
        let timeout = Duration::from_secs_f64(self.http1_header_read_timeout);
        let keep_alive_timeout = Duration::from_secs_f64(self.http1_keep_alive_timeout);
        Protocols {
            mode: parse_mode(&self.http).unwrap_or(HttpMode::Auto),
            http1: Http1Limits {
                keep_alive: self.http1_keep_alive,
                header_read_timeout: (!timeout.is_zero()).then_some(timeout),
                keep_alive_timeout: (!keep_alive_timeout.is_zero()).then_some(keep_alive_timeout),
                buffer_size: self.http1_buffer_size,
                max_header_size: self.max_header_size,
                max_body_size: self.max_request_body_size,
                pipeline_flush: self.http1_pipeline_flush,
                server: server_value(self.server_header.as_deref()).unwrap_or_default(),
            },
            http2: Arc::new(Http2Limits {
                max_concurrent_streams: self.http2_max_concurrent_streams,
                initial_connection_window_size: self.http2_initial_connection_window_size,
                initial_stream_window_size: self.http2_initial_stream_window_size,
                max_frame_size: self.http2_max_frame_size,
                // Validated in `new` to fit.
                max_headers_size: self
                    .max_header_size
                    .and_then(|size| u32::try_from(size).ok())
                    .unwrap_or(self.http2_max_headers_size),
                max_send_buffer_size: self.http2_max_send_buffer_size,
                adaptive_window: self.http2_adaptive_window,
                // Validated in `new`.
                keep_alive_interval: self.http2_keep_alive_interval.map(Duration::from_secs_f64),
                keep_alive_timeout: Duration::from_secs_f64(self.http2_keep_alive_timeout),
                max_body_size: self.max_request_body_size,
                server: server_value(self.server_header.as_deref()).unwrap_or_default(),
            }),
        }
    }

    /// The static files to serve in front of the interface, if any.
    pub(crate) fn static_files(&self) -> Option<Arc<StaticSettings>> {
        self.static_files.clone()
    }

    /// The recorder of this worker process's metrics, when metrics are on.
    pub(crate) fn metrics(&self) -> Option<&granian_metrics::Recorder> {
        self.metrics.as_ref()
    }

    pub(crate) fn runtime_threads(&self) -> usize {
        self.runtime_threads
    }

    pub(crate) fn backpressure(&self) -> usize {
        self.backpressure
    }

    /// The TLS settings, when the server speaks TLS. ALPN offers what `http` allows, HTTP/2
    /// first.
    pub(crate) fn tls(&self) -> Option<TlsSettings> {
        let (Some(certificate), Some(key)) = (&self.ssl_cert, &self.ssl_key) else {
            return None;
        };
        let alpn = match parse_mode(&self.http).unwrap_or(HttpMode::Auto) {
            HttpMode::Auto => vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()],
            HttpMode::Http1 => vec![ALPN_HTTP11.to_vec()],
            HttpMode::Http2 => vec![ALPN_H2.to_vec()],
        };
        Some(TlsSettings {
            certificate: certificate.clone(),
            key: key.clone(),
            key_password: self.ssl_key_password.clone(),
            min_version: TlsVersion::parse(&self.ssl_protocol_min).unwrap_or(TlsVersion::Tls12),
            alpn,
            client_ca: self.ssl_ca.clone(),
            client_verify: self.ssl_client_verify,
        })
    }

    /// How long a TLS handshake may take: the HTTP/1.1 header read timeout, which bounds the
    /// wait for a request head that follows it.
    pub(crate) fn tls_handshake_timeout(&self) -> Option<Duration> {
        let timeout = Duration::from_secs_f64(self.http1_header_read_timeout);
        (!timeout.is_zero()).then_some(timeout)
    }

    /// Response compression (validated in `new`), `None` when off.
    pub(crate) fn compression(&self) -> Option<CompressionSettings> {
        self.response_compression.then(|| CompressionSettings {
            min_size: self.response_compression_min_size,
            encodings: compression_encodings(&self.response_compression_algorithms).unwrap_or_default(),
        })
    }

    /// The websocket limits, or `None` when websocket requests are served as plain HTTP.
    pub(crate) fn websockets(&self) -> Option<WebsocketLimits> {
        self.websockets.then(|| WebsocketLimits {
            max_message_size: self.ws_max_message_size,
            // Validated in `new`; 0 sends no pings.
            ping_interval: Some(Duration::from_secs_f64(self.ws_ping_interval)).filter(|interval| !interval.is_zero()),
            ping_timeout: Duration::from_secs_f64(self.ws_ping_timeout),
            deflate: self.ws_deflate,
            close_timeout: WebsocketLimits::CLOSE_TIMEOUT,
        })
    }

    /// Where the access log layer writes, when the access log is on.
    pub(crate) fn access_log_sink(&self) -> Option<std::sync::Arc<granian_accesslog::AccessLogSink>> {
        self.access_log_queue
            .as_ref()
            .map(|queue| std::sync::Arc::clone(queue.sink()))
    }
}
