"""One application per interface for tests/responses, answering by path:

- `/text`: 5000 bytes of text/plain with a strong ETag;
- `/small`: 100 bytes of text/plain;
- `/png`: 5000 bytes typed image/png;
- `/own-server`: text that sets its own `Server` header;
- `/no-transform`: text marked `Cache-Control: no-transform`;
- `/encoded`: text the application gzipped itself;
- `/not-modified`: a 304 with an ETag;
- `/stream`: three server-sent events, `PAUSE` seconds apart (ASGI and RSGI);
- `/fail`: raises, so the server answers 500 itself;
- anything else: `hello`.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

TEXT = b'granian compresses text responses. ' * 143
SMALL = b's' * 100
PNG = bytes(range(256)) * 19 + b'\x00' * 136
ENCODED = gzip.compress(TEXT, mtime=0)
PAUSE = 1.0
EVENTS = [f'data: event {index}\n\n'.encode() * 4 for index in range(3)]

Headers = list[tuple[str, str]]


def route(path: str) -> tuple[int, Headers, bytes]:
    """Status, headers and body for `path` (every route but `/stream` and `/fail`)."""
    text = [('content-type', 'text/plain; charset=utf-8')]
    if path == '/text':
        return 200, [*text, ('etag', '"v1"')], TEXT
    if path == '/small':
        return 200, text, SMALL
    if path == '/png':
        return 200, [('content-type', 'image/png')], PNG
    if path == '/own-server':
        return 200, [*text, ('server', 'app-server')], TEXT
    if path == '/no-transform':
        return 200, [*text, ('cache-control', 'public, no-transform')], TEXT
    if path == '/encoded':
        return 200, [*text, ('content-encoding', 'gzip')], ENCODED
    if path == '/not-modified':
        return 304, [('etag', '"v1"')], b''
    return 200, text, b'hello'


Message = dict[str, Any]


async def asgi(
    scope: dict[str, Any], receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            if message['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif message['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
    path = scope['path']
    if path == '/fail':
        raise RuntimeError('failing on purpose')
    if path == '/stream':
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/event-stream')]})
        for index, event in enumerate(EVENTS):
            if index:
                await asyncio.sleep(PAUSE)
            await send({'type': 'http.response.body', 'body': event, 'more_body': True})
        await send({'type': 'http.response.body', 'body': b''})
        return
    status, headers, body = route(path)
    raw = [(name.encode(), value.encode()) for name, value in headers]
    await send({'type': 'http.response.start', 'status': status, 'headers': raw})
    await send({'type': 'http.response.body', 'body': body})


async def rsgi(scope: Any, protocol: Any) -> None:
    path = scope.path
    if path == '/fail':
        raise RuntimeError('failing on purpose')
    if path == '/stream':
        transport = protocol.response_stream(200, [('content-type', 'text/event-stream')])
        for index, event in enumerate(EVENTS):
            if index:
                await asyncio.sleep(PAUSE)
            await transport.send_bytes(event)
        return
    status, headers, body = route(path)
    protocol.response_bytes(status, headers, body)


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ['PATH_INFO']
    if path == '/fail':
        raise RuntimeError('failing on purpose')
    status, headers, body = route(path)
    reasons = {200: 'OK', 304: 'Not Modified'}
    start_response(f'{status} {reasons[status]}', headers)
    return [body]
