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
    ))]
    fn new(
        http: &str,
        runtime_threads: usize,
        backpressure: usize,
        http1_keep_alive: bool,
        http1_header_read_timeout: f64,
        http1_buffer_size: usize,
        http1_pipeline_flush: bool,
    ) -> PyResult<Self> {
        parse_mode(http)?;
        if runtime_threads == 0 {
            return Err(PyValueError::new_err("runtime_threads must be at least 1"));
        }
        if backpressure == 0 {
            return Err(PyValueError::new_err("backpressure must be at least 1"));
        }
        if !http1_header_read_timeout.is_finite() || http1_header_read_timeout < 0.0 {
            return Err(PyValueError::new_err(
                "http1_header_read_timeout must be a non-negative number",
            ));
        }
        Ok(Self {
            http: http.to_owned(),
            runtime_threads,
            backpressure,
            http1_keep_alive,
            http1_header_read_timeout,
            http1_buffer_size,
            http1_pipeline_flush,
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
            http2: Arc::new(Http2Limits::default()),
        }
    }

    pub(crate) fn runtime_threads(&self) -> usize {
        self.runtime_threads
    }

    pub(crate) fn backpressure(&self) -> usize {
        self.backpressure
    }
}
