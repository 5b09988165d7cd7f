#![no_main]
// An HTTP/1.1 request with `Upgrade: h2c` and `HTTP2-Settings`, then any bytes as the
// client's HTTP/2 (the first byte picks the mode, the preface, the request body and the
// settings): the server answers 101 and then whole HTTP/2 frames, its SETTINGS first, ends
// the connection in bounded virtual time (`serve_upgrade` panics on a hang), and never panics.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(problem) = granian_dispatch::fuzzing::serve_upgrade(data) {
        panic!("{problem}");
    }
});
