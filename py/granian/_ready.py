"""The application-level readiness check (`ready_check`), as a worker runs it for the native
server: the server's readiness layer calls a `ReadyCheck` (from one of its threads) when a probe
needs a fresh result, and gets the answer through the `reply` callable it passed. The layer
bounds the wait with `ready_check_timeout` and reuses an answer for `ready_check_ttl`, so the
application's check runs at most once per period, however many probes arrive.

The check runs on the worker's event loop when it is a coroutine function (awaited, cancelled
at the timeout), and on a thread of its own otherwise, so that a slow database ping never stops
the loop; a thread cannot be stopped, so while one is still running no other starts and the
server reads "not ready". The log says when the check starts failing (`Readiness check failed:
REASON`) and when it passes again.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from .log import logger

__all__ = ['ReadyCheck']


def _is_async(check: Callable[[], Any]) -> bool:
    # An object with an `async def __call__` is as async as a coroutine function.
    return inspect.iscoroutinefunction(check if inspect.isroutine(check) else type(check).__call__)


class ReadyCheck:
    """Runs `check` on `loop` each time it is called, with a `timeout` in seconds, and calls
    `reply(ready)` with the outcome."""

    def __init__(self, check: Callable[[], Any], loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._check = check
        self._loop = loop
        self._timeout = timeout
        self._thread: asyncio.Future[Any] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._failing = False

    def __call__(self, reply: Callable[[bool], None]) -> None:
        """Start a check; called by the native server from any thread."""
        self._loop.call_soon_threadsafe(self._start, reply)

    def _start(self, reply: Callable[[bool], None]) -> None:
        if self._thread is not None and not self._thread.done():
            self._report(False, 'the previous check is still running')
            reply(False)
            return
        task = self._loop.create_task(self._run(reply))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, reply: Callable[[bool], None]) -> None:
        ready, reason = False, ''
        try:
            ready = bool(await asyncio.wait_for(self._call(), self._timeout))
            reason = 'it returned a false value'
        except asyncio.TimeoutError:
            reason = f'no answer within {self._timeout:g}s'
        except Exception as exc:
            reason = f'{type(exc).__name__}: {exc}'
        self._report(ready, reason)
        reply(ready)

    async def _call(self) -> Any:
        if _is_async(self._check):
            return await self._check()
        self._thread = self._in_thread()
        # Shielded: the timeout gives up waiting, the thread runs on.
        result = await asyncio.shield(self._thread)
        if inspect.isawaitable(result):
            result = await result
        return result

    def _in_thread(self) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self._loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        def run() -> None:
            result, error = None, None
            try:
                result = self._check()
            except BaseException as exc:
                error = exc
            # The loop may be closed by now (the worker stopped): nobody waits any more.
            with suppress(RuntimeError):
                self._loop.call_soon_threadsafe(settle, result, error)

        # A daemon thread: a check that never returns must not keep the worker from exiting.
        threading.Thread(target=run, name='granian-ready-check', daemon=True).start()
        return future

    def _report(self, ready: bool, reason: str) -> None:
        if not ready and not self._failing:
            logger.warning(f'Readiness check failed: {reason}')
        elif ready and self._failing:
            logger.info('Readiness check passes again')
        self._failing = not ready
