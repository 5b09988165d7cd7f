use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use granian_http1::Http1Limits;
use granian_http2::{Http2Limits, HttpMode, Protocols};
use granian_tls::{ALPN_H2, ALPN_HTTP11, TlsSettings, TlsVersion};
use granian_websocket::WebsocketLimits;
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
    // -- static files: fields
    // -- proxy headers and url path prefix: fields
    // -- metrics: fields
    // -- access log: fields
    // -- response headers and compression: fields
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
        // -- static files: defaults
        // -- proxy headers and url path prefix: defaults
        // -- metrics: defaults
        // -- access log: defaults
        // -- response headers and compression: defaults
    ))]
    #[expect(
        clippy::too_many_arguments,
        clippy::fn_params_excessive_bools,
        reason = "keyword-only settings, one per CLI flag"
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
        // -- static files: parameters
        // -- proxy headers and url path prefix: parameters
        // -- metrics: parameters
        // -- access log: parameters
        // -- response headers and compression: parameters
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
        // -- static files: checks
        // -- proxy headers and url path prefix: checks
        // -- metrics: checks
        // -- access log: checks
        // -- response headers and compression: checks
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
            http1_keep_alive_timeout,
            max_request_body_size,
            max_header_size,
            ssl_cert,
            ssl_key,
            ssl_key_password,
            ssl_protocol_min: ssl_protocol_min.to_owned(),
            ssl_ca,
            ssl_client_verify,
            // -- static files: values
            // -- proxy headers and url path prefix: values
            // -- metrics: values
            // -- access log: values
            // -- response headers and compression: values
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
            }),
        }
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
            min_version: TlsVersion::parse(&self.ssl_protocol_min).unwrap_or_default(),
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

    /// The websocket limits, or `None` when websocket requests are served as plain HTTP.
    pub(crate) fn websockets(&self) -> Option<WebsocketLimits> {
        self.websockets.then(|| WebsocketLimits {
            max_message_size: self.ws_max_message_size,
            // Validated in `new`; 0 sends no pings.
            ping_interval: Some(Duration::from_secs_f64(self.ws_ping_interval)).filter(|interval| !interval.is_zero()),
            ping_timeout: Duration::from_secs_f64(self.ws_ping_timeout),
            ..WebsocketLimits::default()
        })
    }
}
