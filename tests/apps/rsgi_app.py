"""An RSGI (spec 1.6) application with one route per behaviour the end-to-end tests observe.

`app` is an object with `__rsgi__` (used), `__call__` (an ASGI entry point the server must not
use), `__rsgi_init__` and `__rsgi_del__`; `plain` is a bare `async def` application.

Routes that take `id=X` keep a record of what happened to that request in this worker's
memory, as tests/apps/asgi_app.py does; `GET /record?id=X` reads it, waiting server-side with
`until=STATE&timeout=T`. Records are per worker process, so tests that use them run one worker.

Environment: `RSGI_LOG=path` appends `init PID running=BOOL` and `del PID running=BOOL` lines
(whether the loop was running); `RSGI_INIT_FAIL=1` makes `__rsgi_init__` raise.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from granian.rsgi import HTTPProtocol, ProtocolClosed, Scope, WebsocketMessageType, WebsocketProtocol

APP_WAIT = 30.0
MAX_SLEEP = 60.0

_RECORDS: dict[str, dict[str, Any]] = {}

Handler = Callable[[Scope, HTTPProtocol], Awaitable[None]]


def _record(record_id: str | None) -> dict[str, Any]:
    if record_id is None:
        return {}
    return _RECORDS.setdefault(record_id, {'state': 'new', 'messages': [], 'body_bytes': 0, 'sent': 0, 'error': None})


def _query(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope.query_string, keep_blank_values=True))


def _error(exc: BaseException) -> dict[str, str]:
    return {'type': type(exc).__name__, 'message': str(exc)}


def respond_json(protocol: HTTPProtocol, data: Any, status: int = 200) -> None:
    protocol.response_bytes(status, [('content-type', 'application/json')], json.dumps(data).encode())


async def hello(scope: Scope, protocol: HTTPProtocol) -> None:
    protocol.response_str(200, [('content-type', 'text/plain; charset=utf-8')], 'Hello, world!')


async def scope_view(scope: Scope, protocol: HTTPProtocol) -> None:
    headers = scope.headers
    respond_json(
        protocol,
        {
            'proto': scope.proto,
            'rsgi_version': scope.rsgi_version,
            'http_version': scope.http_version,
            'server': scope.server,
            'client': scope.client,
            'scheme': scope.scheme,
            'method': scope.method,
            'path': scope.path,
            'query_string': scope.query_string,
            'authority': scope.authority,
            'headers': headers.items(),
            'keys': headers.keys(),
            'values': headers.values(),
            'len': len(headers),
            'iter': list(headers),
            'types': {
                name: type(getattr(scope, name)).__name__
                for name in ('proto', 'http_version', 'server', 'client', 'method', 'path', 'query_string')
            },
        },
    )


async def header_lookup(scope: Scope, protocol: HTTPProtocol) -> None:
    """`name=N`: what each lookup of the headers mapping gives for N."""
    name = _query(scope)['name']
    headers = scope.headers
    try:
        item: str | None = headers[name]
    except KeyError:
        item = None
    respond_json(
        protocol,
        {
            'get': headers.get(name),
            'get_default': headers.get(name, 'fallback'),
            'get_all': headers.get_all(name),
            'contains': name in headers,
            'item': item,
        },
    )


async def echo(scope: Scope, protocol: HTTPProtocol) -> None:
    """The body back; with `id=X`, a record in state `reading` while waiting for it, `closed`
    with the error when the client went away first."""
    record = _record(_query(scope).get('id'))
    record['state'] = 'reading'
    try:
        body = await protocol()
    except ProtocolClosed as exc:
        # The body is incomplete and nobody is listening.
        record['error'] = _error(exc)
        record['state'] = 'closed'
        return
    protocol.response_bytes(200, [('content-type', 'application/octet-stream')], body)


async def body_info(scope: Scope, protocol: HTTPProtocol) -> None:
    """`mode=whole` (default) or `mode=iter`: the body's length, hash and the chunks it came in."""
    mode = _query(scope).get('mode', 'whole')
    chunks: list[int] = []
    if mode == 'iter':
        digest = hashlib.sha256()
        async for chunk in protocol:
            assert isinstance(chunk, bytes)
            chunks.append(len(chunk))
            digest.update(chunk)
        length, sha = sum(chunks), digest.hexdigest()
    else:
        body = await protocol()
        assert isinstance(body, bytes)
        length, sha = len(body), hashlib.sha256(body).hexdigest()
    respond_json(protocol, {'length': length, 'sha256': sha, 'chunks': chunks})


