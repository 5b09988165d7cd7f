//! What the unit tests and the fuzz target serve connections with.

use std::time::Duration;

use granian_harness::{Echo, drive};

use crate::{Http1Limits, NoUpgrades, serve_connection};

/// Limits that make a connection under test give up quickly.
pub(crate) fn limits() -> Http1Limits {
    Http1Limits {
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
        alt_svc: None,
        informational: true,
    }
}

/// Feed `input` to a fresh connection served by [`Echo`] with [`limits`] and return every byte
/// the server wrote before closing. Panics on a hang.
pub(crate) fn serve_bytes(input: &[u8]) -> Vec<u8> {
    drive(input, |server, conn, watch| async move {
        let _ = serve_connection(server, Echo, conn, &limits(), watch, None::<NoUpgrades>).await;
    })
}
