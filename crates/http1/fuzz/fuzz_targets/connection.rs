#![no_main]
// Any bytes as one HTTP/1.1 connection: the server answers, closes, or both, in bounded
// time (`serve_bytes` panics on a hang), and never panics itself.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let response = granian_http1::fuzzing::serve_bytes(data);
    assert!(response.is_empty() || response.starts_with(b"HTTP/1.1 "));
});
