"""ASGI interface tests, paired with crates/asgi."""