async def echo_stream(scope: Scope, protocol: HTTPProtocol) -> None:
    """Echo each request body chunk as a response chunk as soon as it arrives."""
    transport = protocol.response_stream(200, [('content-type', 'application/octet-stream')])
    async for chunk in protocol:
        await transport.send_bytes(chunk)


async def stream(scope: Scope, protocol: HTTPProtocol) -> None:
    """`n` chunks of `size` bytes (chunk i is made of letter i mod 26), sent with send_bytes, or
    with send_str when `str=1`. With `id`, progress and any send error are recorded."""
    query = _query(scope)
    count = int(query.get('n', '10'))
    size = int(query.get('size', '1024'))
    as_str = query.get('str') == '1'
    record = _record(query.get('id'))
    record['state'] = 'streaming'
    transport = protocol.response_stream(200, [('content-type', 'text/plain')])
    try:
        for index in range(count):
            chunk = chr(97 + index % 26) * size
            if as_str:
                await transport.send_str(chunk)
            else:
                await transport.send_bytes(chunk.encode())
            record['sent'] = index + 1
    except Exception as exc:
        record['error'] = _error(exc)
        record['state'] = 'aborted'
        return
    record['state'] = 'done'


async def send_after_return(scope: Scope, protocol: HTTPProtocol) -> None:
    """Stream one chunk, return, and let a task try to send on the transport afterwards."""
    record = _record(_query(scope)['id'])
    transport = protocol.response_stream(200, [('content-type', 'text/plain')])
    await transport.send_bytes(b'first')

    async def later() -> None:
        await asyncio.sleep(0.05)
        try:
            await transport.send_bytes(b'too late')
        except Exception as exc:
            record['error'] = _error(exc)
        record['state'] = 'done'

    _BACKGROUND.add(asyncio.get_running_loop().create_task(later()))


_BACKGROUND: set[asyncio.Task[None]] = set()


async def big(scope: Scope, protocol: HTTPProtocol) -> None:
    size = int(_query(scope).get('size', '1048576'))
    body = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    protocol.response_bytes(200, [('content-type', 'application/octet-stream')], body)


async def empty(scope: Scope, protocol: HTTPProtocol) -> None:
    protocol.response_empty(int(_query(scope).get('code', '204')), [('x-empty', 'yes')])


async def text(scope: Scope, protocol: HTTPProtocol) -> None:
    protocol.response_str(200, [('content-type', 'text/plain; charset=utf-8')], 'héllo wörld ✓')


async def set_headers(scope: Scope, protocol: HTTPProtocol) -> None:
    protocol.response_bytes(
        201,
        [('X-Multi', 'a'), ('x-multi', 'b'), ('set-cookie', 'a=1'), ('set-cookie', 'b=2'), ('server', 'custom')],
        b'headers',
    )


async def file(scope: Scope, protocol: HTTPProtocol) -> None:
    query = _query(scope)
    headers = [('content-type', 'application/octet-stream')]
    if 'start' in query:
        start, end = int(query['start']), int(query['end'])
        headers.append(('content-range', f'bytes {start}-{end - 1}/*'))
        protocol.response_file_range(206, headers, query['path'], start, end)
    else:
        protocol.response_file(200, headers, query['path'])


async def bad_response(scope: Scope, protocol: HTTPProtocol) -> None:
    """`kind=status|header|headers|range`: a response call with bad arguments, reported as JSON."""
    kind = _query(scope)['kind']
    try:
        if kind == 'status':
            protocol.response_empty(42, [])
        elif kind == 'header':
            protocol.response_empty(200, [('bad name', 'x')])
        elif kind == 'headers':
            protocol.response_empty(200, [(b'x', b'y')])  # type: ignore[list-item]
        else:
            protocol.response_file_range(200, [], __file__, 10, 10)
    except Exception as exc:
        # Nothing was sent: the protocol still takes a response.
        respond_json(protocol, _error(exc))


