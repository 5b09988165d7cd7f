"""One application per interface that answers `app <path>`: what reaches it was not a static file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


async def asgi(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            if message['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif message['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
    body = f'app {scope["path"]}'.encode()
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    await send({'type': 'http.response.body', 'body': body})


async def rsgi(scope: Any, protocol: Any) -> None:
    protocol.response_str(200, [('content-type', 'text/plain')], f'app {scope.path}')


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [f'app {environ["PATH_INFO"]}'.encode('latin-1')]
