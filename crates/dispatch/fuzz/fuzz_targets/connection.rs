#![no_main]
// Any bytes as one connection, in the mode the first byte picks (auto, 1, 2): the server
// answers (HTTP/1.x, a 101 then HTTP/2 frames, or HTTP/2 frames), closes, or both, in bounded
// virtual time (`serve_bytes` panics on a hang), and never panics itself.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let mode = granian_dispatch::fuzzing::mode_for(selector);
    let output = granian_dispatch::fuzzing::serve_bytes(mode, input);
    let is_http1 = output.starts_with(b"HTTP/1.1 ") || output.starts_with(b"HTTP/1.0 ");
    // An HTTP/2 server's first frame is SETTINGS: a 9-byte header whose type byte is 0x4.
    let is_http2 = output.len() >= 9 && output[3] == 0x4;
    assert!(output.is_empty() || is_http1 || is_http2, "unexpected output {output:?}");
});
