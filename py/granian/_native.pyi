import asyncio
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, TypeAlias, final

from .server import Options

__all__ = [
    'ASGIReceive',
    'ASGISend',
    'ASGIWebsocketReceive',
    'ASGIWebsocketSend',
    'AccessLogQueue',
    'AsgiServer',
    'ClientDisconnected',
    'MetricsRegion',
    'ProtocolError',
    'RSGIHTTPProtocol',
    'RSGIHTTPScope',
    'RSGIHTTPStreamTransport',
    'RSGIHeaders',
    'RSGIProtocolClosed',
    'RSGIProtocolError',
    'RSGIWebsocketMessage',
    'RSGIWebsocketProtocol',
    'RSGIWebsocketTransport',
    'RsgiServer',
    'ServerConfig',
    'TlsError',
    'WSGIErrors',
    'WSGIFileWrapper',
    'WSGIInput',
    'WSGIStartResponse',
    'WSGIWrite',
    'WsgiServer',
    '__version__',
]
__version__: str

class ProtocolError(RuntimeError):
    """The server could not set up its socket or runtime."""

class TlsError(ValueError):
    """The TLS certificate, key or CA could not be loaded."""

class ClientDisconnected(OSError):
    """Raised by an ASGI `send` once the client has gone away."""

class RSGIProtocolError(RuntimeError):
    """The application used the RSGI protocol out of order: a second response, or the request body read twice."""

class RSGIProtocolClosed(RuntimeError):
    """The RSGI protocol is closed: the client left, the response is complete, or its stream ended."""

@final
class ASGIReceive:
    """The `receive` callable an ASGI application gets; built by the server only."""

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...

@final
class ASGISend:
    """The `send` callable an ASGI application gets; built by the server only. Takes
    `http.response.start` (with `trailers`), `http.response.body`, and the extension messages
    `http.response.pathsend`, `http.response.trailers` and `http.response.early_hint`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[None]: ...

@final
class ASGIWebsocketReceive:
    """The `receive` callable of an ASGI websocket; built by the server only."""

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...

@final
class ASGIWebsocketSend:
    """The `send` callable of an ASGI websocket; built by the server only."""

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[None]: ...

@final
class MetricsRegion:
    """Prometheus counters for `workers` worker numbers, in memory shared with the processes
    forked after it is created."""

    def __new__(cls, workers: int) -> MetricsRegion: ...
    @property
    def workers(self) -> int: ...
    @property
    def slots(self) -> int: ...
    def assign(self, worker: int) -> int: ...
    def release(self, slot: int) -> None: ...
    def count_spawns(self, count: int) -> None: ...
    def count_respawns(self, reason: str, count: int) -> None: ...
    def set_blocking_threads(self, slot: int, threads: int) -> None: ...
    def render(self) -> str: ...

@final
class AccessLogQueue:
    """The access log lines of one server, formatted by the runtime threads, waiting for the
    worker's logging thread. Lines that find the queue full are dropped and counted."""

    @staticmethod
    def check(format: str) -> None:
        """Raise `ValueError` saying why when `format` does not compile."""
    def drain(self, timeout: float) -> list[str] | None:
        """Every queued line, waiting up to `timeout` seconds (without the GIL) for the first one:
        `[]` after a timeout, `None` once closed and empty."""
    def drain_to(self, fd: int, timeout: float) -> int | None:
        """As `drain`, but writes the lines to `fd` (each ended by a newline) and returns how many."""
    def close(self) -> None:
        """Refuse further lines; `drain` still returns those queued."""
    @property
    def dropped(self) -> int:
        """Lines dropped so far because the queue was full."""

