//! What the unit tests and the fuzz target serve connections with.

use std::sync::Arc;
use std::time::Duration;

use granian_harness::{Echo, drive};
use granian_http1::Http1Limits;
use granian_http2::Http2Limits;

use crate::{HttpMode, Protocols, serve};

/// Limits that make a connection under test give up quickly.
pub(crate) fn protocols(mode: HttpMode) -> Protocols {
    Protocols {
        mode,
        h2c_upgrade: true,
        http1: Http1Limits {
            keep_alive: true,
            header_read_timeout: Some(Duration::from_secs(1)),
            keep_alive_timeout: Some(Duration::from_secs(30)),
            buffer_size: 16 * 1024,
            max_header_size: None,
            max_body_size: None,
            body_read_timeout: Some(Duration::from_secs(1)),
            send_timeout: Some(Duration::from_secs(1)),
            pipeline_flush: false,
            server: None,
        },
        http2: Arc::new(Http2Limits {
            max_concurrent_streams: 100,
            initial_connection_window_size: 1 << 20,
            initial_stream_window_size: 1 << 20,
            max_frame_size: 1 << 14,
            max_headers_size: 1 << 14,
            max_send_buffer_size: 1 << 16,
            adaptive_window: false,
            keep_alive_interval: None,
            keep_alive_timeout: Duration::from_secs(20),
            handshake_timeout: Some(Duration::from_secs(1)),
            idle_timeout: Some(Duration::from_secs(30)),
            max_body_size: None,
            body_read_timeout: Some(Duration::from_secs(1)),
            send_timeout: Some(Duration::from_secs(1)),
            max_receiving_streams: 100,
            server: None,
        }),
    }
}

/// Feed `input` to a fresh connection served by [`Echo`] in `mode` and return every byte the
/// server wrote before closing. Panics on a hang.
pub(crate) fn serve_bytes(mode: HttpMode, input: &[u8]) -> Vec<u8> {
    drive(input, move |server, conn, watch| async move {
        serve(server, Echo, conn, &protocols(mode), watch).await;
    })
}
