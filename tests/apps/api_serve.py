"""Serves through the Python API, as a program embedding granian does, for tests/test_parity.py.

`python -m tests.apps.api_serve MODE` builds `Granian('not.imported:app', '127.0.0.1', 0,
interface='asgi')` (address and port by position) with hooks that print `hook: NAME PID` when the
main process calls them, and serves an application object defined here, which no worker imports:

* `loader`: `serve(target_loader=...)`, called as `loader(target)`; the app answers `loaded:TARGET:PID`.
* `unwrapped`: `serve(target_loader=..., wrap_loader=False)`, called with no arguments.
* `failing-loader`: a loader that raises.
* `spawn-target`: `serve(spawn_target=...)`, which granian refuses.
* `failing-startup`: a startup hook that raises.
* `reload`: as `loader`, with `reload=True` watching the directory `$RELOAD_DIR`.

`loop_app` is an ordinary target, answering with the name of the event loop it runs on.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from granian import Granian


def make_app(text: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope['type'] != 'http':
            return
        body = f'{text}:{os.getpid()}'.encode()
        await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})
        await send({'type': 'http.response.body', 'body': body})

    return app


async def loop_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with the event loop it runs on: `rloop`, `uvloop` or `asyncio`."""
    if scope['type'] != 'http':
        return
    module = type(asyncio.get_running_loop()).__module__.split('.')[0]
    name = module if module in ('rloop', 'uvloop') else 'asyncio'
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    await send({'type': 'http.response.body', 'body': name.encode()})


def main(mode: str) -> None:
    extra: dict[str, Any] = {}
    if mode == 'reload':
        extra = {'reload': True, 'reload_paths': [os.environ['RELOAD_DIR']]}
    server = Granian('not.imported:app', '127.0.0.1', 0, interface='asgi', workers=1, **extra)

    @server.on_startup
    def startup() -> None:
        print(f'hook: startup {os.getpid()}', flush=True)
        if mode == 'failing-startup':
            raise RuntimeError('startup hook failed on purpose')

    @server.on_reload
    def reload() -> None:
        print(f'hook: reload {os.getpid()}', flush=True)

    @server.on_shutdown
    def shutdown() -> None:
        print(f'hook: shutdown {os.getpid()}', flush=True)

    if mode in ('loader', 'reload'):
        server.serve(target_loader=lambda target: make_app(f'loaded:{target}'))
    elif mode == 'unwrapped':
        server.serve(target_loader=lambda: make_app('unwrapped'), wrap_loader=False)
    elif mode == 'failing-loader':

        def failing(target: str) -> Any:
            raise LookupError(f'no app for {target}')

        server.serve(target_loader=failing)
    elif mode == 'spawn-target':
        server.serve(spawn_target=lambda *args: None)
    elif mode == 'failing-startup':
        server.serve(target_loader=lambda target: make_app('never'))
    else:
        raise SystemExit(f'unknown mode {mode!r}')


if __name__ == '__main__':
    main(sys.argv[1])