@final
class ServerConfig:
    """What one worker's native server runs with: `options` (validated in Python) converted once
    into the settings of the Rust crates. `metrics` is the region this worker counts into, at
    `metrics_slot`. `ready_check`, with `ready_path`, is called as `ready_check(reply)` from a
    runtime thread when a readiness probe needs a fresh answer of the application; it must
    start the check and return at once, and `reply(ready)` gives the answer (see
    `granian._ready`)."""

    def __new__(
        cls,
        options: Options,
        *,
        metrics: MetricsRegion | None = None,
        metrics_slot: int = 0,
        ready_check: Callable[[Callable[[bool], None]], None] | None = None,
    ) -> ServerConfig: ...
    def not_ready(self) -> None:
        """Answer the readiness path with 503 from now on: the server is about to stop."""
    @property
    def draining(self) -> bool:
        """Whether the readiness path answers 503 because the server drains or is about to."""
    @property
    def access_log_queue(self) -> AccessLogQueue | None:
        """Where the access log lines wait for the worker's logging thread; `None` when off."""
    def describe(self) -> dict[str, object]:
        """The options the server runs with, keyed by `Options` field and in its units (ms as int
        ms, seconds as int or float as the option holds them, paths as `Path`, sequences as
        tuples), read back from the converted settings rather than from `options`.

        Options that did not reach the server are left out: those of a feature switched off
        (`ssl_*` but `ssl_cert` and `ssl_key`, which are `None`, without TLS; `ws_*` without
        `websockets`; `response_compression_*` without `response_compression`;
        `static_path_dir_to_file` and `static_path_expires` without mounts;
        `forwarded_allow_ips` and `forwarded_headers` without `proxy_headers`;
        `log_access_format` and `log_access_json` without the access log) and
        `http2_max_headers_size` when
        `max_header_size` replaces it. `log_access` says whether the access log is on
        (`log_access and log_enabled`). As converted: static routes longest first without a
        trailing `/` (`/` for the root), mounts resolved, `static_path_expires` in whole seconds;
        `forwarded_allow_ips` as understood (`*` first, canonical addresses, a full-length
        network as its address), `forwarded_headers` in the table's order; durations to the
        nanosecond.
        """

@final
class AsgiServer:
    """Serves an ASGI application on an already listening socket, driven by an asyncio loop.

    `fd` is a listening TCP socket; the server duplicates it (once per accepting runtime: one,
    or one per thread with `runtime_mode` `st`), so the caller keeps ownership. `state` is the
    lifespan state: each request scope gets a shallow copy of it under 'state' (no 'state' key
    when it is None). Every http scope has 'extensions': 'http.response.pathsend' and
    'http.response.trailers', 'http.response.early_hint' on HTTP/1.1, 'tls' over TLS.
    With the config's `http3`, `udp_fd` is the UDP socket HTTP/3 is served on (duplicated too)
    and `steering` the `(marker, socket index)` its connection IDs carry (see `granian._quic`).
    """

    def __new__(
        cls,
        fd: int,
        config: ServerConfig,
        app: Callable[..., Any],
        loop: asyncio.AbstractEventLoop,
        *,
        state: dict[str, Any] | None = None,
        udp_fd: int | None = None,
        steering: tuple[int, int] | None = None,
    ) -> AsgiServer: ...
    def start(self) -> None:
        """Start accepting; call on the loop's thread (the loop need not be running yet)."""
    @property
    def requests(self) -> int:
        """Requests received since `start()`; a cheap read, meant for periodic checks."""

    def shutdown(self, timeout: float) -> asyncio.Future[None]:
        """Stop accepting, let in-flight requests finish for up to `timeout` seconds, then close
        every connection. The returned future (of `loop`) resolves once all are closed."""

_Headers: TypeAlias = Iterable[tuple[str, str]]

@final
class RSGIHeaders:
    """The request headers of an RSGI scope: a read-only mapping of lower-case names to `str` values
    (bytes beyond ASCII decoded as latin-1). `keys()` and iteration give each name once; `values()`,
    `items()` and `get_all()` give every value."""

    def keys(self) -> list[str]: ...
    def values(self) -> list[str]: ...
    def items(self) -> list[tuple[str, str]]: ...
    def get(self, key: str, default: Any = None) -> Any: ...
    def get_all(self, key: str) -> list[str]: ...
    def __getitem__(self, key: str, /) -> str: ...
    def __contains__(self, key: object, /) -> bool: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[str]: ...

