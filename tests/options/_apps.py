"""Applications that report what a server option changed inside the worker.

`GET /loop` answers with the class of the running event loop as JSON
(`{"module": ..., "name": ...}`), over ASGI (`asgi`) and RSGI (`rsgi`); any other path is a
404.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from granian.rsgi import HTTPProtocol, Scope

Message = dict[str, Any]


def _loop_class() -> bytes:
    loop_type = type(asyncio.get_running_loop())
    return json.dumps({'module': loop_type.__module__, 'name': loop_type.__name__}).encode()


async def asgi(
    scope: dict[str, Any], receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]
) -> None:
    if scope['type'] != 'http':
        return
    found = scope['path'] == '/loop'
    body = _loop_class() if found else b'not found'
    await send(
        {
            'type': 'http.response.start',
            'status': 200 if found else 404,
            'headers': [(b'content-type', b'application/json')],
        }
    )
    await send({'type': 'http.response.body', 'body': body})


async def rsgi(scope: Scope, protocol: HTTPProtocol) -> None:
    if scope.path == '/loop':
        protocol.response_bytes(200, [('content-type', 'application/json')], _loop_class())
    else:
        protocol.response_str(404, [('content-type', 'text/plain')], 'not found')
