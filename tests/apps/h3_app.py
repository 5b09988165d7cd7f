"""One small application per interface, with the same routes, for the HTTP/3 tests.

- `/info`: JSON with the protocol version the interface reports, the scheme, the method and
  the worker's PID;
- `/echo`: the request body back, read as it streams in;
- `/stream`: `CHUNKS` chunks of `CHUNK` bytes (the byte at offset i is `i % 251`), each sent on
  its own;
- `/headers`: JSON list of the request headers as the interface gives them (`[name, value]`);
- `/slow?ms=N`: prints `h3_app: slow started` (the tests read it in the server log), waits N
  milliseconds, then answers `slow done`;
- `/length` (ASGI): reads the whole body, then answers its length;
- `/own-alt-svc` (ASGI): answers with an `Alt-Svc: clear` of its own;
- anything else: `hello` (with no body for HEAD, the servers drop it).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

CHUNK = 16 * 1024
CHUNKS = 16


def _pattern(index: int) -> bytes:
    return bytes((index * CHUNK + i) % 251 for i in range(CHUNK))


def _delay(query: str) -> float:
    values = parse_qs(query).get('ms', ['500'])
    return int(values[0]) / 1000


async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Served as `asginl`: it has no lifespan."""
    path = scope['path']

    async def respond(body: bytes, content_type: bytes = b'text/plain') -> None:
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', content_type)]})
        await send({'type': 'http.response.body', 'body': body})

    if path == '/info':
        info = {
            'version': scope['http_version'],
            'scheme': scope['scheme'],
            'method': scope['method'],
            'pid': os.getpid(),
        }
        await respond(json.dumps(info).encode(), b'application/json')
    elif path == '/echo':
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        while True:
            message = await receive()
            await send({'type': 'http.response.body', 'body': message.get('body', b''), 'more_body': True})
            if not message.get('more_body'):
                break
        await send({'type': 'http.response.body', 'body': b''})
    elif path == '/stream':
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        for index in range(CHUNKS):
            await send({'type': 'http.response.body', 'body': _pattern(index), 'more_body': True})
        await send({'type': 'http.response.body', 'body': b''})
    elif path == '/headers':
        headers = [[name.decode('latin-1'), value.decode('latin-1')] for name, value in scope['headers']]
        await respond(json.dumps(headers).encode(), b'application/json')
    elif path == '/slow':
        print('h3_app: slow started', flush=True)
        await asyncio.sleep(_delay(scope['query_string'].decode()))
        await respond(b'slow done')
    elif path == '/length':
        total = 0
        while True:
            message = await receive()
            total += len(message.get('body', b''))
            if not message.get('more_body'):
                break
        await respond(str(total).encode())
    elif path == '/own-alt-svc':
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'alt-svc', b'clear')]})
        await send({'type': 'http.response.body', 'body': b'mine'})
    else:
        await respond(b'hello')


async def rsgi(scope: Any, protocol: Any) -> None:
    path = scope.path
    if path == '/info':
        info = {'version': scope.http_version, 'scheme': scope.scheme, 'method': scope.method, 'pid': os.getpid()}
        protocol.response_bytes(200, [('content-type', 'application/json')], json.dumps(info).encode())
    elif path == '/echo':
        transport = protocol.response_stream(200, [])
        async for chunk in protocol:
            await transport.send_bytes(chunk)
    elif path == '/stream':
        transport = protocol.response_stream(200, [])
        for index in range(CHUNKS):
            await transport.send_bytes(_pattern(index))
    elif path == '/headers':
        headers = [[name, value] for name, value in scope.headers.items()]
        protocol.response_bytes(200, [('content-type', 'application/json')], json.dumps(headers).encode())
    elif path == '/slow':
        print('h3_app: slow started', flush=True)
        await asyncio.sleep(_delay(scope.query_string))
        protocol.response_bytes(200, [], b'slow done')
    else:
        protocol.response_bytes(200, [('content-type', 'text/plain')], b'hello')


def wsgi(environ: dict[str, Any], start_response: Any) -> Iterator[bytes] | list[bytes]:
    path = environ['PATH_INFO']
    if path == '/info':
        info = {
            'version': environ['SERVER_PROTOCOL'],
            'scheme': environ['wsgi.url_scheme'],
            'method': environ['REQUEST_METHOD'],
            'pid': os.getpid(),
        }
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [json.dumps(info).encode()]
    if path == '/echo':
        start_response('200 OK', [])
        return _read_all(environ['wsgi.input'])
    if path == '/stream':
        start_response('200 OK', [])
        return (_pattern(index) for index in range(CHUNKS))
    if path == '/headers':
        headers = [[key, value] for key, value in environ.items() if key.startswith('HTTP_')]
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [json.dumps(headers).encode()]
    if path == '/slow':
        print('h3_app: slow started', flush=True)
        time.sleep(_delay(environ['QUERY_STRING']))
        start_response('200 OK', [])
        return [b'slow done']
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'hello']


def _read_all(stream: Any) -> Iterator[bytes]:
    while True:
        chunk = stream.read(64 * 1024)
        if not chunk:
            return
        yield chunk
