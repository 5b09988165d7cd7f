import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias, final

__all__ = [
    'ASGIReceive',
    'ASGISend',
    'AsgiServer',
    'ClientDisconnected',
    'ProtocolError',
    'ServerConfig',
    '__version__',
]
__version__: str

_AccessLog: TypeAlias = Callable[[str, str, str, str, str, int, float], None]

class ProtocolError(RuntimeError):
    """The server could not set up its socket or runtime."""

class ClientDisconnected(OSError):
    """Raised by an ASGI `send` once the client has gone away."""

@final
class ASGIReceive:
    """The `receive` callable an ASGI application gets; built by the server only."""

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[dict[str, Any]]: ...

@final
class ASGISend:
    """The `send` callable an ASGI application gets; built by the server only."""

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[None]: ...

@final
class ServerConfig:
    """Settings one worker's native server runs with, validated in Python before they get here."""

    def __new__(
        cls,
        *,
        http: str = 'auto',
        runtime_threads: int = 1,
        backpressure: int = 1024,
        http1_keep_alive: bool = True,
        http1_header_read_timeout: float = 30.0,
        http1_buffer_size: int = 417792,
        http1_pipeline_flush: bool = False,
    ) -> ServerConfig: ...
    @property
    def http(self) -> str: ...
    @property
    def runtime_threads(self) -> int: ...
    @property
    def backpressure(self) -> int: ...
    @property
    def http1_keep_alive(self) -> bool: ...
    @property
    def http1_header_read_timeout(self) -> float: ...
    @property
    def http1_buffer_size(self) -> int: ...
    @property
    def http1_pipeline_flush(self) -> bool: ...

@final
class AsgiServer:
    """Serves an ASGI application on an already listening socket, driven by an asyncio loop.

    `fd` is a listening TCP socket; the server duplicates it, so the caller keeps ownership.
    `state` is the lifespan state: each request scope gets a shallow copy of it under 'state'
    (no 'state' key when it is None). `access_log`, when given, is called on the loop thread
    once per finished request as (client, method, path, query_string, protocol, status, duration_ms).
    """

    def __new__(
        cls,
        fd: int,
        config: ServerConfig,
        app: Callable[..., Any],
        loop: asyncio.AbstractEventLoop,
        *,
        state: dict[str, Any] | None = None,
        access_log: _AccessLog | None = None,
    ) -> AsgiServer: ...
    def start(self) -> None:
        """Start accepting; call on the loop's thread (the loop need not be running yet)."""

    def shutdown(self, timeout: float) -> asyncio.Future[None]:
        """Stop accepting, let in-flight requests finish for up to `timeout` seconds, then close
        every connection. The returned future (of `loop`) resolves once all are closed."""
