"""The ASGI lifespan protocol, run by each ASGI worker around the time it serves.

https://asgi.readthedocs.io/en/latest/specs/lifespan.html

The application gets one `lifespan` scope whose `state` dict it may fill during startup; each
request scope then carries a shallow copy of it. An application that raises before sending any
lifespan event (or returns without sending one) does not support the protocol: the worker
serves without it and without state, as the specification asks.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .log import asgi_logger

__all__ = ['Lifespan']

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

ASGI_VERSION = {'version': '3.0', 'spec_version': '2.4'}


class _Phase(enum.Enum):
    idle = enum.auto()
    starting = enum.auto()
    started = enum.auto()
    startup_failed = enum.auto()
    stopping = enum.auto()
    stopped = enum.auto()


class Lifespan:
    """One application's lifespan conversation: `await startup()`, serve, `await shutdown()`."""

    def __init__(self, app: AsgiApp) -> None:
        self._app = app
        self._state: dict[str, Any] = {}
        self._phase = _Phase.idle
        self._sent_any = False
        self.supported = True
        self._queue: asyncio.Queue[Message] | None = None
        self._task: asyncio.Task[None] | None = None
        self._startup: asyncio.Future[bool] | None = None
        self._shutdown: asyncio.Future[bool] | None = None

    @property
    def state(self) -> dict[str, Any] | None:
        """The state handed to request scopes: None when the application does not do lifespan."""
        return self._state if self.supported else None

    async def startup(self) -> bool:
        """Send `lifespan.startup` and wait for the answer.

        True when the worker may serve: startup completed, or lifespan is unsupported.
        False when the application reported `lifespan.startup.failed` (the message is logged).
        """
        loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._startup = loop.create_future()
        self._shutdown = loop.create_future()
        self._phase = _Phase.starting
        self._queue.put_nowait({'type': 'lifespan.startup'})
        self._task = loop.create_task(self._run())
        return await self._startup

    async def shutdown(self) -> bool:
        """Send `lifespan.shutdown` and wait for the answer; False if the application reported failure."""
        if self._task is None or self._task.done() or self._phase is not _Phase.started:
            return True
        assert self._queue is not None and self._shutdown is not None
        self._phase = _Phase.stopping
        self._queue.put_nowait({'type': 'lifespan.shutdown'})
        return await self._shutdown

    def cancel(self) -> None:
        """Abandon the lifespan task (the worker is stopping before startup finished)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def _run(self) -> None:
        scope = {'type': 'lifespan', 'asgi': dict(ASGI_VERSION), 'state': self._state}
        try:
            await self._app(scope, self._receive, self._send)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._on_exit(raised=True)
        else:
            self._on_exit(raised=False)

    def _on_exit(self, *, raised: bool) -> None:
        if not self._sent_any:
            # Either the application rejects the `lifespan` scope or it ignores it: both mean
            # unsupported (ASGI lifespan spec, "if an exception is raised ... the server must
            # continue but not send any lifespan events").
            self.supported = False
            asgi_logger.info('ASGI lifespan unsupported')
            if raised:
                asgi_logger.debug('ASGI lifespan scope rejected by the application', exc_info=True)
        elif raised and self._phase is _Phase.startup_failed:
            asgi_logger.debug('ASGI application raised after lifespan.startup.failed', exc_info=True)
        elif raised and self._phase is _Phase.stopping:
            asgi_logger.error('ASGI lifespan shutdown raised an exception', exc_info=True)
        elif raised:
            asgi_logger.error('ASGI lifespan raised an exception', exc_info=True)
        elif self._phase is _Phase.stopping:
            asgi_logger.warning('ASGI application returned without sending lifespan.shutdown.complete')
        # Whatever was still awaited is over.
        _settle(self._startup, not raised or not self._sent_any)
        _settle(self._shutdown, not raised)

    async def _receive(self) -> Message:
        assert self._queue is not None
        return await self._queue.get()

    async def _send(self, message: Message) -> None:
        kind = message.get('type')
        if kind == 'lifespan.startup.complete':
            self._expect(_Phase.starting, kind)
            self._phase = _Phase.started
            _settle(self._startup, True)
        elif kind == 'lifespan.startup.failed':
            self._expect(_Phase.starting, kind)
            self._phase = _Phase.startup_failed
            asgi_logger.error(_failure('ASGI lifespan startup failed', message))
            _settle(self._startup, False)
        elif kind == 'lifespan.shutdown.complete':
            self._expect(_Phase.stopping, kind)
            self._phase = _Phase.stopped
            _settle(self._shutdown, True)
        elif kind == 'lifespan.shutdown.failed':
            self._expect(_Phase.stopping, kind)
            self._phase = _Phase.stopped
            asgi_logger.error(_failure('ASGI lifespan shutdown failed', message))
            _settle(self._shutdown, False)
        else:
            raise RuntimeError(f'unexpected ASGI lifespan message type {kind!r}')
        self._sent_any = True

    def _expect(self, phase: _Phase, kind: str) -> None:
        if self._phase is not phase:
            raise RuntimeError(f"'{kind}' sent out of order (lifespan is {self._phase.name})")


def _failure(prefix: str, message: Message) -> str:
    reason = message.get('message')
    return f'{prefix}: {reason}' if reason else prefix


def _settle(future: asyncio.Future[bool] | None, value: bool) -> None:
    if future is not None and not future.done():
        future.set_result(value)
