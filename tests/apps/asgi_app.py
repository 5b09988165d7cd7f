"""A plain ASGI 3 application with one route per behaviour the end-to-end tests observe.

Routes that take `id=X` keep a record of what happened to that request (messages received,
chunks sent, the error a send raised) in this worker's memory; `GET /record?id=X` reads it,
waiting server-side with `until=STATE&timeout=T` so tests need no polling loops. Records are
per worker process, so tests that use them run a single worker.

Environment: `LIFESPAN_FAIL=1` makes startup fail; `LIFESPAN_LOG=path` appends one line per
lifespan event (`startup PID`, `shutdown PID`) to that file.
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

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Every wait inside the app is bounded too, so a server that never delivers a message leaves a
# record saying so instead of a task hanging until the test's own timeout.
APP_WAIT = 30.0
MAX_SLEEP = 60.0

_RECORDS: dict[str, dict[str, Any]] = {}


def _record(record_id: str | None) -> dict[str, Any]:
    if record_id is None:
        return {}
    return _RECORDS.setdefault(record_id, {'state': 'new', 'messages': [], 'body_bytes': 0, 'sent': 0, 'error': None})


def _query(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope['query_string'].decode('latin-1'), keep_blank_values=True))


def jsonable(value: Any) -> Any:
    """The scope as JSON can carry it: bytes as latin-1 text, tuples as lists, the rest by repr."""
    if isinstance(value, bytes):
        return value.decode('latin-1')
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)


def _type_names(items: Any) -> list[str]:
    return [type(item).__name__ for item in items]


async def respond(
    send: Send,
    status: int,
    body: bytes = b'',
    *,
    content_type: bytes = b'text/plain; charset=utf-8',
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    response_headers = [(b'content-type', content_type), *(headers or [])]
    if status not in (204, 304):
        response_headers.append((b'content-length', str(len(body)).encode()))
    await send({'type': 'http.response.start', 'status': status, 'headers': response_headers})
    await send({'type': 'http.response.body', 'body': body, 'more_body': False})


async def respond_json(send: Send, data: Any, status: int = 200) -> None:
    await respond(send, status, json.dumps(data).encode(), content_type=b'application/json')


async def read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole request body and the messages it came in (bodies elided)."""
    chunks = []
    messages = []
    while True:
        message = await asyncio.wait_for(receive(), APP_WAIT)
        messages.append({key: value for key, value in message.items() if key != 'body'})
        if message['type'] == 'http.disconnect':
            break
        chunks.append(message.get('body', b''))
        if not message.get('more_body', False):
            break
    return b''.join(chunks), messages


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await respond(send, 200, b'Hello, world!')


async def scope_view(scope: Scope, receive: Receive, send: Send) -> None:
    data = jsonable(scope)
    data['__types__'] = {
        'scope': {key: type(value).__name__ for key, value in scope.items()},
        'header_items': sorted(
            {f'{type(item).__name__}[{",".join(_type_names(item))}]' for item in scope.get('headers', [])}
        ),
        'client': _type_names(scope.get('client') or []),
        'server': _type_names(scope.get('server') or []),
    }
    await respond_json(send, data)


def _disconnected(messages: list[Message]) -> bool:
    return bool(messages) and messages[-1]['type'] == 'http.disconnect'


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    body, messages = await read_body(receive)
    if _disconnected(messages):
        # The body is incomplete and nobody is listening: answering would only mislead.
        return
    await respond(
        send,
        200,
        body,
        content_type=b'application/octet-stream',
        headers=[(b'x-chunks', str(len(messages)).encode())],
    )


async def body_info(scope: Scope, receive: Receive, send: Send) -> None:
    body, messages = await read_body(receive)
    if _disconnected(messages):
        return
    await respond_json(
        send,
        {
            'length': len(body),
            'sha256': hashlib.sha256(body).hexdigest(),
            'chunks': len(messages),
            'types': [message['type'] for message in messages],
            'more_body': [message.get('more_body', False) for message in messages],
        },
    )


