"""The embedded server (`granian.server.embed.Server`): an application object served on the
caller's running asyncio loop, stopped and reloaded from that loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from granian.errors import ConfigurationError
from granian.server.embed import Server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.conftest import free_port


def starlette_app(events: list[str]) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append('startup')
        yield
        events.append('shutdown')

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f'hello from {type(asyncio.get_running_loop()).__module__}')

    return Starlette(routes=[Route('/', hello)], lifespan=lifespan)


async def wait_until_served(port: int) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            with contextlib.suppress(httpx.TransportError):
                return await client.get(f'http://127.0.0.1:{port}/')
            await asyncio.sleep(0.02)
    raise AssertionError('the embedded server never answered')


def refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(('127.0.0.1', port)) != 0


def test_starlette_served_stopped_and_reloaded_on_the_callers_loop() -> None:
    events: list[str] = []
    port = free_port()
    server = Server(starlette_app(events), interface='asgi', port=port, log_enabled=False)
    hooks: list[str] = []
    server.on_startup(lambda: hooks.append('startup'))
    server.on_reload(lambda: hooks.append('reload'))
    server.on_shutdown(lambda: hooks.append('shutdown'))

    async def scenario() -> list[str]:
        task = asyncio.create_task(server.serve())
        first = await wait_until_served(port)
        loop_module = type(asyncio.get_running_loop()).__module__
        assert first.status_code == 200
        # The application runs on this very loop, not on one of a worker process.
        assert first.text == f'hello from {loop_module}'
        server.reload()
        while events.count('startup') < 2:
            await asyncio.sleep(0.02)
        second = await wait_until_served(port)
        assert second.status_code == 200
        server.stop()
        await asyncio.wait_for(task, 10)
        return [first.text, second.text]

    asyncio.run(scenario())
    assert events == ['startup', 'shutdown', 'startup', 'shutdown']
    assert hooks == ['startup', 'reload', 'shutdown']
    assert refused(port)


async def rsgi_app(scope: Any, protocol: Any) -> None:
    protocol.response_str(200, [('content-type', 'text/plain')], 'hello')


def test_rsgi_app_object() -> None:
    port = free_port()
    server = Server(rsgi_app, port=port, log_enabled=False)

    async def scenario() -> httpx.Response:
        task = asyncio.create_task(server.serve())
        response = await wait_until_served(port)
        server.stop()
        await asyncio.wait_for(task, 10)
        return response

    response = asyncio.run(scenario())
    assert (response.status_code, response.text) == (200, 'hello')
    assert refused(port)


def test_stop_before_serve_returns_at_once() -> None:
    server = Server(rsgi_app, port=free_port(), log_enabled=False)
    server.stop()
    asyncio.run(asyncio.wait_for(server.serve(), 5))


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        ({'interface': 'wsgi'}, 'interface wsgi is not available'),
        ({'workers': 2}, 'workers is not available'),
        ({'reload': True}, 'reload is not available'),
        ({'shutdown_delay': 5}, 'shutdown_delay is not available'),
    ],
)
def test_refused_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Server(rsgi_app, **kwargs)


def test_probes_and_the_ready_check() -> None:
    port = free_port()
    ready = [True]
    server = Server(
        starlette_app([]),
        interface='asgi',
        port=port,
        log_enabled=False,
        health_path='/healthz',
        ready_path='/readyz',
        ready_check=lambda: ready[0],
        ready_check_ttl=0,
    )

    async def scenario() -> list[int]:
        task = asyncio.create_task(server.serve())
        await wait_until_served(port)
        statuses = []
        async with httpx.AsyncClient(base_url=f'http://127.0.0.1:{port}') as client:
            statuses.append((await client.get('/readyz')).status_code)
            ready[0] = False
            statuses.append((await client.get('/readyz')).status_code)
            statuses.append((await client.get('/healthz')).status_code)
        server.stop()
        await asyncio.wait_for(task, 10)
        return statuses

    assert asyncio.run(scenario()) == [200, 503, 200]
