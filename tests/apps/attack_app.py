"""The application the slow-client attacks (tests/attacks/) are run against, once per interface:
`asgi`, `rsgi` and `wsgi` serve the same routes.

- `/`: 200 `ok`, the probe a normal client sends while an attack runs.
- `/upload`: reads the whole request body, answers its length; the target of stalled bodies.
- `/download`: streams zero bytes in 64 KiB chunks, up to 256 MiB; the target of slow readers.
- `/ws` (ASGI, RSGI): accepts, then sends 64 KiB messages until a send fails.
- `/stats`: what the application saw, as JSON counters of this worker: `upload_failed` (a body
  read that ended in a disconnect), `download_failed` (a send that failed), `download_closed`
  (WSGI: the iterable's `close()`), `ws_failed` (a websocket send that failed).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from granian.rsgi import HTTPProtocol, ProtocolClosed, Scope, WebsocketProtocol

CHUNK = 64 * 1024
DOWNLOAD_CHUNKS = 4096

_STATS = {'upload_failed': 0, 'download_failed': 0, 'download_closed': 0, 'ws_failed': 0}
_LOCK = threading.Lock()


def _count(name: str) -> None:
    with _LOCK:
        _STATS[name] += 1


def _stats() -> bytes:
    with _LOCK:
        return json.dumps(_STATS).encode()


# -- ASGI ----------------------------------------------------------------------------------------

Message = dict[str, Any]


async def _asgi_respond(send: Callable[[Message], Any], body: bytes, status: int = 200) -> None:
    await send({'type': 'http.response.start', 'status': status, 'headers': [(b'content-type', b'text/plain')]})
    await send({'type': 'http.response.body', 'body': body})


async def asgi(scope: dict[str, Any], receive: Callable[[], Any], send: Callable[[Message], Any]) -> None:
    if scope['type'] == 'lifespan':
        while True:
            event = (await receive())['type']
            await send({'type': event + '.complete'})
            if event == 'lifespan.shutdown':
                return
    path = scope['path']
    if scope['type'] == 'websocket':
        await receive()
        await send({'type': 'websocket.accept'})
        try:
            while True:
                await send({'type': 'websocket.send', 'bytes': bytes(CHUNK)})
        except OSError:
            _count('ws_failed')
        return
    if path == '/upload':
        length = 0
        while True:
            message = await receive()
            if message['type'] == 'http.disconnect':
                _count('upload_failed')
                return
            length += len(message.get('body', b''))
            if not message.get('more_body', False):
                break
        await _asgi_respond(send, str(length).encode())
    elif path == '/download':
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
        try:
            for _ in range(DOWNLOAD_CHUNKS):
                await send({'type': 'http.response.body', 'body': bytes(CHUNK), 'more_body': True})
            await send({'type': 'http.response.body', 'body': b''})
        except OSError:
            _count('download_failed')
    elif path == '/stats':
        await _asgi_respond(send, _stats())
    else:
        await _asgi_respond(send, b'ok')


# -- RSGI ----------------------------------------------------------------------------------------


async def _rsgi_websocket(protocol: WebsocketProtocol) -> None:
    transport = await protocol.accept()
    try:
        while True:
            await transport.send_bytes(bytes(CHUNK))
    except ProtocolClosed:
        _count('ws_failed')


async def rsgi(scope: Scope, protocol: Any) -> None:
    if scope.proto == 'ws':
        await _rsgi_websocket(protocol)
        return
    http: HTTPProtocol = protocol
    headers = [('content-type', 'text/plain')]
    if scope.path == '/upload':
        try:
            body = await http()
        except ProtocolClosed:
            _count('upload_failed')
            return
        http.response_str(200, headers, str(len(body)))
    elif scope.path == '/download':
        transport = http.response_stream(200, headers)
        try:
            for _ in range(DOWNLOAD_CHUNKS):
                await transport.send_bytes(bytes(CHUNK))
        except ProtocolClosed:
            _count('download_failed')
    elif scope.path == '/stats':
        http.response_bytes(200, headers, _stats())
    else:
        http.response_str(200, headers, 'ok')


# -- WSGI ----------------------------------------------------------------------------------------


class _Download:
    """The streamed body of `/download`: counts its `close()`, as PEP 3333 asks servers to call."""

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(DOWNLOAD_CHUNKS):
            yield bytes(CHUNK)

    def close(self) -> None:
        _count('download_closed')


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ['PATH_INFO']
    headers = [('Content-Type', 'text/plain')]
    if path == '/upload':
        try:
            body = environ['wsgi.input'].read()
        except OSError:
            _count('upload_failed')
            raise
        start_response('200 OK', headers)
        return [str(len(body)).encode()]
    if path == '/download':
        start_response('200 OK', headers)
        return _Download()
    start_response('200 OK', headers)
    return [_stats() if path == '/stats' else b'ok']