async def echo_stream(scope: Scope, receive: Receive, send: Send) -> None:
    """Echo each request body message as a response chunk as soon as it arrives."""
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    while True:
        message = await asyncio.wait_for(receive(), APP_WAIT)
        if message['type'] != 'http.request':
            return
        if message.get('body'):
            await send({'type': 'http.response.body', 'body': message['body'], 'more_body': True})
        if not message.get('more_body', False):
            break
    await send({'type': 'http.response.body', 'body': b'', 'more_body': False})


async def stream(scope: Scope, receive: Receive, send: Send) -> None:
    """`n` chunks of `size` bytes (chunk i is made of letter i mod 26), no content-length.

    With `id`, progress and any send error are recorded. With `gate`, the app stops after the
    first chunk until record `gate` is set to 'open' (through /record?id=GATE&set=open).
    """
    query = _query(scope)
    count = int(query.get('n', '10'))
    size = int(query.get('size', '1024'))
    record = _record(query.get('id'))
    gate = query.get('gate')
    record['state'] = 'streaming'
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    try:
        for index in range(count):
            chunk = bytes([97 + index % 26]) * size
            await send({'type': 'http.response.body', 'body': chunk, 'more_body': True})
            record['sent'] = index + 1
            if gate is not None and index == 0:
                deadline = time.monotonic() + APP_WAIT
                while _record(gate)['state'] != 'open' and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
        await send({'type': 'http.response.body', 'body': b'', 'more_body': False})
    except Exception as exc:
        record['error'] = {'type': type(exc).__name__, 'is_oserror': isinstance(exc, OSError), 'step': 'body'}
        record['state'] = 'aborted'
        return
    record['state'] = 'done'


async def big(scope: Scope, receive: Receive, send: Send) -> None:
    size = int(_query(scope).get('size', '1048576'))
    body = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    await respond(send, 200, body, content_type=b'application/octet-stream')


async def raise_error(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError('boom from /raise')


async def wrong_message(scope: Scope, receive: Receive, send: Send) -> None:
    """Sends a message of an unknown type after the start and answers with what it raised."""
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'application/json')]})
    try:
        await send({'type': 'wrong.msg'})
    except RuntimeError as err:
        raised = {'type': type(err).__name__, 'args': [str(arg) for arg in err.args]}
    else:
        raised = {}
    await send({'type': 'http.response.body', 'body': json.dumps(raised).encode()})


async def no_response(scope: Scope, receive: Receive, send: Send) -> None:
    return


async def partial(scope: Scope, receive: Receive, send: Send) -> None:
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
    await send({'type': 'http.response.body', 'body': b'partial', 'more_body': True})
    raise RuntimeError('boom after response start')


async def slow(scope: Scope, receive: Receive, send: Send) -> None:
    query = _query(scope)
    seconds = min(float(query.get('s', '1')), MAX_SLEEP)
    record = _record(query.get('id'))
    record['state'] = 'sleeping'
    await asyncio.sleep(seconds)
    record['state'] = 'woke'
    await respond(send, 200, f'slept {seconds}'.encode())


async def _wait_disconnect(receive: Receive, record: dict[str, Any]) -> bool:
    """Receive until http.disconnect, recording each message; False if it never came."""
    deadline = time.monotonic() + APP_WAIT
    while True:
        try:
            message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.0))
        except asyncio.TimeoutError:
            record['state'] = 'timeout'
            return False
        record['messages'].append(message['type'])
        if message['type'] == 'http.disconnect':
            record['state'] = 'disconnected'
            return True
        record['body_bytes'] += len(message.get('body', b''))
        if not message.get('more_body', False):
            record['state'] = 'waiting'


async def disconnect(scope: Scope, receive: Receive, send: Send) -> None:
    """Never answer: wait for the client to go away and record how that looked."""
    record = _record(_query(scope).get('id'))
    record['state'] = 'receiving'
    await _wait_disconnect(receive, record)


