//! Any bytes at the start of a connection give a PROXY header or an error, never a panic; a
//! header that parses says how many bytes it took, no more than were given.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(granian_proxyprotocol::Parsed::Complete(_, used)) = granian_proxyprotocol::parse(data) {
        assert!(used <= data.len());
    }
});
