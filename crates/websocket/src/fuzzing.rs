//! Drives one websocket from raw bytes for the fuzz target: after a completed handshake, any
//! bytes from the client end in a close or an error within a bounded time, and what the
//! server writes stays well-formed.

use crate::testing::{OFFERS, problem, serve_frames};

/// Serve a connection whose handshake offers the extension `data[0]` picks, then gets the
/// rest of `data` as websocket bytes; every message is echoed. What is wrong with the
/// server's answer, if anything (see `testing::problem`). Panics on a hang.
pub fn serve(data: &[u8]) -> Result<(), String> {
    let Some((&selector, frames)) = data.split_first() else {
        return Ok(());
    };
    let offer = OFFERS[usize::from(selector) % OFFERS.len()];
    let served = serve_frames(offer, frames);
    problem(&served, offer.is_some()).map_or(Ok(()), Err)
}
