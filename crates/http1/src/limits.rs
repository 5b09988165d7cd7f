use std::time::Duration;

/// The smallest read buffer hyper accepts; anything lower is raised to it.
pub(crate) const MIN_BUFFER_SIZE: usize = 8192;

/// How HTTP/1.1 connections are bounded.
#[derive(Debug, Clone)]
pub struct Http1Limits {
    /// Serve more than one request per connection.
    pub keep_alive: bool,
    /// Close a connection whose request head has not fully arrived in this time. Also bounds
    /// an idle keep-alive connection waiting for its next request.
    pub header_read_timeout: Option<Duration>,
    /// The read buffer, and so the largest request head (431 beyond it), in bytes.
    pub buffer_size: usize,
    /// Gather pipelined responses into fewer writes. hyper then buffers a streamed body
    /// without bound (its write buffer stops pushing back), so it is off by default.
    pub pipeline_flush: bool,
}

impl Default for Http1Limits {
    fn default() -> Self {
        Self {
            keep_alive: true,
            header_read_timeout: Some(Duration::from_secs(30)),
            buffer_size: 417_792,
            pipeline_flush: false,
        }
    }
}

impl Http1Limits {
    /// The buffer size hyper will actually use.
    pub(crate) fn effective_buffer_size(&self) -> usize {
        self.buffer_size.max(MIN_BUFFER_SIZE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_never_below_hyper_minimum() {
        let limits = Http1Limits {
            buffer_size: 10,
            ..Http1Limits::default()
        };
        assert_eq!(limits.effective_buffer_size(), MIN_BUFFER_SIZE);
    }
}