@final
class RSGIHTTPScope:
    """The scope of one RSGI HTTP request; built by the server only."""

    @property
    def proto(self) -> str: ...
    @property
    def rsgi_version(self) -> str: ...
    @property
    def http_version(self) -> str: ...
    @property
    def server(self) -> str: ...
    @property
    def client(self) -> str: ...
    @property
    def scheme(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query_string(self) -> str: ...
    @property
    def headers(self) -> RSGIHeaders: ...
    @property
    def authority(self) -> str | None: ...

@final
class RSGIHTTPStreamTransport:
    """Sends the body of a streamed RSGI response; each send waits while the client is behind."""

    def send_bytes(self, data: bytes | bytearray) -> Awaitable[None]: ...
    def send_str(self, data: str) -> Awaitable[None]: ...

@final
class RSGIHTTPProtocol:
    """The protocol object of one RSGI HTTP request; built by the server only.

    `await protocol()` reads the whole body, `async for chunk in protocol` streams it (one or the
    other, before a complete response). One `response_*` call per request.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[bytes]: ...
    def __aiter__(self) -> RSGIHTTPProtocol: ...
    def __anext__(self) -> Awaitable[bytes]: ...
    def client_disconnect(self) -> Awaitable[None]: ...
    def response_empty(self, status: int = 200, headers: _Headers | None = None) -> None: ...
    def response_str(self, status: int = 200, headers: _Headers | None = None, body: str | None = None) -> None: ...
    def response_bytes(
        self, status: int = 200, headers: _Headers | None = None, body: bytes | bytearray | None = None
    ) -> None: ...
    def response_file(self, status: int, headers: _Headers | None, file: str | os.PathLike[str]) -> None: ...
    def response_file_range(
        self, status: int, headers: _Headers | None, file: str | os.PathLike[str], start: int, end: int
    ) -> None: ...
    def response_stream(self, status: int = 200, headers: _Headers | None = None) -> RSGIHTTPStreamTransport: ...

@final
class RSGIWebsocketMessage:
    """A message an RSGI websocket received: `kind` 0 (the websocket closed; `data` is None),
    1 (`data` is bytes) or 2 (`data` is str)."""

    @property
    def kind(self) -> int: ...
    @property
    def data(self) -> bytes | str | None: ...

@final
class RSGIWebsocketTransport:
    """Receives and sends the messages of an accepted RSGI websocket; sends wait while the client is behind."""

    def receive(self) -> Awaitable[RSGIWebsocketMessage]: ...
    def send_bytes(self, data: bytes | bytearray) -> Awaitable[None]: ...
    def send_str(self, data: str) -> Awaitable[None]: ...

@final
class RSGIWebsocketProtocol:
    """The protocol object of one RSGI websocket request; built by the server only.

    `await protocol.accept()` gives the transport. `close(status)` refuses the websocket with HTTP
    `status` (403 by default) before the accept, and closes it with code `status` (1000) after it.
    """

    def accept(self) -> Awaitable[RSGIWebsocketTransport]: ...
    def close(self, status: int | None = None) -> None: ...

@final
class RsgiServer:
    """Serves an RSGI application on an already listening socket, driven by an asyncio loop.

    `fd` is a listening TCP socket; the server duplicates it, so the caller keeps ownership.
    `app` is called as `app(scope, protocol)` (pass `__rsgi__` when the application has one).
    With the config's `http3`, `udp_fd` is the UDP socket HTTP/3 is served on (duplicated too)
    and `steering` the `(marker, socket index)` its connection IDs carry (see `granian._quic`).
    """

    def __new__(
        cls,
        fd: int,
        config: ServerConfig,
        app: Callable[..., Any],
        loop: asyncio.AbstractEventLoop,
        *,
        udp_fd: int | None = None,
        steering: tuple[int, int] | None = None,
    ) -> RsgiServer: ...
    def start(self) -> None:
        """Start accepting; call on the loop's thread (the loop need not be running yet)."""
    @property
    def requests(self) -> int:
        """Requests received since `start()`; a cheap read, meant for periodic checks."""

    def shutdown(self, timeout: float) -> asyncio.Future[None]:
        """Stop accepting, let in-flight requests finish for up to `timeout` seconds, then close
        every connection. The returned future (of `loop`) resolves once all are closed."""

_ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]

