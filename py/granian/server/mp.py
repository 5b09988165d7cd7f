"""`Granian`, the multi-process server: checks its options, then runs the master process (see
`granian._supervisor`), which supervises the workers (see `granian._worker`).

The options themselves, their defaults, bounds and help, are the table in `granian._options`;
the explicit signature of `Granian.__init__` is for IDEs and type checkers, and a test checks it
against the table.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .. import _supervisor
from .._options import Options, validate
from ..constants import HTTPModes, Interfaces, LogLevels, Loops, SSLProtocols
from ..log import DEFAULT_ACCESS_LOG_FORMAT

__all__ = ['Granian', 'MPServer']


class Granian:
    """An HTTP server for a Python application.

    `target` names the application (`package.module:app`). `serve()` runs the server in this
    process (the master) and its workers, and returns once it stopped.
    """

    def __init__(
        self,
        target: str,
        *,
        address: str = '127.0.0.1',
        port: int = 8000,
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
        blocking_threads: int | None = None,
        loop: Loops | str = Loops.auto,
        backlog: int = 1024,
        backpressure: int | None = None,
        graceful_timeout: float = 30.0,
        workers_kill_timeout: float | None = None,
        respawn_failed_workers: bool = False,
        respawn_interval: float = 3.5,
        workers_lifetime: float | None = None,
        workers_lifetime_jitter: float = 0.0,
        workers_max_rss: int | None = None,
        rss_sample_interval: float = 30.0,
        max_requests: int | None = None,
        max_requests_jitter: int = 0,
        http1_buffer_size: int = 417792,
        http1_header_read_timeout: int = 30000,
        http1_keep_alive: bool = True,
        http1_keep_alive_timeout: int = 30000,
        http1_pipeline_flush: bool = False,
        http2_adaptive_window: bool = False,
        http2_initial_connection_window_size: int = 1048576,
        http2_initial_stream_window_size: int = 1048576,
        http2_keep_alive_interval: int | None = None,
        http2_keep_alive_timeout: int = 20,
        http2_max_concurrent_streams: int = 200,
        http2_max_frame_size: int = 16384,
        http2_max_headers_size: int = 16384,
        http2_max_send_buffer_size: int = 409600,
        ssl_cert: str | os.PathLike[str] | None = None,
        ssl_key: str | os.PathLike[str] | None = None,
        ssl_key_password: str | None = None,
        ssl_protocol_min: SSLProtocols | str = SSLProtocols.tls12,
        ssl_ca: str | os.PathLike[str] | None = None,
        ssl_client_verify: bool = False,
        websockets: bool = True,
        ws_max_message_size: int = 16777216,
        ws_ping_interval: float = 20.0,
        ws_ping_timeout: float = 20.0,
        ws_deflate: bool = True,
        max_request_body_size: int | None = None,
        max_header_size: int | None = None,
        server_header: str | bool | None = 'granian',
        response_compression: bool = False,
        response_compression_min_size: int = 1024,
        response_compression_algorithms: Sequence[str] | str = ('br', 'zstd', 'gzip'),
        static_path_route: Sequence[str] = (),
        static_path_mount: Sequence[str | os.PathLike[str]] = (),
        static_path_dir_to_file: str | None = None,
        static_path_expires: float = 86400.0,
        proxy_headers: bool = False,
        forwarded_allow_ips: str | Sequence[str] = '127.0.0.1,::1',
        url_path_prefix: str | None = None,
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
    ) -> None:
        """Check every option; raises `ConfigError` (a `ValueError`) naming the first invalid one.

        Each keyword is one row of the option table (`granian._options`), listed with its unit,
        bounds and flag in docs/options.md. Enum options take the member or its CLI spelling
        (`interface='asgi'`), paths take strings or `os.PathLike`, repeatable options take a list.
        """
        values = dict(locals())
        del values['self'], values['target']
        self.options: Options = validate(target, values)

    def __repr__(self) -> str:
        return f'Granian({self.options.target!r}, interface={self.options.interface.value!r})'

    def serve(self) -> None:
        """Run the server until SIGINT or SIGTERM; raise `SystemExit` with a non-zero code on failure.

        Must be called from the main thread, which handles the signals. With `working_dir`, this
        process changes to that directory for good.
        """
        code = _supervisor.serve(self.options)
        if code != _supervisor.EXIT_OK:
            raise SystemExit(code)


# Granian's name for the multi-process server.
MPServer = Granian
