"""One application per interface for tests/ops: each answers every request with JSON saying
what the server told it about the connection (scheme, client, HTTP version, the ASGI `tls`
extension), the length of the body it read, and the `GRANIAN_TEST_ENV` variable.

`asgi` (ASGI 3), `rsgi` (RSGI) and `wsgi` (PEP 3333); `make_asgi` is a factory for `--factory`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

Message = dict[str, Any]


def _report(**data: Any) -> bytes:
    return json.dumps({**data, 'env': os.environ.get('GRANIAN_TEST_ENV'), 'pid': os.getpid()}).encode()


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
    body = b''
    while True:
        message = await receive()
        if message['type'] != 'http.request':
            break
        body += message.get('body', b'')
        if not message.get('more_body', False):
            break
    payload = _report(
        scheme=scope['scheme'],
        client=scope['client'],
        server=scope['server'],
        http_version=scope['http_version'],
        tls=scope.get('extensions', {}).get('tls'),
        body_length=len(body),
    )
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'application/json')]})
    await send({'type': 'http.response.body', 'body': payload})


def make_asgi() -> Any:
    return asgi


async def rsgi(scope: Any, protocol: Any) -> None:
    body = await protocol()
    payload = _report(
        scheme=scope.scheme,
        client=scope.client,
        server=scope.server,
        http_version=scope.http_version,
        body_length=len(body),
    )
    protocol.response_bytes(200, [('content-type', 'application/json')], payload)


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = environ['wsgi.input'].read()
    payload = _report(
        scheme=environ['wsgi.url_scheme'],
        client=environ['REMOTE_ADDR'],
        server=environ['SERVER_NAME'],
        http_version=environ['SERVER_PROTOCOL'],
        body_length=len(body),
    )
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [payload]