@final
class WSGIInput:
    """`environ['wsgi.input']`: the request body, read from the connection as it is asked for.
    Reads wait for the client without the GIL; a body the client broke off raises
    ConnectionAbortedError. Reading until `b''` is safe (`wsgi.input_terminated` is True)."""

    def read(self, size: int | None = None) -> bytes:
        """`size` bytes (fewer only at the end of the body); all the rest when `size` is None or negative."""

    def readline(self, size: int | None = None) -> bytes:
        """The next line, with its newline, cut at `size` bytes."""

    def readlines(self, hint: int | None = None) -> list[bytes]:
        """The remaining lines; with a positive `hint`, stops once they add up to `hint` bytes."""

    def __iter__(self) -> WSGIInput: ...
    def __next__(self) -> bytes: ...

@final
class WSGIErrors:
    """`environ['wsgi.errors']`: a text stream whose lines are logged on `granian.wsgi` at error level."""

    def write(self, text: str) -> int: ...
    def writelines(self, lines: Iterable[str]) -> None: ...
    def flush(self) -> None:
        """Log a partial last line now rather than at the end of the request."""

@final
class WSGIFileWrapper:
    """`environ['wsgi.file_wrapper']`: iterates `filelike.read(blksize)` until `b''`. Returned by an
    application, a wrapper around a regular file with a descriptor is sent by the server from the
    file itself, from its current position, without the bytes passing through Python."""

    def __new__(cls, filelike: Any, blksize: int = 8192) -> WSGIFileWrapper: ...
    @property
    def filelike(self) -> Any: ...
    @property
    def blksize(self) -> int: ...
    def __iter__(self) -> WSGIFileWrapper: ...
    def __next__(self) -> Any: ...
    def close(self) -> None:
        """Close the wrapped object, if it has a `close()`."""

@final
class WSGIWrite:
    """The `write(data)` callable `start_response` returns: sends the headers if they have not gone
    out, then `data`, waiting without the GIL while the client is behind."""

    def __call__(self, data: bytes | bytearray) -> None: ...

@final
class WSGIStartResponse:
    """The `start_response` callable a WSGI application gets; built by the server only."""

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: _ExcInfo | None = None) -> WSGIWrite: ...

@final
class WsgiServer:
    """Serves a WSGI application on an already listening socket, on up to `blocking_threads`
    Python threads (one from the start, the others started when a request finds none free and
    gone after `config`'s `blocking_threads_idle_timeout` without work); no event loop is
    involved.

    `fd` is a listening TCP socket; the server duplicates it, so the caller keeps ownership.
    `multiprocess` is `wsgi.multiprocess`.
    With the config's `http3`, `udp_fd` is the UDP socket HTTP/3 is served on (duplicated too)
    and `steering` the `(marker, socket index)` its connection IDs carry (see `granian._quic`).
    """

    def __new__(
        cls,
        fd: int,
        config: ServerConfig,
        app: Callable[..., Any],
        *,
        blocking_threads: int,
        multiprocess: bool,
        udp_fd: int | None = None,
        steering: tuple[int, int] | None = None,
    ) -> WsgiServer: ...
    def start(self) -> None:
        """Start accepting."""
    @property
    def requests(self) -> int:
        """Requests received since `start()`; a cheap read, meant for periodic checks."""

    def shutdown(self, timeout: float) -> None:
        """Stop accepting, let in-flight requests finish for up to `timeout` seconds, close every
        connection, then stop the threads. Blocks until done, without holding the GIL."""
