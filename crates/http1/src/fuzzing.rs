//! Drives one HTTP/1.1 connection from raw bytes for the fuzz target: whatever the input, the
//! outcome is a response, a close, or both, within a bounded time.

/// Feed `input` to a fresh connection served by an echo handler and return every byte the
/// server wrote before closing. Panics on a hang.
#[must_use]
pub fn serve_bytes(input: &[u8]) -> Vec<u8> {
    crate::testing::serve_bytes(input)
}
