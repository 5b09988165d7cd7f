"""`Granian`, the multi-process server: checks its options, then runs the master process (see
`granian._supervisor`), which supervises the workers (see `granian._worker`).

The options themselves, their defaults, bounds and help, are the table in `granian._options`;
the explicit signature of `Granian.__init__` is for IDEs and type checkers, and a test checks it
against the table.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .. import _supervisor
from .._options import Options, validate
from ..constants import HTTPModes, Interfaces, LogLevels, Loops, RuntimeModes, SSLProtocols, TaskImpl
from ..errors import ConfigurationError
from ..http import HTTP1Settings, HTTP2Settings
from ..log import DEFAULT_ACCESS_LOG_FORMAT

Hook = TypeVar('Hook', bound=Callable[[], Any])

__all__ = ['Granian', 'MPServer']


class Granian:
    """An HTTP server for a Python application.

    `target` names the application (`package.module:app`). `serve()` runs the server in this
    process (the master) and its workers, and returns once it stopped.
    """

    def __init__(
        self,
        target: str,
        address: str = '127.0.0.1',
        port: int = 8000,
        *,
        uds: str | os.PathLike[str] | None = None,
        uds_permissions: int | None = None,
        fd: int | None = None,
        interface: Interfaces | str = Interfaces.RSGI,
        http: HTTPModes | str = HTTPModes.auto,
        factory: bool = False,
        working_dir: str | os.PathLike[str] | None = None,
        env_files: Sequence[str | os.PathLike[str]] = (),
        pid_file: str | os.PathLike[str] | None = None,
        process_name: str | None = None,
        workers: int = 1,
        runtime_threads: int = 1,
        runtime_blocking_threads: int | None = None,
        runtime_mode: RuntimeModes | str = RuntimeModes.auto,
        blocking_threads: int | None = None,
        blocking_threads_idle_timeout: float = 30.0,
        loop: Loops | str = Loops.auto,
        task_impl: TaskImpl | str = TaskImpl.asyncio,
        backlog: int = 1024,
        backpressure: int | None = None,
        graceful_timeout: float = 30.0,
        workers_kill_timeout: float | None = None,
        shutdown_delay: float = 0.0,
        respawn_failed_workers: bool = False,
        respawn_interval: float = 3.5,
        workers_lifetime: float | None = None,
        workers_lifetime_jitter: float = 0.0,
        workers_max_rss: int | None = None,
        rss_sample_interval: float = 30.0,
        rss_samples: int = 1,
        max_requests: int | None = None,
        max_requests_jitter: int = 0,
        http1_buffer_size: int = 417792,
        http1_header_read_timeout: int = 30000,
        http1_keep_alive: bool = True,
        http1_keep_alive_timeout: int = 30000,
        http1_pipeline_flush: bool = False,
        http1_settings: HTTP1Settings | None = None,
        http2_adaptive_window: bool = False,
        http2_idle_timeout: float = 75.0,
        http2_initial_connection_window_size: int = 1048576,
        http2_initial_stream_window_size: int = 1048576,
        http2_keep_alive_interval: int | None = None,
        http2_keep_alive_timeout: float = 20.0,
        http2_max_concurrent_streams: int = 200,
        http2_max_frame_size: int = 16384,
        http2_max_headers_size: int = 16384,
        http2_max_receiving_streams: int = 64,
        http2_max_send_buffer_size: int = 409600,
        h2c_upgrade: bool = True,
        http2_settings: HTTP2Settings | None = None,
        http3: bool = False,
        alt_svc: bool = True,
        http3_max_concurrent_streams: int = 128,
        http3_idle_timeout: float = 30.0,
        http3_keep_alive_interval: float | None = None,
        http3_max_udp_payload_size: int = 1472,
        http3_initial_stream_window_size: int = 1048576,
        http3_initial_connection_window_size: int = 4194304,
        http3_max_headers_size: int = 16384,
        http3_max_connections: int = 10000,
        http3_retry: bool = False,
        ssl_cert: str | os.PathLike[str] | None = None,
        ssl_key: str | os.PathLike[str] | None = None,
        ssl_key_password: str | None = None,
        ssl_protocol_min: SSLProtocols | str = SSLProtocols.tls12,
        ssl_ca: str | os.PathLike[str] | None = None,
        ssl_crl: Sequence[str | os.PathLike[str]] = (),
        ssl_client_verify: bool = False,
        websockets: bool = True,
        ws_max_message_size: int = 16777216,
        ws_ping_interval: float = 20.0,
        ws_ping_timeout: float = 20.0,
        ws_deflate: bool = True,
        max_request_body_size: int | None = None,
        max_header_size: int | None = None,
        max_body_buffer_size: int = 16777216,
        max_connections: int | None = None,
        http_body_read_timeout: float = 60.0,
        http_send_timeout: float = 60.0,
        server_header: str | bool | None = 'granian',
        response_compression: bool = False,
        response_compression_min_size: int = 1024,
        response_compression_algorithms: Sequence[str] | str = ('br', 'zstd', 'gzip'),
        static_path_route: Sequence[str] = (),
        static_path_mount: Sequence[str | os.PathLike[str]] = (),
        static_path_dir_to_file: str | None = None,
        static_path_expires: float = 86400.0,
        static_path_dotfiles: bool = False,
        proxy_headers: bool = False,
        forwarded_allow_ips: str | Sequence[str] = '127.0.0.1,::1',
        forwarded_headers: Sequence[str] | str = ('x-forwarded-for', 'x-forwarded-proto'),
        url_path_prefix: str | None = None,
        proxy_protocol: bool = False,
        health_path: str | None = None,
        ready_path: str | None = None,
        health_access_log: bool = False,
        ready_check: str | Callable[[], Any] | None = None,
        ready_check_timeout: float = 1.0,
        ready_check_ttl: float = 1.0,
        log_enabled: bool = True,
        log_level: LogLevels | str = LogLevels.info,
        log_access: bool = False,
        log_access_format: str = DEFAULT_ACCESS_LOG_FORMAT,
        log_access_json: bool = False,
        log_dictconfig: dict[str, Any] | None = None,
        log_json: bool = False,
        metrics_enabled: bool = False,
        metrics_scrape_interval: float = 15.0,
        metrics_address: str = '127.0.0.1',
        metrics_port: int = 9090,
        reload: bool = False,
        reload_paths: Sequence[str | os.PathLike[str]] = (),
        reload_ignore_dirs: Sequence[str] = (),
        reload_ignore_patterns: Sequence[str] = (),
        reload_ignore_paths: Sequence[str | os.PathLike[str]] = (),
        reload_filter: type | None = None,
        reload_tick: int = 50,
        reload_ignore_worker_failure: bool = False,
    ) -> None:
        """Check every option; raises `ConfigError` (a `ValueError` and a
        `granian.errors.ConfigurationError`) naming the first invalid one.

        Each keyword is one row of the option table (`granian._options`), listed with its unit,
        bounds and flag in docs/options.md. Enum options take the member or its CLI spelling
        (`interface='asgi'`), paths take strings or `os.PathLike`, repeatable options take a list.
        `address` and `port` may also be given by position, as Granian allows.
        """
        values = dict(locals())
        del values['self'], values['target']
        self.options: Options = validate(target, values)
        self.hooks = _supervisor.Hooks()

    def __repr__(self) -> str:
        return f'Granian({self.options.target!r}, interface={self.options.interface.value!r})'

    def on_startup(self, hook: Hook) -> Hook:
        """Register `hook` (no arguments) to run in the main process once the socket is bound,
        before the workers start; usable as a decorator. An exception it raises stops the server
        and propagates out of `serve()`."""
        self.hooks.startup.append(hook)
        return hook

    def on_reload(self, hook: Hook) -> Hook:
        """Register `hook` to run in the main process before the workers are restarted on SIGHUP
        or, with `reload`, on a change; an exception it raises is logged and the restart goes on."""
        self.hooks.reload.append(hook)
        return hook

    def on_shutdown(self, hook: Hook) -> Hook:
        """Register `hook` to run in the main process after the workers stopped; an exception it
        raises is logged and the other hooks still run."""
        self.hooks.shutdown.append(hook)
        return hook

    def serve(
        self,
        spawn_target: Callable[..., Any] | None = None,
        target_loader: Callable[..., Any] | None = None,
        wrap_loader: bool = True,
    ) -> None:
        """Run the server until SIGINT or SIGTERM; raise `SystemExit` with a non-zero code on failure.

        `target_loader` builds the application in each worker instead of importing `target`:
        it is called as `target_loader(target)`, or with no arguments when `wrap_loader` is
        False, and returns the application (`factory` then does not apply). Workers are forked,
        so the loader may be a closure over objects of this process. `spawn_target`, Granian's
        internal worker entry point, is accepted only as None: its arguments are Granian's
        internals, which this server does not have (`ConfigurationError` otherwise).

        Must be called from the main thread, which handles the signals. With `working_dir`, this
        process changes to that directory for good.
        """
        if spawn_target is not None:
            raise ConfigurationError(
                'spawn_target is the internal worker entry point of Granian and takes its internal '
                'arguments; granian runs its own workers: use target_loader to build the application '
                'in each worker'
            )
        loader: Callable[[], Any] | None = None
        if target_loader is not None:
            if not callable(target_loader):
                raise ConfigurationError(f'target_loader must be callable (got {target_loader!r})')
            target = self.options.target
            loader = (lambda: target_loader(target)) if wrap_loader else target_loader
        code = _supervisor.serve(self.options, loader=loader, hooks=self.hooks)
        if code != _supervisor.EXIT_OK:
            raise SystemExit(code)


# Granian's name for the multi-process server.
MPServer = Granian