async def send_after_disconnect(scope: Scope, receive: Receive, send: Send) -> None:
    record = _record(_query(scope).get('id'))
    record['state'] = 'receiving'
    if not await _wait_disconnect(receive, record):
        return
    step = 'start'
    try:
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        step = 'body'
        await send({'type': 'http.response.body', 'body': b'too late', 'more_body': False})
    except Exception as exc:
        record['error'] = {'type': type(exc).__name__, 'is_oserror': isinstance(exc, OSError), 'step': step}
    record['state'] = 'done'


async def after_response(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer, then record what receive() yields once the response is complete."""
    record = _record(_query(scope).get('id'))
    await read_body(receive)
    await respond(send, 200, b'done')
    record['state'] = 'responded'
    try:
        message = await asyncio.wait_for(receive(), APP_WAIT)
    except asyncio.TimeoutError:
        record['state'] = 'timeout'
        return
    record['messages'].append(message['type'])
    record['state'] = 'received'


async def record_view(scope: Scope, receive: Receive, send: Send) -> None:
    """`id` selects a record; `set=S` sets its state; `until=S&timeout=T` waits for state S."""
    query = _query(scope)
    record = _record(query['id'])
    if 'set' in query:
        record['state'] = query['set']
    until = query.get('until')
    deadline = time.monotonic() + min(float(query.get('timeout', '5')), APP_WAIT)
    while until is not None and record['state'] != until and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await respond_json(send, {'id': query['id'], **record})


async def state_view(scope: Scope, receive: Receive, send: Send) -> None:
    """Report the lifespan state, then mutate it both deeply (shared) and shallowly (per request)."""
    if 'state' not in scope:
        await respond_json(send, {'present': False})
        return
    state = scope['state']
    data = {
        'present': True,
        'started': state.get('started'),
        'startup_pid': state.get('startup_pid'),
        'pid': os.getpid(),
        'scratch_before': state.get('scratch'),
    }
    counter = state.get('counter')
    if isinstance(counter, dict):
        counter['requests'] += 1
        data['requests'] = counter['requests']
    state['scratch'] = 'set by an earlier request'
    await respond_json(send, data)


async def set_headers(scope: Scope, receive: Receive, send: Send) -> None:
    await respond(
        send,
        200,
        b'headers',
        headers=[(b'x-multi', b'a'), (b'x-multi', b'b'), (b'set-cookie', b'a=1'), (b'set-cookie', b'b=2')],
    )


async def status(scope: Scope, receive: Receive, send: Send) -> None:
    await respond(send, int(_query(scope).get('code', '200')))


async def pid(scope: Scope, receive: Receive, send: Send) -> None:
    await respond(send, 200, str(os.getpid()).encode())


async def count(scope: Scope, receive: Receive, send: Send) -> None:
    """Count the requests that reach the application in the record's `requests`."""
    record = _record(_query(scope).get('id'))
    record['requests'] = record.get('requests', 0) + 1
    await respond(send, 200, b'counted')


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await respond(send, 404, b'not found')


ROUTES: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]] = {
    '/': hello,
    '/scope': scope_view,
    '/echo': echo,
    '/body-info': body_info,
    '/echo-stream': echo_stream,
    '/stream': stream,
    '/big': big,
    '/raise': raise_error,
    '/noresponse': no_response,
    '/wrong-message': wrong_message,
    '/partial': partial,
    '/slow': slow,
    '/disconnect': disconnect,
    '/send-after-disconnect': send_after_disconnect,
    '/after-response': after_response,
    '/record': record_view,
    '/state': state_view,
    '/set-headers': set_headers,
    '/status': status,
    '/pid': pid,
    '/count': count,
}


# -- websockets ----------------------------------------------------------------------------------