async def respond_twice(scope: Scope, protocol: HTTPProtocol) -> None:
    """`kind=str|bytes|empty|file|stream` for the second response; the error it raised is recorded."""
    query = _query(scope)
    record = _record(query['id'])
    protocol.response_str(200, [('content-type', 'text/plain')], 'first')
    try:
        kind = query['kind']
        if kind == 'str':
            protocol.response_str(200, [], 'second')
        elif kind == 'bytes':
            protocol.response_bytes(200, [], b'second')
        elif kind == 'empty':
            protocol.response_empty(204, [])
        elif kind == 'file':
            protocol.response_file(200, [], __file__)
        else:
            protocol.response_stream(200, [])
    except Exception as exc:
        record['error'] = _error(exc)
    record['state'] = 'done'


async def read_after_response(scope: Scope, protocol: HTTPProtocol) -> None:
    """Respond, then try to read the body (`mode=whole` or `mode=iter`); the error is recorded."""
    query = _query(scope)
    record = _record(query['id'])
    protocol.response_empty(204, [])
    try:
        if query.get('mode') == 'iter':
            async for _chunk in protocol:
                pass
        else:
            await protocol()
    except Exception as exc:
        record['error'] = _error(exc)
    record['state'] = 'done'


async def read_twice(scope: Scope, protocol: HTTPProtocol) -> None:
    """`first=whole|iter`, then `await protocol()`: the second read's error as JSON."""
    first = _query(scope).get('first', 'whole')
    if first == 'iter':
        async for _chunk in protocol:
            pass
    else:
        await protocol()
    try:
        await protocol()
    except Exception as exc:
        respond_json(protocol, _error(exc))
        return
    respond_json(protocol, None)


async def raise_error(scope: Scope, protocol: HTTPProtocol) -> None:
    raise RuntimeError('boom from /raise')


async def no_response(scope: Scope, protocol: HTTPProtocol) -> None:
    return


async def partial(scope: Scope, protocol: HTTPProtocol) -> None:
    transport = protocol.response_stream(200, [('content-type', 'text/plain')])
    await transport.send_bytes(b'partial')
    raise RuntimeError('boom after response start')


async def disconnect(scope: Scope, protocol: HTTPProtocol) -> None:
    """Never answer: read the body, then wait for the client to go away, recording both."""
    record = _record(_query(scope).get('id'))
    record['state'] = 'receiving'
    try:
        async for chunk in protocol:
            record['body_bytes'] += len(chunk)
        record['messages'].append('body end')
        record['state'] = 'waiting'
    except ProtocolClosed as exc:
        record['messages'].append('closed')
        record['error'] = _error(exc)
    try:
        await asyncio.wait_for(protocol.client_disconnect(), APP_WAIT)
    except asyncio.TimeoutError:
        record['state'] = 'timeout'
        return
    record['state'] = 'disconnected'


async def watch_disconnect(scope: Scope, protocol: HTTPProtocol) -> None:
    """Wait for the disconnect without reading the body."""
    record = _record(_query(scope).get('id'))
    record['state'] = 'watching'
    try:
        await asyncio.wait_for(protocol.client_disconnect(), APP_WAIT)
    except asyncio.TimeoutError:
        record['state'] = 'timeout'
        return
    record['state'] = 'disconnected'


async def record_view(scope: Scope, protocol: HTTPProtocol) -> None:
    """`id` selects a record; `set=S` sets its state; `until=S&timeout=T` waits for state S."""
    query = _query(scope)
    record = _record(query['id'])
    if 'set' in query:
        record['state'] = query['set']
    until = query.get('until')
    deadline = time.monotonic() + min(float(query.get('timeout', '5')), APP_WAIT)
    while until is not None and record['state'] != until and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    respond_json(protocol, {'id': query['id'], **record})


async def slow(scope: Scope, protocol: HTTPProtocol) -> None:
    seconds = min(float(_query(scope).get('s', '1')), MAX_SLEEP)
    await asyncio.sleep(seconds)
    protocol.response_str(200, [], f'slept {seconds}')


async def pid(scope: Scope, protocol: HTTPProtocol) -> None:
    protocol.response_str(200, [], str(os.getpid()))


async def not_found(scope: Scope, protocol: HTTPProtocol) -> None:
    protocol.response_str(404, [('content-type', 'text/plain')], 'not found')


