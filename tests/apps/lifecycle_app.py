"""An ASGI application for the worker lifecycle tests: which process answers, and ways to make a
worker grow or get stuck.

- `GET /pid`: this worker's PID.
- `GET /alloc?mb=N`: allocates N MiB (written, so resident) and keeps them for the worker's life.
- `GET /free`: drops what `/alloc` kept (large blocks go back to the system at once).
- `GET /slow?s=S`: answers after S seconds without blocking the loop.
- `GET /block?s=S`: blocks the worker's event loop for S seconds (a worker that cannot react to
  SIGTERM); it answers afterwards.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_SECONDS = 60.0
MAX_MIB = 2048

_KEPT: list[bytes] = []


async def _respond(send: Send, body: bytes, status: int = 200) -> None:
    headers = [(b'content-type', b'text/plain'), (b'content-length', str(len(body)).encode())]
    await send({'type': 'http.response.start', 'status': status, 'headers': headers})
    await send({'type': 'http.response.body', 'body': body})


def _number(scope: Scope, name: str, default: float, limit: float) -> float:
    query = dict(parse_qsl(scope['query_string'].decode('latin-1')))
    return min(max(float(query.get(name, default)), 0.0), limit)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            await send({'type': message['type'] + '.complete'})
            if message['type'] == 'lifespan.shutdown':
                return
    if scope['type'] != 'http':
        return
    path = scope['path']
    if path == '/pid':
        await _respond(send, str(os.getpid()).encode())
    elif path == '/alloc':
        mib = int(_number(scope, 'mb', 1, MAX_MIB))
        # Bytes that are written count in the resident set; zeroed pages might not.
        _KEPT.append(b'\x01' * (mib * 1024 * 1024))
        await _respond(send, f'{os.getpid()} kept {sum(len(chunk) for chunk in _KEPT) >> 20} MiB'.encode())
    elif path == '/free':
        _KEPT.clear()
        await _respond(send, b'freed')
    elif path == '/slow':
        seconds = _number(scope, 's', 1, MAX_SECONDS)
        await asyncio.sleep(seconds)
        await _respond(send, f'slept {seconds}'.encode())
    elif path == '/block':
        seconds = _number(scope, 's', 1, MAX_SECONDS)
        time.sleep(seconds)
        await _respond(send, f'blocked {seconds}'.encode())
    else:
        await _respond(send, b'not found', 404)
