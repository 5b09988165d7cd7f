"""Slow-client attacks against a real server: stalled request bodies and slow readers, over
HTTP/1.1, HTTP/2 and websockets, each run against the ASGI, RSGI and WSGI interfaces (see
_support.py for what every attack asserts)."""
