//! Drives one connection from raw bytes in any [`HttpMode`] for the fuzz targets: whatever the
//! input, the server answers, closes, or both, within a bounded time.

use crate::HttpMode;

/// The mode a fuzz input selects with its first byte.
#[must_use]
pub fn mode_for(selector: u8) -> HttpMode {
    match selector % 3 {
        0 => HttpMode::Auto,
        1 => HttpMode::Http1,
        _ => HttpMode::Http2,
    }
}

/// Feed `input` to a fresh connection served by an echo handler in `mode` and return every
/// byte the server wrote before closing. Panics on a hang.
#[must_use]
pub fn serve_bytes(mode: HttpMode, input: &[u8]) -> Vec<u8> {
    crate::testing::serve_bytes(mode, input)
}

/// Serve a connection that upgrades to h2c and then gets arbitrary HTTP/2 bytes, laid out
/// from `data` as `testing::upgrade_input` says (a byte picking the mode, the client preface,
/// the request body and `HTTP2-Settings`, then the HTTP/2 bytes). What is wrong with the server's answer,
/// if anything: anything but a `101` followed by whole HTTP/2 frames, the server's SETTINGS
/// first. Panics on a hang.
pub fn serve_upgrade(data: &[u8]) -> Result<(), String> {
    let (mode, input) = crate::testing::upgrade_input(data);
    let output = serve_bytes(mode, &input);
    crate::testing::upgrade_problem(&output).map_or(Ok(()), Err)
}
