"""WSGI interface tests, paired with crates/wsgi."""
