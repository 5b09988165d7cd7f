"""An HTTP/3 client for the tests, on aioquic: `connect(port, ca)` gives a `Client` whose
`request(...)` sends one request on a stream of its own and returns the whole `Response`.

A request that gets no response raises `RequestFailed`: `reset` when the server reset its stream
(with the HTTP/3 error code), `closed` when the connection ended first (with the QUIC or HTTP/3
code of its close).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aioquic.asyncio.client import connect as quic_connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection, H3Stream
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, QuicEvent, StreamReset

HOST = '127.0.0.1'
# RFC 9114 §8.1.
H3_NO_ERROR = 0x100
H3_REQUEST_REJECTED = 0x10B
H3_REQUEST_CANCELLED = 0x10C

Header = tuple[bytes, bytes]


@dataclass
class Response:
    status: int
    headers: list[Header]
    body: bytes = b''

    def header(self, name: str) -> str | None:
        key = name.lower().encode()
        return next((value.decode('latin-1') for item, value in self.headers if item == key), None)


class RequestFailed(Exception):
    def __init__(self, reason: str, code: int) -> None:
        super().__init__(f'{reason} (code {code:#x})')
        self.reason = reason
        self.code = code


@dataclass
class _Pending:
    future: asyncio.Future[Response]
    headers: list[Header] | None = None
    body: bytearray = field(default_factory=bytearray)


class _H3Connection(H3Connection):
    """aioquic's HTTP/3, told which of its requests are HEAD: RFC 9110 §9.3.2 lets the answer to a
    HEAD declare the length of the body it does not carry, which aioquic would take for a
    `content-length` mismatch (it does not remember request methods)."""

    def __init__(self, quic: object) -> None:
        super().__init__(quic)  # type: ignore[arg-type]
        self.head_streams: set[int] = set()

    def _check_content_length(self, stream: H3Stream) -> None:
        if stream.stream_id not in self.head_streams:
            super()._check_content_length(stream)


class Client(QuicConnectionProtocol):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.h3 = _H3Connection(self._quic)
        self._pending: dict[int, _Pending] = {}
        self.terminated: ConnectionTerminated | None = None

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ConnectionTerminated):
            self.terminated = event
            for pending in self._pending.values():
                if not pending.future.done():
                    pending.future.set_exception(RequestFailed('closed', event.error_code))
            self._pending.clear()
            return
        if isinstance(event, StreamReset):
            pending = self._pending.pop(event.stream_id, None)
            if pending is not None and not pending.future.done():
                pending.future.set_exception(RequestFailed('reset', event.error_code))
        for h3_event in self.h3.handle_event(event):
            pending = self._pending.get(getattr(h3_event, 'stream_id', -1))
            if pending is None:
                continue
            if isinstance(h3_event, HeadersReceived):
                if pending.headers is None:
                    pending.headers = list(h3_event.headers)
            elif isinstance(h3_event, DataReceived):
                pending.body += h3_event.data
            if getattr(h3_event, 'stream_ended', False):
                self._pending.pop(h3_event.stream_id, None)
                headers = pending.headers or []
                status = int(dict(headers).get(b':status', b'0'))
                fields = [(name, value) for name, value in headers if not name.startswith(b':')]
                if not pending.future.done():
                    pending.future.set_result(Response(status, fields, bytes(pending.body)))

    def start(
        self,
        method: str,
        path: str,
        headers: Sequence[Header] = (),
        body: bytes | None = None,
        *,
        end_stream: bool = True,
    ) -> tuple[int, asyncio.Future[Response]]:
        """Send a request (its body too, unless `end_stream` is False); its stream and response."""
        stream_id = self._quic.get_next_available_stream_id()
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[stream_id] = _Pending(future)
        if method == 'HEAD':
            self.h3.head_streams.add(stream_id)
        head = [
            (b':method', method.encode()),
            (b':scheme', b'https'),
            (b':authority', b'localhost'),
            (b':path', path.encode()),
            *headers,
        ]
        self.h3.send_headers(stream_id, head, end_stream=body is None and end_stream)
        if body is not None:
            self.h3.send_data(stream_id, body, end_stream=end_stream)
        self.transmit()
        return stream_id, future

    async def request(
        self,
        method: str,
        path: str,
        headers: Sequence[Header] = (),
        body: bytes | None = None,
        timeout: float = 10.0,
    ) -> Response:
        _, future = self.start(method, path, headers, body)
        return await asyncio.wait_for(future, timeout)

    def reset(self, stream_id: int, code: int = H3_REQUEST_CANCELLED) -> None:
        self._quic.reset_stream(stream_id, code)
        self.transmit()


def configuration(ca: Path) -> QuicConfiguration:
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, server_name='localhost', idle_timeout=10.0)
    config.load_verify_locations(str(ca))
    config.verify_mode = ssl.CERT_REQUIRED
    return config


@contextlib.asynccontextmanager
async def connect(port: int, ca: Path, timeout: float = 10.0) -> AsyncIterator[Client]:
    """An HTTP/3 connection to 127.0.0.1:`port`, trusting the CA in `ca`."""
    async with contextlib.AsyncExitStack() as stack:
        client = await asyncio.wait_for(
            stack.enter_async_context(
                quic_connect(HOST, port, configuration=configuration(ca), create_protocol=Client)
            ),
            timeout,
        )
        assert isinstance(client, Client)
        yield client
