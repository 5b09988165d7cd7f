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
use granian_http1::Http1Limits;
use granian_http2::Http2Limits;
use granian_proxy::{ProxySettings, TrustedProxies};
use granian_staticfiles::StaticSettings;
use granian_tls::{ALPN_H2, ALPN_HTTP11, TlsSettings, TlsVersion};
use granian_websocket::WebsocketLimits;
use http::HeaderValue;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::access_log::AccessLogQueue;
use crate::metrics::MetricsRegion;

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
    #[pyo3(attribute)]
    backpressure: usize,
    /// Seconds.
    #[pyo3(attribute)]
    blocking_threads_idle_timeout: f64,
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
    pub(crate) runtime_threads: usize,
    pub(crate) backpressure: usize,
    /// How long a WSGI thread started beyond `blocking_threads` stays idle before it exits.
    pub(crate) blocking_threads_idle_timeout: Duration,
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
            .map(HeaderValue::from_str)
            .transpose()
            .map_err(|err| Invalid::new("server_header", err))?;
        Ok(Self {
            runtime_threads: options.runtime_threads,
            backpressure: options.backpressure,
            blocking_threads_idle_timeout: seconds(
                "blocking_threads_idle_timeout",
                options.blocking_threads_idle_timeout,
            )?,
            protocols: Protocols {
                mode,
                http1: http1_limits(options, server.clone())?,
                http2: Arc::new(http2_limits(options, server)?),
            },
            tls: tls_settings(options, mode)?,
            websockets: websocket_limits(options)?,
            compression: compression_settings(options)?,
            static_files: static_settings(options)?,
            proxy: proxy_settings(options)?,
            access_log: access_log(options)?,
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
            ("runtime_threads", Value::int(self.runtime_threads)),
            ("backpressure", Value::int(self.backpressure)),
            (
                "blocking_threads_idle_timeout",
                Value::seconds(Some(self.blocking_threads_idle_timeout)),
            ),
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
        ];
        if http1.max_header_size.is_none() {
            out.push(("http2_max_headers_size", Value::int(http2.max_headers_size)));
        }
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
            out.push(("forwarded_allow_ips", Value::Str(trusted.to_string())));
        }
        if let Some(sink) = &self.access_log {
            out.extend([
                ("log_access_format", Value::Str(sink.format().template().to_owned())),
                ("log_access_json", Value::Bool(sink.format().is_json())),
            ]);
        }
        out
    }
}

fn nonzero(duration: Duration) -> Option<Duration> {
    (!duration.is_zero()).then_some(duration)
}

/// A duration given in seconds as a float.
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
        max_body_size: options.max_request_body_size,
        body_read_timeout: Some(body_read_timeout(options)?),
        send_timeout: Some(send_timeout(options)?),
        max_receiving_streams: options.http2_max_receiving_streams,
        server,
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
    let settings =
        StaticSettings::new(mounts, options.static_path_dir_to_file.clone(), Some(expires)).map_err(|err| {
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
    ProxySettings::new(trusted, options.url_path_prefix.as_deref()).map_err(|err| Invalid::new("url_path_prefix", err))
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
}

#[pymethods]
impl ServerConfig {
    #[new]
    #[pyo3(signature = (options, *, metrics = None, metrics_slot = 0))]
    #[expect(
        clippy::needless_pass_by_value,
        reason = "pyo3 hands extracted arguments over by value"
    )]
    fn new(options: Options, metrics: Option<PyRef<'_, MetricsRegion>>, metrics_slot: usize) -> PyResult<Self> {
        Ok(Self {
            settings: Settings::new(&options)?,
            metrics: metrics.map(|region| region.recorder(metrics_slot)).transpose()?,
        })
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
            "ServerConfig(http={:?}, runtime_threads={}, backpressure={})",
            mode_name(self.settings.protocols.mode),
            self.settings.runtime_threads,
            self.settings.backpressure
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            backpressure: 64,
            blocking_threads_idle_timeout: 7.5,
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
            url_path_prefix: Some("/app".into()),
            log_enabled: true,
            log_access: true,
            log_access_json: true,
            log_access_format: "%(status)d".into(),
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
            ..options()
        };
        let settings = settings(&off);
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
            "log_access_format",
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
            ("backpressure", Value::Int(64)),
            ("blocking_threads_idle_timeout", Value::Float(7.5)),
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
            ("url_path_prefix", Value::Str("/app".into())),
            ("log_access", Value::Bool(true)),
            ("log_access_format", Value::Str("%(status)d".into())),
            ("log_access_json", Value::Bool(true)),
        ];
        expected.sort_by_key(|(name, _)| *name);
        assert_eq!(described(&options), expected);
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
                    forwarded_allow_ips: "10.0.0.1/8".into(),
                    ..options()
                },
                "forwarded_allow_ips",
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
