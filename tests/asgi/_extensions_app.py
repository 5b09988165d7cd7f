"""ASGI applications for the extension tests: `http.response.pathsend`, `http.response.trailers`,
`http.response.early_hint` and the `extensions` of every scope.

`app` is plain ASGI, one route per behaviour; `starlette` serves `FileResponse`s and records the
message types Starlette sent, so a test can tell a file sent by the server from one read in Python.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Route

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

APP_WAIT = 30.0

# Set by `/release`: `/hints?wait=1` holds its final response until then.
_RELEASE: asyncio.Event | None = None


def _release() -> asyncio.Event:
    global _RELEASE
    if _RELEASE is None:
        _RELEASE = asyncio.Event()
    return _RELEASE


def _query(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope['query_string'].decode('latin-1'), keep_blank_values=True))


async def _json(send: Send, data: object, status: int = 200) -> None:
    body = json.dumps(data).encode()
    headers = [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode())]
    await send({'type': 'http.response.start', 'status': status, 'headers': headers})
    await send({'type': 'http.response.body', 'body': body})


async def extensions(scope: Scope, receive: Receive, send: Send) -> None:
    # A missing `extensions` fails here with the KeyError applications would see.
    found = scope['extensions']
    await _json(send, {'keys': sorted(found), 'values': {key: sorted(value) for key, value in found.items()}})


async def pathsend(scope: Scope, receive: Receive, send: Send) -> None:
    query = _query(scope)
    headers = [(b'content-type', query.get('type', 'application/octet-stream').encode())]
    await send({'type': 'http.response.start', 'status': 200, 'headers': headers})
    await send({'type': 'http.response.pathsend', 'path': query['file']})


async def misuse(scope: Scope, receive: Receive, send: Send) -> None:
    """Each misuse the query names, answered with the exception it raised."""
    case = _query(scope)['case']
    try:
        if case == 'pathsend-before-start':
            await send({'type': 'http.response.pathsend', 'path': '/etc/hostname'})
        elif case == 'pathsend-bytes':
            await send({'type': 'http.response.start', 'status': 200})
            await send({'type': 'http.response.pathsend', 'path': b'/etc/hostname'})
        elif case == 'trailers-unannounced':
            await send({'type': 'http.response.start', 'status': 200})
            await send({'type': 'http.response.body', 'body': b'x', 'more_body': True})
            await send({'type': 'http.response.trailers', 'headers': []})
        elif case == 'trailers-early':
            await send({'type': 'http.response.start', 'status': 200, 'trailers': True})
            await send({'type': 'http.response.body', 'body': b'x', 'more_body': True})
            await send({'type': 'http.response.trailers', 'headers': []})
        elif case == 'pathsend-with-trailers':
            await send({'type': 'http.response.start', 'status': 200, 'trailers': True})
            await send({'type': 'http.response.pathsend', 'path': '/etc/hostname'})
        elif case == 'hint-str-link':
            await send({'type': 'http.response.early_hint', 'links': ['</a>; rel=preload']})
        elif case == 'hint-bad-link':
            await send({'type': 'http.response.early_hint', 'links': [b'</a>\r\nx: y']})
    except Exception as exc:
        # The exception is what the test looks at; a response already started keeps its head.
        try:
            await _json(send, {'error': type(exc).__name__, 'message': str(exc)})
        except RuntimeError:
            await send({'type': 'http.response.body', 'body': json.dumps({'error': type(exc).__name__}).encode()})
            if case == 'pathsend-with-trailers':
                await send({'type': 'http.response.trailers', 'headers': []})
        return
    await _json(send, {'error': None})


async def trailers(scope: Scope, receive: Receive, send: Send) -> None:
    """A chunked body announcing `x-checksum` and `x-count`, sent in two trailers messages."""
    headers = [(b'content-type', b'text/plain'), (b'trailer', b'x-checksum, x-count')]
    await send({'type': 'http.response.start', 'status': 200, 'headers': headers, 'trailers': True})
    await send({'type': 'http.response.body', 'body': b'hello ', 'more_body': True})
    await send({'type': 'http.response.body', 'body': b'world', 'more_body': False})
    await send({'type': 'http.response.trailers', 'headers': [(b'x-checksum', b'abc')], 'more_trailers': True})
    await send({'type': 'http.response.trailers', 'headers': [(b'x-count', b'2')], 'more_trailers': False})


async def trailers_unfinished(scope: Scope, receive: Receive, send: Send) -> None:
    """Announces trailers, completes the body, and returns without sending them."""
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'trailer', b'x-a')], 'trailers': True})
    await send({'type': 'http.response.body', 'body': b'complete body', 'more_body': False})


async def hints(scope: Scope, receive: Receive, send: Send) -> None:
    """Two early hints, then (with `wait=1`, once `/release` was requested) the final response."""
    links = [b'</style.css>; rel=preload; as=style', b'</app.js>; rel=preload; as=script']
    await send({'type': 'http.response.early_hint', 'links': links[:1]})
    await send({'type': 'http.response.early_hint', 'links': links[1:]})
    if _query(scope).get('wait'):
        await asyncio.wait_for(_release().wait(), APP_WAIT)
    headers = [(b'content-type', b'text/plain'), (b'link', links[0])]
    await send({'type': 'http.response.start', 'status': 200, 'headers': headers})
    # A hint after the head went out cannot be sent any more; the extension lets it be ignored.
    await send({'type': 'http.response.body', 'body': b'final', 'more_body': True})
    await send({'type': 'http.response.early_hint', 'links': links[:1]})
    await send({'type': 'http.response.body', 'body': b''})


async def release(scope: Scope, receive: Receive, send: Send) -> None:
    _release().set()
    await _json(send, {'released': True})


ROUTES: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]] = {
    '/extensions': extensions,
    '/pathsend': pathsend,
    '/misuse': misuse,
    '/trailers': trailers,
    '/trailers-unfinished': trailers_unfinished,
    '/hints': hints,
    '/release': release,
}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope['type'] == 'websocket':
        await send({'type': 'websocket.close'})
        return
    if scope['type'] != 'http':
        return
    handler = ROUTES.get(scope['path'])
    if handler is None:
        await _json(send, {'error': 'not found'}, status=404)
        return
    await handler(scope, receive, send)


# The message types Starlette sent, one list per request, newest last.
SENT: list[list[str]] = []


async def file_endpoint(request: Request) -> FileResponse:
    return FileResponse(request.query_params['file'])


_files = Starlette(routes=[Route('/file', file_endpoint, methods=['GET', 'HEAD'])])


async def starlette(scope: Scope, receive: Receive, send: Send) -> None:
    """Starlette's `FileResponse` at `/file?file=PATH`; `/sent` gives the message types the last
    request sent."""
    if scope['type'] == 'http' and scope['path'] == '/sent':
        await _json(send, {'sent': SENT[-1] if SENT else []})
        return
    if scope['type'] != 'http':
        await _files(scope, receive, send)
        return
    types: list[str] = []
    SENT.append(types)

    async def recording_send(message: Message) -> None:
        types.append(message['type'])
        await send(message)

    await _files(scope, receive, recording_send)
