"""The embedded server: serves an application object on the caller's running asyncio loop.

`Server(app, ...)` takes the application itself (or a factory with `factory=True`) and the same
options as `Granian`; `await server.serve()` binds the socket, runs the ASGI lifespan (or the RSGI
`__rsgi_init__`/`__rsgi_del__` hooks) and serves until `stop()` is called, with no worker process:
the native server runs its I/O threads in this process and calls the application on this loop.
`reload()` stops serving and starts again with the same application (the socket stays bound, so
no connection is refused meanwhile). ASGI (with or without lifespan) and RSGI only: a WSGI
application runs on threads of its own, for which `Granian(...).serve()` is the server.

    server = Server(app, interface='asgi', port=8000)
    task = asyncio.create_task(server.serve())
    ...
    server.stop()
    await task

The options a master process implements (workers, their lifetimes and memory limits, reload on
changes, metrics, the PID file, the shutdown delay) have no meaning here and are refused with
`ConfigurationError`. The health and readiness paths work as in a worker, `ready_check` included.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any

from .._access_log import AccessLogWriter
from .._imports import TargetError
from .._lifespan import Lifespan
from .._options import Options, validate
from .._ready import ReadyCheck
from .._supervisor import Hooks, _bind, _call_hooks
from .._worker import _load_ready_check
from ..constants import HTTPModes, Interfaces, LogLevels, SSLProtocols, TaskImpl
from ..errors import ConfigurationError
from ..http import HTTP1Settings, HTTP2Settings
from ..log import configure_logging, logger

__all__ = ['Server']

# Options of the master process: an embedded server has none of what they control.
_MASTER_ONLY = {
    'workers': 1,
    'reload': False,
    'metrics_enabled': False,
    'workers_lifetime': None,
    'workers_max_rss': None,
    'max_requests': None,
    'respawn_failed_workers': False,
    'pid_file': None,
    'fd': None,
    # The main process's SIGTERM path; here the caller decides when `stop()` comes.
    'shutdown_delay': 0.0,
    # The UDP sockets of HTTP/3 workers are the master's (see `granian._quic`).
    'http3': False,
}

Hook = Callable[[], Any]


class Server:
    """Granian's embedded server (see the module doc)."""

    def __init__(
        self,
        target: Any,
        address: str = '127.0.0.1',
        port: int = 8000,
        uds: str | os.PathLike[str] | None = None,
        interface: Interfaces | str = Interfaces.RSGI,
        blocking_threads: int | None = None,
        blocking_threads_idle_timeout: float = 30,
        runtime_threads: int = 1,
        runtime_blocking_threads: int | None = None,
        task_impl: TaskImpl | str = TaskImpl.asyncio,
        http: HTTPModes | str = HTTPModes.auto,
        websockets: bool = True,
        backlog: int = 1024,
        backpressure: int | None = None,
        http1_settings: HTTP1Settings | None = None,
        http2_settings: HTTP2Settings | None = None,
        log_enabled: bool = True,
        log_level: LogLevels | str = LogLevels.info,
        log_dictconfig: dict[str, Any] | None = None,
        log_access: bool = False,
        log_access_format: str | None = None,
        ssl_cert: str | os.PathLike[str] | None = None,
        ssl_key: str | os.PathLike[str] | None = None,
        ssl_key_password: str | None = None,
        ssl_protocol_min: SSLProtocols | str = SSLProtocols.tls12,
        ssl_ca: str | os.PathLike[str] | None = None,
        ssl_crl: Sequence[str | os.PathLike[str]] = (),
        ssl_client_verify: bool = False,
        url_path_prefix: str | None = None,
        factory: bool = False,
        static_path_route: Sequence[str] = (),
        static_path_mount: Sequence[str | os.PathLike[str]] = (),
        static_path_dir_to_file: str | None = None,
        static_path_expires: float = 86400,
        **options: Any,
    ) -> None:
        """Check the options as `Granian` does; `options` takes any other `Granian` keyword
        (`server_header=...`, `ws_max_message_size=...`)."""
        values = dict(locals())
        del values['self'], values['target'], values['options']
        values.update(options)
        for name, value in _MASTER_ONLY.items():
            if name in values and values[name] != value:
                raise ConfigurationError(f'{name} is not available in an embedded server: it has no worker processes')
        if Interfaces(str(values['interface']).lower()) is Interfaces.WSGI:
            raise ConfigurationError(
                'interface wsgi is not available in an embedded server: WSGI applications run on threads of '
                'their own, served by Granian(...).serve()'
            )
        if not callable(target):
            raise ConfigurationError(
                f'target must be the application (or its factory with factory=True), got {target!r}'
            )
        self.target = target
        name = f'{getattr(target, "__module__", "?")}:{getattr(target, "__qualname__", type(target).__qualname__)}'
        self.options: Options = validate(name, values)
        self.hooks = Hooks()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested = False
        self._reload_requested = False
        self._ready_check: Callable[[], Any] | None = None

    def on_startup(self, hook: Hook) -> Hook:
        """Register `hook` to run once the socket is bound, before serving starts."""
        self.hooks.startup.append(hook)
        return hook

    def on_reload(self, hook: Hook) -> Hook:
        """Register `hook` to run before serving starts again on `reload()`."""
        self.hooks.reload.append(hook)
        return hook

    def on_shutdown(self, hook: Hook) -> Hook:
        """Register `hook` to run once serving stopped."""
        self.hooks.shutdown.append(hook)
        return hook

    def stop(self) -> None:
        """Stop serving: in-flight requests get `graceful_timeout` to finish, then `serve()` returns.
        Safe to call from any thread, and before `serve()` started."""
        self._stop_requested = True
        self._wake()

    def reload(self) -> None:
        """Stop serving as `stop()` does, then serve again with the same application."""
        self._reload_requested = True
        self._wake()

    def _wake(self) -> None:
        if self._loop is None or self._stop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._stop.set()
        else:
            self._loop.call_soon_threadsafe(self._stop.set)

    async def serve(self, spawn_target: Callable[..., Any] | None = None) -> None:
        """Serve until `stop()`; raises `ConfigurationError` when the socket cannot be bound or
        the application cannot start."""
        if spawn_target is not None:
            raise ConfigurationError('spawn_target is the internal worker entry point of Granian; it is not used here')
        opts = self.options
        configure_logging(
            opts.log_level,
            enabled=opts.log_enabled,
            config=opts.log_dictconfig,
            json=opts.log_json,
            access_json=opts.log_access_json,
        )
        from .. import _native

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested:
            return
        app = self.target() if opts.factory else self.target
        try:
            self._ready_check = _load_ready_check(opts)
        except TargetError as exc:
            raise ConfigurationError(str(exc)) from None
        try:
            bound = _bind(opts)
        except OSError as exc:
            raise ConfigurationError(f'cannot listen: {exc.strerror or exc}') from None
        try:
            logger.info(f'Listening at: {bound.where}')
            _call_hooks(self.hooks.startup, 'startup')
            while True:
                await self._serve_once(app, bound.sock, _native)
                if self._stop_requested or not self._reload_requested:
                    break
                self._reload_requested = False
                self._stop.clear()
                logger.info('Reloading the embedded server')
                _call_hooks(self.hooks.reload, 'reload')
        finally:
            bound.close()
            _call_hooks(self.hooks.shutdown, 'shutdown')

    async def _serve_once(self, app: Any, sock: Any, native: Any) -> None:
        opts = self.options
        assert self._loop is not None and self._stop is not None
        lifespan: Lifespan | None = None
        state: dict[str, Any] | None = None
        handler = app
        if opts.interface is Interfaces.ASGI:
            lifespan = Lifespan(app)
            if not await lifespan.startup():
                raise ConfigurationError('the application failed its ASGI lifespan startup (see the log)')
            state = lifespan.state
        elif opts.interface is Interfaces.RSGI:
            init = getattr(app, '__rsgi_init__', None)
            if init is not None:
                init(self._loop)
            handler = getattr(app, '__rsgi__', app)
        check = self._ready_check
        ready_check = None if check is None else ReadyCheck(check, self._loop, opts.ready_check_timeout)
        config = native.ServerConfig(opts, ready_check=ready_check)
        if opts.interface is Interfaces.RSGI:
            server = native.RsgiServer(sock.fileno(), config, handler, self._loop)
        else:
            server = native.AsgiServer(sock.fileno(), config, handler, self._loop, state=state)
        access_log = None if config.access_log_queue is None else AccessLogWriter(config.access_log_queue)
        if access_log is not None:
            access_log.start()
        server.start()
        logger.info('Started the embedded server')
        try:
            await self._stop.wait()
        finally:
            await server.shutdown(opts.graceful_timeout)
            if access_log is not None:
                access_log.stop()
            if lifespan is not None:
                await lifespan.shutdown()
            cleanup = getattr(app, '__rsgi_del__', None) if opts.interface is Interfaces.RSGI else None
            if cleanup is not None:
                cleanup(self._loop)
            logger.info('Stopped the embedded server')
