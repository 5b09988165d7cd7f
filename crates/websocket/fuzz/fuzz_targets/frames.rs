#![no_main]
// After a completed handshake (the first byte picks the permessage-deflate offer), any bytes
// as the client's websocket frames, every message echoed: the connection ends in a close or
// an error in bounded virtual time (`serve` panics on a hang), the server's frames stay
// well-formed with nothing but control frames after its close, and nothing panics.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(problem) = granian_websocket::fuzzing::serve(data) {
        panic!("{problem}");
    }
});
