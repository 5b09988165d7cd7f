"""HTTP/1.1 protocol tests, paired with crates/http1."""
