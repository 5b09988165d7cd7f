"""Apps answering with what their interface reports of a request's origin, as JSON: client,
scheme, host, root path and path. One app per interface (`asgi_app`, `rsgi_app`, `wsgi_app`);
the ASGI and RSGI apps answer a websocket with one text message holding the same, then close.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any


def _asgi_origin(scope: dict[str, Any]) -> dict[str, Any]:
    headers = {name.decode('latin-1'): value.decode('latin-1') for name, value in scope['headers']}
    return {
        'type': scope['type'],
        'client': list(scope['client']) if scope.get('client') else None,
        'server': list(scope['server']) if scope.get('server') else None,
        'scheme': scope['scheme'],
        'root_path': scope.get('root_path'),
        'path': scope['path'],
        'raw_path': scope['raw_path'].decode('latin-1'),
        'host': headers.get('host'),
        'x_forwarded_for': headers.get('x-forwarded-for'),
    }


async def asgi_app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            if message['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif message['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
    body = json.dumps(_asgi_origin(scope))
    if scope['type'] == 'websocket':
        await receive()
        await send({'type': 'websocket.accept'})
        await send({'type': 'websocket.send', 'text': body})
        await send({'type': 'websocket.close', 'code': 1000})
        return
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'application/json')]})
    await send({'type': 'http.response.body', 'body': body.encode()})


def _rsgi_origin(scope: Any) -> dict[str, Any]:
    return {
        'type': scope.proto,
        'client': scope.client,
        'server': scope.server,
        'scheme': scope.scheme,
        'authority': scope.authority,
        'path': scope.path,
        'host': scope.headers.get('host'),
    }


async def rsgi_app(scope: Any, protocol: Any) -> None:
    body = json.dumps(_rsgi_origin(scope))
    if scope.proto == 'ws':
        transport = await protocol.accept()
        await transport.send_str(body)
        protocol.close(1000)
        return
    protocol.response_str(200, [('content-type', 'application/json')], body)


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    keys = ('REMOTE_ADDR', 'REMOTE_PORT', 'SERVER_NAME', 'SERVER_PORT', 'HTTP_HOST', 'SCRIPT_NAME', 'PATH_INFO')
    data = {key: environ.get(key) for key in keys}
    data['wsgi.url_scheme'] = environ['wsgi.url_scheme']
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [json.dumps(data).encode()]
