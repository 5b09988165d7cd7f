use std::time::Duration;

use granian_serve::BodyLimits;
use http::HeaderValue;

/// The smallest read buffer hyper accepts; anything lower is raised to it.
pub(crate) const MIN_BUFFER_SIZE: usize = 8192;

/// How HTTP/1.1 connections are bounded.
#[derive(Debug, Clone)]
pub struct Http1Limits {
    /// Serve more than one request per connection.
    pub keep_alive: bool,
    /// Close a connection whose request head has not fully arrived in this time, counted from
    /// its first byte (from the accept, for a connection's first request).
    pub header_read_timeout: Option<Duration>,
    /// Close a kept-alive connection when no byte of a next request arrives in this time after
    /// a response.
    pub keep_alive_timeout: Option<Duration>,
    /// The read buffer, and so a bound on the request head (431 beyond it), in bytes.
    pub buffer_size: usize,
    /// The largest request head (request line and headers), in bytes: 431 beyond it. Without
    /// it, `buffer_size` bounds heads.
    pub max_header_size: Option<usize>,
    /// The largest request body, in bytes: 413 beyond it (see [`granian_serve::admit`]).
    pub max_body_size: Option<u64>,
    /// The longest a read of a request body waits for the client's next bytes: beyond it the
    /// request ends with 408 (or is cut off, once its response started) and the connection
    /// closes.
    pub body_read_timeout: Option<Duration>,
    /// The longest a write waits for the client to take more of a response (or of a websocket
    /// riding the connection): beyond it the connection closes.
    pub send_timeout: Option<Duration>,
    /// Gather pipelined responses into fewer writes. hyper then buffers a streamed body
    /// without bound (its write buffer stops pushing back), so it is off by default.
    pub pipeline_flush: bool,
    /// The `Server` header put on every response that does not set one; `None` adds none.
    pub server: Option<HeaderValue>,
    /// The `Alt-Svc` header put on every final response that does not set one: HTTP/3 offered on
    /// a UDP port (RFC 7838); `None` adds none.
    pub alt_svc: Option<HeaderValue>,
    /// Offer requests informational (1xx) responses (see [`granian_serve::Informational`]): for
    /// an interface that sends them; the others save the queue's cost on every request.
    pub informational: bool,
}

impl Http1Limits {
    /// What request bodies are bounded by.
    pub(crate) fn body_limits(&self) -> BodyLimits {
        BodyLimits {
            max_size: self.max_body_size,
            read_timeout: self.body_read_timeout,
        }
    }

    /// The buffer size hyper will actually use: never below hyper's minimum, and large enough
    /// for a head of `max_header_size`.
    pub(crate) fn effective_buffer_size(&self) -> usize {
        self.buffer_size
            .max(MIN_BUFFER_SIZE)
            .max(self.max_header_size.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn buffer_never_below_hyper_minimum() {
        let limits = Http1Limits {
            buffer_size: 10,
            ..testing::limits()
        };
        assert_eq!(limits.effective_buffer_size(), MIN_BUFFER_SIZE);
    }

    #[test]
    fn buffer_holds_the_largest_head() {
        let limits = Http1Limits {
            buffer_size: 16_384,
            max_header_size: Some(65_536),
            ..testing::limits()
        };
        assert_eq!(limits.effective_buffer_size(), 65_536);
        let limits = Http1Limits {
            buffer_size: 417_792,
            max_header_size: Some(1024),
            ..testing::limits()
        };
        assert_eq!(limits.effective_buffer_size(), 417_792);
    }
}
