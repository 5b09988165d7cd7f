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
        http1: Http1Limits {
            header_read_timeout: Some(Duration::from_secs(1)),
            buffer_size: 16 * 1024,
            ..Http1Limits::default()
        },
        http2: Arc::new(Http2Limits {
            keep_alive_interval: None,
            ..Http2Limits::default()
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
