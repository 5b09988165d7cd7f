#![no_main]
// Any bytes as one HTTP/1.1 connection: the server answers (an HTTP/1.0 request gets an
// HTTP/1.0 status line), closes, or both, in bounded virtual time (`serve_bytes` panics on a
// hang), and never panics itself.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let response = granian_http1::fuzzing::serve_bytes(data);
    let answered = response.starts_with(b"HTTP/1.1 ") || response.starts_with(b"HTTP/1.0 ");
    assert!(response.is_empty() || answered, "unexpected output {response:?}");
});
