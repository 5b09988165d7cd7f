"""HTTP/1 and HTTP/2 settings as Granian groups them, for `Granian(http1_settings=...,
http2_settings=...)`.

Each field is one `http1_*`/`http2_*` option (`max_buffer_size` is `http1_buffer_size`). A
settings object given to `Granian` sets every one of its fields, defaults included, over the
matching keywords; the defaults are Granian's, so `HTTP2Settings().max_headers_size` is 16 MiB
while the `http2_max_headers_size` option defaults to 16 KiB.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ['HTTP1Settings', 'HTTP2Settings']


@dataclass
class HTTP1Settings:
    header_read_timeout: int = 30_000
    keep_alive: bool = True
    max_buffer_size: int = 8192 + 4096 * 100
    pipeline_flush: bool = False


@dataclass
class HTTP2Settings:
    adaptive_window: bool = False
    initial_connection_window_size: int = 1024 * 1024
    initial_stream_window_size: int = 1024 * 1024
    keep_alive_interval: int | None = None
    keep_alive_timeout: int = 20
    max_concurrent_streams: int = 200
    max_frame_size: int = 1024 * 16
    max_headers_size: int = 16 * 1024 * 1024
    max_send_buffer_size: int = 1024 * 400
