//! Drives one connection from raw bytes in any [`HttpMode`] for the fuzz target: whatever the
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
