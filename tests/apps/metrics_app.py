"""The same small application for each interface, for the metrics tests: the response is
decided by the path and query alone, so each request's status and byte counts are known.

`/reply?status=S&size=N` reads the request body whole, then answers status S with N bytes
(`x`), in one piece; `/stream?size=N` answers 200 with N bytes in two chunks of unknown total
length. Any other path is a 404 with the body `missing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from granian.rsgi import HTTPProtocol, Scope

MISSING = b'missing'


def plan(path: str, query: str) -> tuple[int, bytes, bool]:
    """(status, body, streamed) for a request."""
    params = dict(parse_qsl(query))
    size = int(params.get('size', '0'))
    if path == '/reply':
        return int(params.get('status', '200')), b'x' * size, False
    if path == '/stream':
        return 200, b'y' * size, True
    return 404, MISSING, False


async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope['type'] != 'http':
        return
    more = True
    while more:
        message = await receive()
        more = message.get('more_body', False)
    status, body, streamed = plan(scope['path'], scope['query_string'].decode())
    await send({'type': 'http.response.start', 'status': status, 'headers': []})
    if streamed:
        half = len(body) // 2
        await send({'type': 'http.response.body', 'body': body[:half], 'more_body': True})
        await send({'type': 'http.response.body', 'body': body[half:], 'more_body': False})
    else:
        await send({'type': 'http.response.body', 'body': body})


async def rsgi(scope: Scope, protocol: HTTPProtocol) -> None:
    await protocol()
    status, body, streamed = plan(scope.path, scope.query_string)
    if streamed:
        transport = protocol.response_stream(status, [])
        half = len(body) // 2
        await transport.send_bytes(body[:half])
        await transport.send_bytes(body[half:])
    else:
        protocol.response_bytes(status, [], body)


def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    environ['wsgi.input'].read()
    status, body, streamed = plan(environ['PATH_INFO'], environ.get('QUERY_STRING', ''))
    start_response(f'{status} Status', [])
    if streamed:
        half = len(body) // 2
        return iter([body[:half], body[half:]])
    return [body]
