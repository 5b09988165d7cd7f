use std::sync::Arc;
use std::time::Duration;

use granian_http1::Http1Limits;
use granian_http2::{Http2Limits, HttpMode, Protocols};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The settings one worker's server runs with, validated before they reach Rust.
#[pyclass(frozen, module = "granian._native")]
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
    ))]
    #[expect(clippy::too_many_arguments, reason = "keyword-only settings, one per CLI flag")]
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
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "ServerConfig(http={:?}, runtime_threads={}, backpressure={})",
            self.http, self.runtime_threads, self.backpressure
        )
    }
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
        Protocols {
            mode: parse_mode(&self.http).unwrap_or(HttpMode::Auto),
            http1: Http1Limits {
                keep_alive: self.http1_keep_alive,
                header_read_timeout: (!timeout.is_zero()).then_some(timeout),
                buffer_size: self.http1_buffer_size,
                pipeline_flush: self.http1_pipeline_flush,
            },
            http2: Arc::new(Http2Limits {
                max_concurrent_streams: self.http2_max_concurrent_streams,
                initial_connection_window_size: self.http2_initial_connection_window_size,
                initial_stream_window_size: self.http2_initial_stream_window_size,
                max_frame_size: self.http2_max_frame_size,
                max_headers_size: self.http2_max_headers_size,
                max_send_buffer_size: self.http2_max_send_buffer_size,
                adaptive_window: self.http2_adaptive_window,
                // Validated in `new`.
                keep_alive_interval: self.http2_keep_alive_interval.map(Duration::from_secs_f64),
                keep_alive_timeout: Duration::from_secs_f64(self.http2_keep_alive_timeout),
            }),
        }
    }

    pub(crate) fn runtime_threads(&self) -> usize {
        self.runtime_threads
    }

    pub(crate) fn backpressure(&self) -> usize {
        self.backpressure
    }
}