async def ws_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept (subprotocol `?subprotocol=` or the first offered, header `x-ws: yes`), then echo every
    message. Text `close:CODE:REASON` closes with that code; `scope` answers with the scope as JSON.
    With `id=X` the record gets the disconnect and what a send after it raised."""
    query = _query(scope)
    record = _record(query.get('id'))
    connect = await receive()
    record.setdefault('messages', []).append(connect['type'])
    subprotocols = scope['subprotocols']
    subprotocol = query.get('subprotocol') or (subprotocols[0] if subprotocols else None)
    await send({'type': 'websocket.accept', 'subprotocol': subprotocol, 'headers': [(b'x-ws', b'yes')]})
    record['state'] = 'accepted'
    while True:
        message = await asyncio.wait_for(receive(), APP_WAIT)
        if message['type'] == 'websocket.disconnect':
            record['disconnect'] = {'code': message['code'], 'reason': message.get('reason')}
            try:
                await send({'type': 'websocket.send', 'text': 'too late'})
            except Exception as exc:
                record['error'] = {'type': type(exc).__name__, 'is_oserror': isinstance(exc, OSError)}
            record['state'] = 'closed'
            return
        text = message.get('text')
        if text is not None and text.startswith('close:'):
            _, code, reason = text.split(':', 2)
            await send({'type': 'websocket.close', 'code': int(code), 'reason': reason})
            record['state'] = 'server-closed'
            return
        if text == 'scope':
            await send({'type': 'websocket.send', 'text': json.dumps(jsonable(scope))})
        elif text is not None:
            await send({'type': 'websocket.send', 'text': text})
        else:
            await send({'type': 'websocket.send', 'bytes': message['bytes']})


async def ws_deny(scope: Scope, receive: Receive, send: Send) -> None:
    """Refuse with a 401 response of our own (the websocket.http.response extension)."""
    await receive()
    await send({'type': 'websocket.http.response.start', 'status': 401, 'headers': [(b'x-denied', b'yes')]})
    await send({'type': 'websocket.http.response.body', 'body': b'go ', 'more_body': True})
    await send({'type': 'websocket.http.response.body', 'body': b'away'})


async def ws_reject(scope: Scope, receive: Receive, send: Send) -> None:
    """Close before accepting: the server answers 403."""
    await receive()
    await send({'type': 'websocket.close', 'code': 1000})


async def ws_raise(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError('websocket handler failed on purpose')


WS_ROUTES: dict[str, Callable[[Scope, Receive, Send], Awaitable[None]]] = {
    '/ws/echo': ws_echo,
    '/ws/deny': ws_deny,
    '/ws/reject': ws_reject,
    '/ws/raise': ws_raise,
}


def _lifespan_log(event: str) -> None:
    path = os.environ.get('LIFESPAN_LOG')
    if path:
        with open(path, 'a', encoding='utf-8') as log:
            log.write(f'{event} {os.getpid()}\n')


async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message['type'] == 'lifespan.startup':
            _lifespan_log('startup')
            if os.environ.get('LIFESPAN_FAIL') == '1':
                await send({'type': 'lifespan.startup.failed', 'message': 'startup refused (LIFESPAN_FAIL=1)'})
                return
            state = scope.get('state')
            if state is not None:
                state['started'] = True
                state['startup_pid'] = os.getpid()
                # A nested object: request scopes get shallow copies, so this one is shared.
                state['counter'] = {'requests': 0}
            await send({'type': 'lifespan.startup.complete'})
        elif message['type'] == 'lifespan.shutdown':
            _lifespan_log('shutdown')
            await send({'type': 'lifespan.shutdown.complete'})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope['type'] == 'lifespan':
        await lifespan(scope, receive, send)
        return
    if scope['type'] == 'websocket':
        await WS_ROUTES.get(scope['path'], ws_reject)(scope, receive, send)
        return
    if scope['type'] != 'http':
        return
    path = scope['path']
    handler = scope_view if path.startswith('/scope/') else ROUTES.get(path, not_found)
    await handler(scope, receive, send)
