"""Apps for the load balancer tests: each answers with what its interface reports of the
connection (client, scheme), the worker's PID and how many times this worker's application was
called (`calls`, this request included), as JSON. One per interface (`asgi_app`, `rsgi_app`,
`wsgi_app`); `app` is the ASGI one.

Readiness checks (`ready`, `ready_async`) read the file named by `READY_STATE_FILE`: `ok` (or no
file) is ready, `no` is not, `raise` raises, `slow` takes 30 s. Every call appends a line to
`READY_CALLS_FILE` when that is set, so a test can count them.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

_calls = 0


def _called() -> int:
    global _calls
    _calls += 1
    return _calls


def _answer(origin: dict[str, Any]) -> bytes:
    return json.dumps({**origin, 'pid': os.getpid(), 'calls': _called()}).encode()


async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    if scope['type'] == 'lifespan':
        return  # no lifespan: the server serves without it
    body = _answer(
        {
            'client': list(scope['client']) if scope.get('client') else None,
            'scheme': scope['scheme'],
            'http_version': scope['http_version'],
            'path': scope['path'],
        }
    )
    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'application/json')]})
    await send({'type': 'http.response.body', 'body': body})


asgi_app = app


async def rsgi_app(scope: Any, protocol: Any) -> None:
    body = _answer({'client': scope.client, 'scheme': scope.scheme, 'http_version': scope.http_version})
    protocol.response_bytes(200, [('content-type', 'application/json')], body)


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = _answer(
        {
            'client': [environ.get('REMOTE_ADDR'), environ.get('REMOTE_PORT')],
            'scheme': environ['wsgi.url_scheme'],
            'http_version': environ['SERVER_PROTOCOL'],
        }
    )
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]


def _state() -> str:
    calls = os.environ.get('READY_CALLS_FILE')
    if calls:
        with open(calls, 'a') as file:
            file.write(f'{os.getpid()}\n')
    try:
        with open(os.environ['READY_STATE_FILE']) as file:
            return file.read().strip()
    except (KeyError, FileNotFoundError):
        return 'ok'


def ready() -> bool:
    state = _state()
    if state == 'raise':
        raise RuntimeError('the database is unreachable')
    if state == 'slow':
        time.sleep(30)
    return state == 'ok'


async def ready_async() -> bool:
    state = _state()
    if state == 'raise':
        raise RuntimeError('the database is unreachable')
    if state == 'slow':
        await asyncio.sleep(30)
    return state == 'ok'
