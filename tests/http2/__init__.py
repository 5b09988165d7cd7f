"""HTTP/2 protocol tests, paired with crates/http2."""