ROUTES: dict[str, Handler] = {
    '/': hello,
    '/scope': scope_view,
    '/header': header_lookup,
    '/echo': echo,
    '/body-info': body_info,
    '/echo-stream': echo_stream,
    '/stream': stream,
    '/send-after-return': send_after_return,
    '/big': big,
    '/empty': empty,
    '/text': text,
    '/set-headers': set_headers,
    '/file': file,
    '/bad-response': bad_response,
    '/twice': respond_twice,
    '/read-after-response': read_after_response,
    '/read-twice': read_twice,
    '/raise': raise_error,
    '/noresponse': no_response,
    '/partial': partial,
    '/disconnect': disconnect,
    '/watch-disconnect': watch_disconnect,
    '/record': record_view,
    '/slow': slow,
    '/pid': pid,
}


# -- websockets ----------------------------------------------------------------------------------


async def ws_echo(scope: Scope, protocol: WebsocketProtocol) -> None:
    """Accept, then echo every message. Text `close:CODE` closes with that code; `scope` answers with
    the scope as JSON. With `id=X` the record gets the close and what a send after it raised."""
    record = _record(_query(scope).get('id'))
    transport = await protocol.accept()
    record['state'] = 'accepted'
    while True:
        message = await asyncio.wait_for(transport.receive(), APP_WAIT)
        if message.kind == WebsocketMessageType.close:
            record['disconnect'] = {'kind': int(message.kind), 'data': message.data}
            try:
                await transport.send_str('too late')
            except Exception as exc:
                record['error'] = _error(exc)
            record['state'] = 'closed'
            return
        if message.kind == WebsocketMessageType.string:
            text = message.data
            assert isinstance(text, str)
            if text.startswith('close:'):
                protocol.close(int(text.split(':')[1]))
                record['state'] = 'server-closed'
                return
            if text == 'scope':
                fields = ('proto', 'http_version', 'scheme', 'method', 'path', 'query_string', 'authority')
                data = {name: getattr(scope, name) for name in fields}
                data['headers'] = dict(scope.headers.items())
                await transport.send_str(json.dumps(data))
            else:
                await transport.send_str(text)
        else:
            assert isinstance(message.data, bytes)
            await transport.send_bytes(message.data)


async def ws_deny(scope: Scope, protocol: WebsocketProtocol) -> None:
    """Refuse before accepting, with the status `?status=` (401 by default)."""
    protocol.close(int(_query(scope).get('status', '401')))


async def ws_reject(scope: Scope, protocol: WebsocketProtocol) -> None:
    """Refuse with the default status (403)."""
    protocol.close()


async def ws_raise(scope: Scope, protocol: WebsocketProtocol) -> None:
    raise RuntimeError('websocket handler failed on purpose')


WS_ROUTES: dict[str, Callable[[Scope, WebsocketProtocol], Awaitable[None]]] = {
    '/ws/echo': ws_echo,
    '/ws/deny': ws_deny,
    '/ws/reject': ws_reject,
    '/ws/raise': ws_raise,
}


async def dispatch(scope: Scope, protocol: Any) -> None:
    if scope.proto == 'ws':
        await WS_ROUTES.get(scope.path, ws_reject)(scope, protocol)
        return
    path = scope.path
    handler = scope_view if path.startswith('/scope/') else ROUTES.get(path, not_found)
    await handler(scope, protocol)


def _lifecycle_log(event: str, loop: asyncio.AbstractEventLoop) -> None:
    path = os.environ.get('RSGI_LOG')
    if path:
        with open(path, 'a', encoding='utf-8') as log:
            log.write(f'{event} {os.getpid()} running={loop.is_running()}\n')


class App:
    """An application serving both interfaces, as RSGI spec 1.6 describes: the server must pick
    `__rsgi__`, and call `__rsgi_init__`/`__rsgi_del__` around serving."""

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        _lifecycle_log('init', loop)
        if os.environ.get('RSGI_INIT_FAIL') == '1':
            raise RuntimeError('init refused (RSGI_INIT_FAIL=1)')

        async def warm_up() -> None:
            await asyncio.sleep(0)

        # The loop is not running yet, so init may drive it itself.
        loop.run_until_complete(warm_up())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        _lifecycle_log('del', loop)

    async def __rsgi__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        await dispatch(scope, protocol)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise AssertionError('the ASGI entry point was called under --interface rsgi')


app = App()


async def plain(scope: Scope, protocol: HTTPProtocol) -> None:
    """A bare RSGI callable: says which entry point served the request."""
    protocol.response_str(200, [('content-type', 'text/plain')], f'plain {scope.method} {scope.path}')
