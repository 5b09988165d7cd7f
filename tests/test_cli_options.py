"""The `granian` command line and `Granian`'s option validation, without starting a server.

`Granian.serve` is replaced by a recorder, so these tests need neither the native module nor a
free port.
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from granian import Granian, __version__
from granian._imports import TargetError, load_target, split_target
from granian._options import BOUNDS, PROXY_HEADERS, ConfigError, Options, default_blocking_threads
from granian.cli import cli, parse_duration
from granian.constants import HTTPModes, Interfaces, LogLevels, Loops, RuntimeModes, SSLProtocols, TaskImpl
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

# conftest.py may define these profiles for the whole suite; its definitions then stand.
for _name, _examples in (('fast', 25), ('ci', 200)):
    try:
        settings.get_profile(_name)
    except InvalidArgument:
        settings.register_profile(_name, max_examples=_examples, deadline=None)
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'fast'))

HERE = Path(__file__).resolve().parent

# Keyword of `Granian` -> (flag, negative flag) for the boolean options.
BOOL_FLAGS = {
    'http1_keep_alive': ('--http1-keep-alive', '--no-http1-keep-alive'),
    'http1_pipeline_flush': ('--http1-pipeline-flush', '--no-http1-pipeline-flush'),
    'http2_adaptive_window': ('--http2-adaptive-window', '--no-http2-adaptive-window'),
    'http3': ('--http3', '--no-http3'),
    'alt_svc': ('--alt-svc', '--no-alt-svc'),
    'http3_retry': ('--http3-retry', '--no-http3-retry'),
    'websockets': ('--ws', '--no-ws'),
    'ws_deflate': ('--ws-deflate', '--no-ws-deflate'),
    'log_enabled': ('--log', '--no-log'),
    'log_access': ('--access-log', '--no-access-log'),
    'log_access_json': ('--access-log-json', '--no-access-log-json'),
    'log_json': ('--log-json', '--no-log-json'),
    'factory': ('--factory', '--no-factory'),
    'reload': ('--reload', '--no-reload'),
    'respawn_failed_workers': ('--respawn-failed-workers', '--no-respawn-failed-workers'),
    'ssl_client_verify': ('--ssl-client-verify', '--no-ssl-client-verify'),
    'metrics_enabled': ('--metrics', '--no-metrics'),
    'response_compression': ('--response-compression', '--no-response-compression'),
    'proxy_headers': ('--proxy-headers', '--no-proxy-headers'),
    'reload_ignore_worker_failure': ('--reload-ignore-worker-failure', '--no-reload-ignore-worker-failure'),
    'h2c_upgrade': ('--h2c-upgrade', '--no-h2c-upgrade'),
    'static_path_dotfiles': ('--static-path-dotfiles', '--no-static-path-dotfiles'),
    'proxy_protocol': ('--proxy-protocol', '--no-proxy-protocol'),
    'health_access_log': ('--health-access-log', '--no-health-access-log'),
}
# Keyword -> flag for the options taking a value.
VALUE_FLAGS = {
    'address': '--host',
    'port': '--port',
    'interface': '--interface',
    'http': '--http',
    'workers': '--workers',
    'runtime_threads': '--runtime-threads',
    'runtime_blocking_threads': '--runtime-blocking-threads',
    'runtime_mode': '--runtime-mode',
    'blocking_threads': '--blocking-threads',
    'blocking_threads_idle_timeout': '--blocking-threads-idle-timeout',
    'loop': '--loop',
    'task_impl': '--task-impl',
    'backlog': '--backlog',
    'backpressure': '--backpressure',
    'http1_buffer_size': '--http1-buffer-size',
    'http1_header_read_timeout': '--http1-header-read-timeout',
    'http2_initial_connection_window_size': '--http2-initial-connection-window-size',
    'http2_initial_stream_window_size': '--http2-initial-stream-window-size',
    'http2_keep_alive_interval': '--http2-keep-alive-interval',
    'http2_keep_alive_timeout': '--http2-keep-alive-timeout',
    'http2_max_concurrent_streams': '--http2-max-concurrent-streams',
    'http2_max_frame_size': '--http2-max-frame-size',
    'http2_max_headers_size': '--http2-max-headers-size',
    'http2_max_send_buffer_size': '--http2-max-send-buffer-size',
    'http3_max_concurrent_streams': '--http3-max-concurrent-streams',
    'http3_idle_timeout': '--http3-idle-timeout',
    'http3_keep_alive_interval': '--http3-keep-alive-interval',
    'http3_max_udp_payload_size': '--http3-max-udp-payload-size',
    'http3_initial_stream_window_size': '--http3-initial-stream-window-size',
    'http3_initial_connection_window_size': '--http3-initial-connection-window-size',
    'http3_max_headers_size': '--http3-max-headers-size',
    'http3_max_connections': '--http3-max-connections',
    'http2_max_receiving_streams': '--http2-max-receiving-streams',
    'http_body_read_timeout': '--http-body-read-timeout',
    'http_send_timeout': '--http-send-timeout',
    'ws_max_message_size': '--ws-max-message-size',
    'ws_ping_interval': '--ws-ping-interval',
    'ws_ping_timeout': '--ws-ping-timeout',
    'log_level': '--log-level',
    'log_access_format': '--access-log-fmt',
    'log_dictconfig': '--log-config',
    'working_dir': '--working-dir',
    'graceful_timeout': '--graceful-timeout',
    'workers_kill_timeout': '--workers-kill-timeout',
    'respawn_interval': '--respawn-interval',
    'workers_lifetime': '--workers-lifetime',
    'workers_lifetime_jitter': '--workers-lifetime-jitter',
    'workers_max_rss': '--workers-max-rss',
    'rss_sample_interval': '--rss-sample-interval',
    'rss_samples': '--rss-samples',
    'max_requests': '--max-requests',
    'max_requests_jitter': '--max-requests-jitter',
    'reload_paths': '--reload-paths',
    'reload_ignore_dirs': '--reload-ignore-dirs',
    'reload_ignore_patterns': '--reload-ignore-patterns',
    'reload_ignore_paths': '--reload-ignore-paths',
    'reload_tick': '--reload-tick',
    'http1_keep_alive_timeout': '--http1-keep-alive-timeout',
    'max_request_body_size': '--max-request-body-size',
    'max_header_size': '--max-header-size',
    'max_body_buffer_size': '--max-body-buffer-size',
    'max_connections': '--max-connections',
    'http2_idle_timeout': '--http2-idle-timeout',
    'ssl_cert': '--ssl-certificate',
    'ssl_key': '--ssl-keyfile',
    'ssl_key_password': '--ssl-keyfile-password',
    'ssl_protocol_min': '--ssl-protocol-min',
    'ssl_ca': '--ssl-ca',
    'ssl_crl': '--ssl-crl',
    'uds': '--uds',
    'uds_permissions': '--uds-permissions',
    'fd': '--fd',
    'pid_file': '--pid-file',
    'process_name': '--process-name',
    'env_files': '--env-files',
    'static_path_route': '--static-path-route',
    'static_path_mount': '--static-path-mount',
    'static_path_dir_to_file': '--static-path-dir-to-file',
    'static_path_expires': '--static-path-expires',
    'metrics_scrape_interval': '--metrics-scrape-interval',
    'metrics_address': '--metrics-address',
    'metrics_port': '--metrics-port',
    'server_header': '--server-header',
    'response_compression_min_size': '--response-compression-min-size',
    'response_compression_algorithms': '--response-compression-algorithms',
    'forwarded_allow_ips': '--forwarded-allow-ips',
    'forwarded_headers': '--forwarded-headers',
    'url_path_prefix': '--url-path-prefix',
    'shutdown_delay': '--shutdown-delay',
    'health_path': '--health-path',
    'ready_path': '--ready-path',
    'ready_check': '--ready-check',
    'ready_check_timeout': '--ready-check-timeout',
    'ready_check_ttl': '--ready-check-ttl',
}
# Options written in octal on the command line and in their environment variable.
OCTAL_OPTIONS = ('uds_permissions',)
# Options taking several values (the flag repeated; the environment variable split).
MULTIPLE_OPTIONS = (
    'reload_paths',
    'reload_ignore_dirs',
    'reload_ignore_patterns',
    'reload_ignore_paths',
    'env_files',
    'ssl_crl',
    'response_compression_algorithms',
    'forwarded_headers',
)
# Any existing file does for options that only check that their file exists.
A_FILE = HERE / '__init__.py'

# Options in seconds (floats, with units on the command line).
DURATION_OPTIONS = (
    'metrics_scrape_interval',
    'ws_ping_interval',
    'ws_ping_timeout',
    'graceful_timeout',
    'workers_kill_timeout',
    'respawn_interval',
    'workers_lifetime',
    'workers_lifetime_jitter',
    'rss_sample_interval',
    'blocking_threads_idle_timeout',
    'http2_keep_alive_timeout',
    'shutdown_delay',
    'ready_check_timeout',
    'ready_check_ttl',
    'http3_idle_timeout',
    'http3_keep_alive_interval',
)
INT_OPTIONS = [
    name for name in VALUE_FLAGS if name in BOUNDS and name not in DURATION_OPTIONS and name not in OCTAL_OPTIONS
]


def invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[Result, Options | None]:
    """Run the CLI with `serve` recording the validated options instead of serving."""
    recorded: list[Options] = []
    # Variables from the caller's environment must not leak into the expectations.
    clean_env: dict[str, str | None] = {key: None for key in os.environ if key.startswith('GRANIAN_')}
    clean_env.update(env or {})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Granian, 'serve', lambda self: recorded.append(self.options))
        result = CliRunner().invoke(cli, args, env=clean_env, prog_name='granian')
    return result, (recorded[0] if recorded else None)


def served(args: list[str], env: dict[str, str] | None = None) -> Options:
    result, options = invoke(args, env)
    assert result.exit_code == 0, result.output
    assert options is not None
    return options


def to_argv(kwargs: dict[str, Any]) -> list[str]:
    argv: list[str] = []
    for name, value in kwargs.items():
        if name in BOOL_FLAGS:
            argv.append(BOOL_FLAGS[name][0 if value else 1])
        elif name in MULTIPLE_OPTIONS:
            for item in value:
                argv += [VALUE_FLAGS[name], str(item)]
        elif name in OCTAL_OPTIONS:
            argv.append(f'{VALUE_FLAGS[name]}={value:o}')
        else:
            argv.append(f'{VALUE_FLAGS[name]}={value}')
    return argv


@pytest.fixture(autouse=True)
def _restore_granian_loggers() -> Iterator[None]:
    """`serve()` configures the `_granian`, `granian` and `granian.access` loggers; leave them as
    other test modules expect them."""
    loggers = [logging.getLogger(name) for name in ('_granian', 'granian', 'granian.access')]
    saved = [(list(logger.handlers), logger.level, logger.propagate) for logger in loggers]
    yield
    for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


# -- defaults and the one-to-one mapping ----------------------------------------------------------


def test_defaults_match_granian() -> None:
    options = served(['app:main'])
    assert options == Granian('app:main').options
    assert options.address == '127.0.0.1'
    assert options.port == 8000
    assert options.interface is Interfaces.RSGI
    assert options.http is HTTPModes.auto
    assert options.loop is Loops.auto
    assert options.log_level is LogLevels.info
    assert options.backpressure == 1024
    assert options.blocking_threads == 1
    assert options.http1_header_read_timeout == 30000
    assert options.http2_max_concurrent_streams == 200
    assert options.http2_initial_stream_window_size == 1024 * 1024
    assert options.http2_keep_alive_interval is None
    assert options.graceful_timeout == 30.0
    assert options.workers_kill_timeout is None
    assert options.respawn_failed_workers is False
    assert options.respawn_interval == 3.5
    assert options.workers_lifetime is None
    assert options.workers_lifetime_jitter == 0.0
    assert options.workers_max_rss is None
    assert options.rss_sample_interval == 30.0
    assert options.max_requests is None
    assert options.max_requests_jitter == 0
    assert options.reload_paths == ()
    assert options.http1_keep_alive_timeout == 30000
    assert options.max_request_body_size is None
    assert options.max_header_size is None
    assert options.ssl_cert is None and options.ssl_key is None and options.ssl_ca is None
    assert options.ssl_protocol_min is SSLProtocols.tls12
    assert options.ssl_client_verify is False
    assert options.uds is None and options.fd is None and options.pid_file is None
    assert options.process_name is None
    assert options.env_files == ()


# `Granian` keywords taking Python objects, without a flag.
KEYWORD_ONLY = {'http1_settings', 'http2_settings', 'reload_filter'}


def test_every_flag_is_a_granian_keyword() -> None:
    keywords = set(inspect.signature(Granian.__init__).parameters) - {'self', 'target'}
    params = {param.name for param in cli.params if isinstance(param, click.Option)} - {'version', 'help'}
    assert params == keywords - KEYWORD_ONLY == set(BOOL_FLAGS) | set(VALUE_FLAGS)
    assert {field for field in Options.__dataclass_fields__} == keywords | {'target'}


@pytest.mark.parametrize(
    ('args', 'keyword', 'expected'),
    [
        (['--host', '0.0.0.0'], 'address', '0.0.0.0'),
        (['--shutdown-delay', '1m30s'], 'shutdown_delay', 90.0),
        (['--ready-path', '/readyz', '--ready-check', 'app.health:ready'], 'ready_check', 'app.health:ready'),
        (['--proxy-protocol'], 'proxy_protocol', True),
        (['--host', '::1'], 'address', '::1'),
        (['--port', '0'], 'port', 0),
        (['--port', '65535'], 'port', 65535),
        (['--interface', 'asgi'], 'interface', Interfaces.ASGI),
        (['--interface', 'ASGINL'], 'interface', Interfaces.ASGINL),
        (['--interface', 'wsgi'], 'interface', Interfaces.WSGI),
        (['--http', '1'], 'http', HTTPModes.http1),
        (['--http', '2'], 'http', HTTPModes.http2),
        (['--workers', '4'], 'workers', 4),
        (['--runtime-threads', '3'], 'runtime_threads', 3),
        (['--blocking-threads', '1'], 'blocking_threads', 1),
        (['--interface', 'wsgi', '--blocking-threads', '8'], 'blocking_threads', 8),
        (['--loop', 'asyncio'], 'loop', Loops.asyncio),
        (['--loop', 'uvloop'], 'loop', Loops.uvloop),
        (['--task-impl', 'rust'], 'task_impl', TaskImpl.rust),
        (['--runtime-mode', 'st'], 'runtime_mode', RuntimeModes.st),
        (['--runtime-mode', 'MT'], 'runtime_mode', RuntimeModes.mt),
        (['--runtime-blocking-threads', '16'], 'runtime_blocking_threads', 16),
        (['--blocking-threads-idle-timeout', '5'], 'blocking_threads_idle_timeout', 5.0),
        (['--blocking-threads-idle-timeout', '10m'], 'blocking_threads_idle_timeout', 600.0),
        (['--http2-keep-alive-timeout', '1m'], 'http2_keep_alive_timeout', 60.0),
        (['--http2-keep-alive-timeout', '5'], 'http2_keep_alive_timeout', 5.0),
        (['--rss-samples', '3'], 'rss_samples', 3),
        (
            ['--reload-ignore-patterns', r'\.tmp$', '--reload-ignore-patterns', '^~'],
            'reload_ignore_patterns',
            (r'\.tmp$', '^~'),
        ),
        (['--reload-ignore-paths', '/nonexistent/build'], 'reload_ignore_paths', (Path('/nonexistent/build'),)),
        (['--reload-tick', '500'], 'reload_tick', 500),
        (['--reload-ignore-worker-failure'], 'reload_ignore_worker_failure', True),
        (['--backlog', '2048'], 'backlog', 2048),
        (['--backpressure', '7'], 'backpressure', 7),
        (['--http1-buffer-size', '8192'], 'http1_buffer_size', 8192),
        (['--http1-header-read-timeout', '1500'], 'http1_header_read_timeout', 1500),
        (['--no-http1-keep-alive'], 'http1_keep_alive', False),
        (['--no-ws'], 'websockets', False),
        (['--ws'], 'websockets', True),
        (['--ws-max-message-size', '1024'], 'ws_max_message_size', 1024),
        (['--ws-ping-interval', '0'], 'ws_ping_interval', 0.0),
        (['--ws-ping-interval', '1m'], 'ws_ping_interval', 60.0),
        (['--ws-ping-timeout', '2.5'], 'ws_ping_timeout', 2.5),
        (['--http1-keep-alive'], 'http1_keep_alive', True),
        (['--http1-pipeline-flush'], 'http1_pipeline_flush', True),
        (['--no-http1-pipeline-flush'], 'http1_pipeline_flush', False),
        (['--no-log'], 'log_enabled', False),
        (['--log-level', 'debug'], 'log_level', LogLevels.debug),
        (['--log-level', 'warn'], 'log_level', LogLevels.warn),
        (['--access-log'], 'log_access', True),
        (['--no-access-log'], 'log_access', False),
        (['--factory'], 'factory', True),
        (['--working-dir', str(HERE)], 'working_dir', HERE),
        (['--graceful-timeout', '2.5'], 'graceful_timeout', 2.5),
        (['--graceful-timeout', '0'], 'graceful_timeout', 0.0),
        (['--graceful-timeout', '1m30s'], 'graceful_timeout', 90.0),
        (['--workers-kill-timeout', '10'], 'workers_kill_timeout', 10.0),
        (['--workers-kill-timeout', '2m'], 'workers_kill_timeout', 120.0),
        (['--respawn-failed-workers'], 'respawn_failed_workers', True),
        (['--no-respawn-failed-workers'], 'respawn_failed_workers', False),
        (['--respawn-interval', '0'], 'respawn_interval', 0.0),
        (['--respawn-interval', '1.5'], 'respawn_interval', 1.5),
        (['--workers-lifetime', '1h'], 'workers_lifetime', 3600.0),
        (['--workers-lifetime', '0.5'], 'workers_lifetime', 0.5),
        (['--workers-lifetime-jitter', '10m'], 'workers_lifetime_jitter', 600.0),
        (['--workers-max-rss', '512'], 'workers_max_rss', 512),
        (['--rss-sample-interval', '5'], 'rss_sample_interval', 5.0),
        (['--max-requests', '1000'], 'max_requests', 1000),
        (['--max-requests-jitter', '50'], 'max_requests_jitter', 50),
        (['--reload'], 'reload', True),
        (['--reload-paths', str(HERE), '--reload-paths', str(HERE.parent)], 'reload_paths', (HERE, HERE.parent)),
        (['--reload-ignore-dirs', 'build', '--reload-ignore-dirs', 'dist'], 'reload_ignore_dirs', ('build', 'dist')),
        (['--http1-keep-alive-timeout', '5000'], 'http1_keep_alive_timeout', 5000),
        (['--http1-keep-alive-timeout', '0'], 'http1_keep_alive_timeout', 0),
        (['--max-request-body-size', '1048576'], 'max_request_body_size', 1048576),
        (['--max-header-size', '8192'], 'max_header_size', 8192),
        (['--ssl-protocol-min', 'tls1.3'], 'ssl_protocol_min', SSLProtocols.tls13),
        (['--ssl-protocol-min', 'TLS1.2'], 'ssl_protocol_min', SSLProtocols.tls12),
        (['--uds', '/tmp/granian.sock'], 'uds', Path('/tmp/granian.sock')),
        (['--uds', '/tmp/granian.sock', '--uds-permissions', '660'], 'uds_permissions', 0o660),
        (['--uds', '/tmp/granian.sock', '--uds-permissions', '0o600'], 'uds_permissions', 0o600),
        (['--fd', '3'], 'fd', 3),
        (['--pid-file', '/tmp/granian.pid'], 'pid_file', Path('/tmp/granian.pid')),
        (['--process-name', 'web'], 'process_name', 'web'),
        (['--env-files', str(A_FILE), '--env-files', str(A_FILE)], 'env_files', (A_FILE, A_FILE)),
        (['--ssl-certificate', str(A_FILE), '--ssl-keyfile', str(A_FILE)], 'ssl_cert', A_FILE),
        (['--ssl-certificate', str(A_FILE), '--ssl-keyfile', str(A_FILE)], 'ssl_key', A_FILE),
        (
            ['--ssl-certificate', str(A_FILE), '--ssl-keyfile', str(A_FILE), '--ssl-keyfile-password', 'pw'],
            'ssl_key_password',
            'pw',
        ),
        (['--ssl-certificate', str(A_FILE), '--ssl-keyfile', str(A_FILE), '--ssl-ca', str(A_FILE)], 'ssl_ca', A_FILE),
        (
            [
                '--ssl-certificate',
                str(A_FILE),
                '--ssl-keyfile',
                str(A_FILE),
                '--ssl-ca',
                str(A_FILE),
                '--ssl-crl',
                str(A_FILE),
                '--ssl-crl',
                str(A_FILE),
            ],
            'ssl_crl',
            (A_FILE, A_FILE),
        ),
        (
            [
                '--ssl-certificate',
                str(A_FILE),
                '--ssl-keyfile',
                str(A_FILE),
                '--ssl-ca',
                str(A_FILE),
                '--ssl-client-verify',
            ],
            'ssl_client_verify',
            True,
        ),
    ],
)
def test_flag_maps_to_keyword(args: list[str], keyword: str, expected: object) -> None:
    options = served([*args, 'app:main'])
    assert getattr(options, keyword) == expected
    kwargs: dict[str, Any] = {keyword: expected, **_companions(args)}
    assert options == Granian('app:main', **kwargs).options


def _companions(args: list[str]) -> dict[str, Any]:
    # Options that only go with others: the WSGI blocking threads with their interface, the TLS
    # options with the certificate and key, the socket permissions with the socket.
    companions: dict[str, Any] = {}
    if '--blocking-threads' in args and 'wsgi' in args:
        companions['interface'] = Interfaces.WSGI
    for flag, keyword in (
        ('--ssl-certificate', 'ssl_cert'),
        ('--ssl-keyfile', 'ssl_key'),
        ('--ssl-ca', 'ssl_ca'),
        ('--uds', 'uds'),
    ):
        if flag in args:
            companions[keyword] = Path(args[args.index(flag) + 1])
    if '--ssl-keyfile-password' in args:
        companions['ssl_key_password'] = args[args.index('--ssl-keyfile-password') + 1]
    if '--ssl-client-verify' in args:
        companions['ssl_client_verify'] = True
    if '--ready-path' in args:
        companions['ready_path'] = args[args.index('--ready-path') + 1]
    return companions


def test_backpressure_defaults_to_backlog_per_worker() -> None:
    assert served(['--backlog', '1000', '--workers', '3', 'app']).backpressure == 333
    assert served(['--backlog', '2', '--workers', '4', 'app']).backpressure == 1
    assert served(['--backlog', '1000', '--workers', '3', '--backpressure', '5', 'app']).backpressure == 5


# -- environment variables ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('env', 'keyword', 'expected'),
    [
        ({'GRANIAN_HOST': '0.0.0.0'}, 'address', '0.0.0.0'),
        ({'GRANIAN_PORT': '9001'}, 'port', 9001),
        ({'GRANIAN_INTERFACE': 'asgi'}, 'interface', Interfaces.ASGI),
        ({'GRANIAN_HTTP': '2'}, 'http', HTTPModes.http2),
        ({'GRANIAN_WORKERS': '3'}, 'workers', 3),
        ({'GRANIAN_RUNTIME_THREADS': '2'}, 'runtime_threads', 2),
        ({'GRANIAN_BLOCKING_THREADS': '1'}, 'blocking_threads', 1),
        ({'GRANIAN_LOOP': 'asyncio'}, 'loop', Loops.asyncio),
        ({'GRANIAN_BACKLOG': '256'}, 'backlog', 256),
        ({'GRANIAN_BACKPRESSURE': '16'}, 'backpressure', 16),
        ({'GRANIAN_HTTP1_BUFFER_SIZE': '65536'}, 'http1_buffer_size', 65536),
        ({'GRANIAN_HTTP1_HEADER_READ_TIMEOUT': '500'}, 'http1_header_read_timeout', 500),
        ({'GRANIAN_HTTP1_KEEP_ALIVE': 'false'}, 'http1_keep_alive', False),
        ({'GRANIAN_WS': 'false'}, 'websockets', False),
        ({'GRANIAN_WEBSOCKETS': 'false'}, 'websockets', False),
        ({'GRANIAN_RUNTIME_MODE': 'st'}, 'runtime_mode', RuntimeModes.st),
        ({'GRANIAN_RUNTIME_BLOCKING_THREADS': '8'}, 'runtime_blocking_threads', 8),
        ({'GRANIAN_BLOCKING_THREADS_IDLE_TIMEOUT': '1m'}, 'blocking_threads_idle_timeout', 60.0),
        ({'GRANIAN_TASK_IMPL': 'rust'}, 'task_impl', TaskImpl.rust),
        ({'GRANIAN_RSS_SAMPLES': '4'}, 'rss_samples', 4),
        ({'GRANIAN_RELOAD_IGNORE_PATTERNS': r'\.log$ ^tmp'}, 'reload_ignore_patterns', (r'\.log$', '^tmp')),
        ({'GRANIAN_RELOAD_IGNORE_PATHS': '/a/b:/c'}, 'reload_ignore_paths', (Path('/a/b'), Path('/c'))),
        ({'GRANIAN_RELOAD_TICK': '100'}, 'reload_tick', 100),
        ({'GRANIAN_RELOAD_IGNORE_WORKER_FAILURE': 'true'}, 'reload_ignore_worker_failure', True),
        ({'GRANIAN_HTTP2_KEEP_ALIVE_TIMEOUT': '2m'}, 'http2_keep_alive_timeout', 120.0),
        ({'GRANIAN_WS_DEFLATE': 'false'}, 'ws_deflate', False),
        ({'GRANIAN_WS_MAX_MESSAGE_SIZE': '4096'}, 'ws_max_message_size', 4096),
        ({'GRANIAN_WS_PING_INTERVAL': '5'}, 'ws_ping_interval', 5.0),
        ({'GRANIAN_WS_PING_TIMEOUT': '7'}, 'ws_ping_timeout', 7.0),
        ({'GRANIAN_HTTP1_PIPELINE_FLUSH': '1'}, 'http1_pipeline_flush', True),
        ({'GRANIAN_LOG_ENABLED': 'false'}, 'log_enabled', False),
        ({'GRANIAN_LOG_LEVEL': 'error'}, 'log_level', LogLevels.error),
        ({'GRANIAN_LOG_ACCESS_ENABLED': 'true'}, 'log_access', True),
        ({'GRANIAN_FACTORY': '1'}, 'factory', True),
        ({'GRANIAN_WORKING_DIR': str(HERE)}, 'working_dir', HERE),
        ({'GRANIAN_GRACEFUL_TIMEOUT': '5'}, 'graceful_timeout', 5.0),
        ({'GRANIAN_WORKERS_KILL_TIMEOUT': '1h'}, 'workers_kill_timeout', 3600.0),
        ({'GRANIAN_RESPAWN_FAILED_WORKERS': 'true'}, 'respawn_failed_workers', True),
        ({'GRANIAN_RESPAWN_INTERVAL': '2'}, 'respawn_interval', 2.0),
        ({'GRANIAN_WORKERS_LIFETIME': '30m'}, 'workers_lifetime', 1800.0),
        ({'GRANIAN_WORKERS_LIFETIME_JITTER': '60'}, 'workers_lifetime_jitter', 60.0),
        ({'GRANIAN_WORKERS_MAX_RSS': '256'}, 'workers_max_rss', 256),
        ({'GRANIAN_RSS_SAMPLE_INTERVAL': '1'}, 'rss_sample_interval', 1.0),
        ({'GRANIAN_MAX_REQUESTS': '100'}, 'max_requests', 100),
        ({'GRANIAN_MAX_REQUESTS_JITTER': '10'}, 'max_requests_jitter', 10),
        ({'GRANIAN_RELOAD': 'yes'}, 'reload', True),
        ({'GRANIAN_RELOAD_PATHS': os.pathsep.join([str(HERE), str(HERE.parent)])}, 'reload_paths', (HERE, HERE.parent)),
        ({'GRANIAN_RELOAD_IGNORE_DIRS': 'build dist'}, 'reload_ignore_dirs', ('build', 'dist')),
        ({'GRANIAN_HTTP1_KEEP_ALIVE_TIMEOUT': '1000'}, 'http1_keep_alive_timeout', 1000),
        ({'GRANIAN_MAX_REQUEST_BODY_SIZE': '1024'}, 'max_request_body_size', 1024),
        ({'GRANIAN_MAX_HEADER_SIZE': '4096'}, 'max_header_size', 4096),
        ({'GRANIAN_SSL_PROTOCOL_MIN': 'tls1.3'}, 'ssl_protocol_min', SSLProtocols.tls13),
        (
            {'GRANIAN_SSL_CERTIFICATE': str(A_FILE), 'GRANIAN_SSL_KEYFILE': str(A_FILE)},
            'ssl_cert',
            A_FILE,
        ),
        (
            {
                'GRANIAN_SSL_CERTIFICATE': str(A_FILE),
                'GRANIAN_SSL_KEYFILE': str(A_FILE),
                'GRANIAN_SSL_KEYFILE_PASSWORD': 'secret',
                'GRANIAN_SSL_CA': str(A_FILE),
                'GRANIAN_SSL_CLIENT_VERIFY': 'true',
            },
            'ssl_key_password',
            'secret',
        ),
        ({'GRANIAN_UDS': '/tmp/g.sock', 'GRANIAN_UDS_PERMISSIONS': '640'}, 'uds_permissions', 0o640),
        ({'GRANIAN_FD': '5'}, 'fd', 5),
        ({'GRANIAN_PID_FILE': '/tmp/g.pid'}, 'pid_file', Path('/tmp/g.pid')),
        ({'GRANIAN_PROCESS_NAME': 'api'}, 'process_name', 'api'),
        ({'GRANIAN_ENV_FILES': os.pathsep.join([str(A_FILE), str(A_FILE)])}, 'env_files', (A_FILE, A_FILE)),
    ],
)
def test_env_var(env: dict[str, str], keyword: str, expected: object) -> None:
    assert getattr(served(['app'], env), keyword) == expected


def test_flag_beats_env_var() -> None:
    options = served(
        ['--port', '7000', '--interface', 'asginl', 'app'], {'GRANIAN_PORT': '9001', 'GRANIAN_INTERFACE': 'asgi'}
    )
    assert (options.port, options.interface) == (7000, Interfaces.ASGINL)


def test_bad_env_var_is_a_usage_error() -> None:
    result, options = invoke(['app'], {'GRANIAN_PORT': 'x'})
    assert result.exit_code == 2
    assert options is None
    assert 'GRANIAN_PORT' in result.output


def test_help_shows_env_vars_and_defaults() -> None:
    result = CliRunner().invoke(cli, ['--help'], prog_name='granian', terminal_width=200)
    assert result.exit_code == 0
    for param in cli.params:
        if isinstance(param, click.Option) and param.name not in ('version', 'help'):
            for env in param.envvar:
                assert env in result.output, param.name
            record = param.get_help_record(click.Context(cli))
            assert record is not None and '; default: ' in record[1], param.name
    assert 'GRANIAN_PORT' in result.output
    assert 'default: 8000' in result.output
    assert 'default: rsgi' in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ['--version'], prog_name='granian')
    assert result.exit_code == 0
    assert result.output.strip() == f'granian {__version__}'


# -- rejected values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (['--interface', 'nope'], "Invalid value for '--interface'"),
        (['--port', 'x'], "Invalid value for '--port'"),
        (['--port', '65536'], "Invalid value for '--port'"),
        (['--port=-1'], "Invalid value for '--port'"),
        (['--http', '3'], "Invalid value for '--http'"),
        (['--workers', '0'], "Invalid value for '--workers'"),
        (['--runtime-threads', '0'], "Invalid value for '--runtime-threads'"),
        (['--backlog', '0'], "Invalid value for '--backlog'"),
        (['--backpressure', '0'], "Invalid value for '--backpressure'"),
        (['--http1-buffer-size', '100'], "Invalid value for '--http1-buffer-size'"),
        (['--http1-header-read-timeout', '0'], "Invalid value for '--http1-header-read-timeout'"),
        (['--http1-header-read-timeout', '60001'], "Invalid value for '--http1-header-read-timeout'"),
        (['--loop', 'trio'], "Invalid value for '--loop'"),
        (['--log-level', 'loud'], "Invalid value for '--log-level'"),
        (['--graceful-timeout=-1'], "Invalid value for '--graceful-timeout'"),
        (['--graceful-timeout', 'soon'], "Invalid value for '--graceful-timeout'"),
        (['--workers-kill-timeout', '0'], "Invalid value for '--workers-kill-timeout'"),
        (['--respawn-interval=-1'], "Invalid value for '--respawn-interval'"),
        (['--workers-lifetime', '0'], "Invalid value for '--workers-lifetime'"),
        (['--workers-lifetime-jitter=-1'], "Invalid value for '--workers-lifetime-jitter'"),
        (['--workers-max-rss', '0'], "Invalid value for '--workers-max-rss'"),
        (['--rss-sample-interval', '0'], "Invalid value for '--rss-sample-interval'"),
        (['--max-requests', '0'], "Invalid value for '--max-requests'"),
        (['--max-requests-jitter=-1'], "Invalid value for '--max-requests-jitter'"),
        (['--working-dir', '/nonexistent/granian/dir'], "Invalid value for '--working-dir'"),
        (['--reload-paths', '/nonexistent/granian/dir'], "Invalid value for '--reload-paths'"),
        (['--interface', 'asgi', '--blocking-threads', '2'], "Invalid value for '--blocking-threads'"),
        (['--http1-keep-alive-timeout=-1'], "Invalid value for '--http1-keep-alive-timeout'"),
        (['--max-request-body-size', '0'], "Invalid value for '--max-request-body-size'"),
        (['--max-header-size', '100'], "Invalid value for '--max-header-size'"),
        (['--ssl-protocol-min', 'ssl3'], "Invalid value for '--ssl-protocol-min'"),
        (['--ssl-certificate', '/nonexistent/cert.pem'], "Invalid value for '--ssl-certificate'"),
        (['--ssl-certificate', str(A_FILE)], "Invalid value for '--ssl-certificate'"),
        (['--ssl-client-verify'], "Invalid value for '--ssl-client-verify'"),
        (['--uds-permissions', '999'], "Invalid value for '--uds-permissions'"),
        (['--uds', '/tmp/g.sock', '--uds-permissions', '1777'], "Invalid value for '--uds-permissions'"),
        (['--uds-permissions', '600'], "Invalid value for '--uds-permissions'"),
        (['--uds', '/tmp/g.sock', '--fd', '3'], "Invalid value for '--fd'"),
        (['--fd=-1'], "Invalid value for '--fd'"),
        (['--env-files', '/nonexistent/.env'], "Invalid value for '--env-files'"),
        (['--pid-file', '/nonexistent/granian/x.pid'], "Invalid value for '--pid-file'"),
    ],
)
def test_bad_value_is_a_usage_error(args: list[str], message: str) -> None:
    result, options = invoke([*args, 'app'])
    assert result.exit_code == 2, result.output
    assert options is None
    assert message in result.output
    assert 'Traceback' not in result.output


def test_missing_app_is_a_usage_error() -> None:
    result, _ = invoke([])
    assert result.exit_code == 2
    assert "Missing argument 'APP'" in result.output


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        ({'workers': 0}, 'workers must be between 1 and 4096'),
        ({'port': 70000}, 'port must be between 0 and 65535'),
        ({'port': -1}, 'port must be between 0 and 65535'),
        ({'port': '80'}, 'port must be an integer'),
        ({'workers': True}, 'workers must be an integer'),
        ({'backlog': 0}, 'backlog must be between 1 and 1048576'),
        ({'backpressure': 0}, 'backpressure must be between 1 and 1048576'),
        ({'runtime_threads': 0}, 'runtime_threads must be between 1 and 4096'),
        ({'http1_buffer_size': 1}, 'http1_buffer_size must be between 8192 and 67108864'),
        ({'http1_header_read_timeout': 0}, 'http1_header_read_timeout must be between 1 and 60000'),
        ({'interface': 'nope'}, 'interface must be one of asgi, asginl, rsgi, wsgi'),
        ({'http': '3'}, 'http must be one of auto, 1, 2'),
        ({'loop': 'trio'}, 'loop must be one of auto, asyncio, rloop, uvloop, winloop'),
        ({'log_level': 'loud'}, 'log_level must be one of'),
        ({'graceful_timeout': -1}, 'graceful_timeout must be between 0 and 86400 seconds'),
        ({'graceful_timeout': float('nan')}, 'graceful_timeout must be a finite number'),
        ({'workers_kill_timeout': 0}, 'workers_kill_timeout must be > 0 and <= 86400 seconds'),
        ({'respawn_failed_workers': 1}, 'respawn_failed_workers must be True or False'),
        ({'respawn_interval': -0.5}, 'respawn_interval must be between 0 and 3600 seconds'),
        ({'workers_lifetime': 0}, 'workers_lifetime must be > 0 and <= 31536000 seconds'),
        ({'workers_lifetime': float('inf')}, 'workers_lifetime must be a finite number'),
        ({'workers_lifetime_jitter': -1}, 'workers_lifetime_jitter must be between 0 and 31536000 seconds'),
        ({'workers_max_rss': 0}, 'workers_max_rss must be between 1 and 1048576'),
        ({'workers_max_rss': 1.5}, 'workers_max_rss must be an integer'),
        ({'rss_sample_interval': 0}, 'rss_sample_interval must be > 0 and <= 3600 seconds'),
        ({'max_requests': 0}, 'max_requests must be between 1 and 1000000000000'),
        ({'max_requests_jitter': -1}, 'max_requests_jitter must be between 0 and 1000000000000'),
        ({'http1_keep_alive': 'yes'}, 'http1_keep_alive must be True or False'),
        ({'interface': 'asgi', 'blocking_threads': 2}, 'blocking_threads must be 1 with the asgi interface'),
        ({'working_dir': '/nonexistent/granian/dir'}, "working_dir: '/nonexistent/granian/dir' is not a directory"),
        ({'reload_paths': ['/nonexistent/granian/dir']}, "reload_paths: '/nonexistent/granian/dir' does not exist"),
        ({'address': ''}, 'address must be a non-empty string'),
        ({'http1_keep_alive_timeout': -1}, 'http1_keep_alive_timeout must be between 0 and 3600000'),
        ({'max_request_body_size': 0}, 'max_request_body_size must be between 1 and 9223372036854775807'),
        ({'max_header_size': 100}, 'max_header_size must be between 1024 and 67108864'),
        ({'ssl_cert': A_FILE}, 'ssl_cert and ssl_key go together'),
        ({'ssl_key': A_FILE}, 'ssl_cert and ssl_key go together'),
        ({'ssl_cert': '/nonexistent/cert.pem', 'ssl_key': A_FILE}, "ssl_cert: '/nonexistent/cert.pem' is not a file"),
        ({'ssl_key_password': 'pw'}, 'ssl_key_password must be a string, given with ssl_key'),
        ({'ssl_ca': A_FILE}, 'ssl_ca needs ssl_cert and ssl_key'),
        ({'ssl_client_verify': True}, 'ssl_client_verify needs ssl_ca'),
        ({'ssl_protocol_min': 'ssl3'}, 'ssl_protocol_min must be one of tls1.2, tls1.3'),
        ({'uds': '/tmp/g.sock', 'fd': 3}, 'fd and uds exclude each other'),
        ({'uds_permissions': 0o600}, 'uds_permissions needs uds'),
        ({'uds': '/tmp/g.sock', 'uds_permissions': 0o1000}, 'uds_permissions must be between 0 and 511'),
        ({'fd': -1}, 'fd must be between 0 and 2147483647'),
        ({'pid_file': '/nonexistent/granian/x.pid'}, "pid_file: '/nonexistent/granian' is not a directory"),
        ({'process_name': ' '}, 'process_name must be a non-empty string'),
        ({'env_files': ['/nonexistent/.env']}, "env_files: '/nonexistent/.env' does not exist"),
    ],
)
def test_granian_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match='^' + message.replace('(', r'\(')) as info:
        Granian('app', **kwargs)
    assert isinstance(info.value, ConfigError)
    assert info.value.option in kwargs


def test_granian_rejects_empty_target() -> None:
    with pytest.raises(ConfigError, match='target must be a non-empty string'):
        Granian('  ')


def test_granian_accepts_enum_members_and_values() -> None:
    by_member = Granian(
        'app', interface=Interfaces.ASGI, http=HTTPModes.http2, loop=Loops.asyncio, log_level=LogLevels.debug
    )
    by_value = Granian('app', interface='asgi', http='2', loop='asyncio', log_level='debug')
    assert by_member.options == by_value.options
    assert by_value.options.interface is Interfaces.ASGI
    assert str(Interfaces.ASGI) == 'asgi'
    assert str(HTTPModes.http2) == '2'


def test_granian_takes_address_and_port_by_position_and_the_rest_by_keyword() -> None:
    server = Granian('app', '0.0.0.0', 8080)
    assert (server.options.address, server.options.port) == ('0.0.0.0', 8080)
    with pytest.raises(TypeError):
        Granian('app', '0.0.0.0', 8080, None)  # type: ignore[misc]


def test_blocking_threads_default_depends_on_interface() -> None:
    assert Granian('app', interface='asgi').options.blocking_threads == 1
    assert Granian('app', interface='rsgi').options.blocking_threads == 1
    default = default_blocking_threads()
    assert 4 <= default <= 32
    assert Granian('app', interface='wsgi', backpressure=64).options.blocking_threads == default
    # Never more threads than requests admitted at once.
    assert Granian('app', interface='wsgi', backpressure=2).options.blocking_threads == 2


def test_default_blocking_threads_is_four_per_core_up_to_32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(3)), raising=False)
    assert default_blocking_threads() == 12
    monkeypatch.setattr(os, 'sched_getaffinity', lambda pid: set(range(64)), raising=False)
    assert default_blocking_threads() == 32


def test_stop_timeout() -> None:
    assert Granian('app', graceful_timeout=3).options.stop_timeout == 8.0
    assert Granian('app', graceful_timeout=3, workers_kill_timeout=1.5).options.stop_timeout == 1.5


# -- features not available ------------------------------------------------------------------------


def test_reload_needs_watchfiles(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        return None if name == 'watchfiles' else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, 'find_spec', find_spec)
    result = CliRunner().invoke(cli, ['--no-log', '--interface', 'asgi', '--reload', 'app'], prog_name='granian')
    assert result.exit_code != 0
    assert 'Error: --reload needs the watchfiles package (pip install granian[reload])' in result.output


def test_missing_uvloop_exits_at_start() -> None:
    if importlib.util.find_spec('uvloop') is not None:
        pytest.skip('uvloop is installed')
    result = CliRunner().invoke(
        cli, ['--no-log', '--interface', 'asgi', '--loop', 'uvloop', 'app'], prog_name='granian'
    )
    assert result.exit_code != 0
    assert 'Error: the uvloop event loop is not installed' in result.output


# -- application targets --------------------------------------------------------------------------


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh importable package (unique name) with sample applications."""
    name = f'granian_target_{uuid.uuid4().hex[:8]}'
    root = tmp_path / name
    root.mkdir()
    (root / '__init__.py').write_text('')
    (root / 'apps.py').write_text(
        'async def app(scope, receive, send): pass\n'
        'class Holder:\n'
        '    async def inner(scope, receive, send): pass\n'
        'def make(): return app\n'
        'def make_nothing(): return None\n'
        'def explode(): raise RuntimeError("boom")\n'
        'value = 3\n'
    )
    (root / 'broken.py').write_text('import granian_no_such_dependency\n')
    (root / 'raising.py').write_text('raise RuntimeError("at import")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(name + '.')]:
        del sys.modules[module]


def test_split_target() -> None:
    assert split_target('pkg.mod:app') == ('pkg.mod', 'app')
    assert split_target('pkg.mod') == ('pkg.mod', 'app')
    assert split_target('pkg.mod:obj.attr') == ('pkg.mod', 'obj.attr')
    assert split_target(r'C:\srv\main.py:app') == (r'C:\srv\main.py', 'app')
    for bad in (':app', 'mod:', 'mod:a..b'):
        with pytest.raises(TargetError, match='invalid application target'):
            split_target(bad)


def test_load_target_forms(package: str) -> None:
    module = sys.modules.get(f'{package}.apps')
    assert module is None
    app = load_target(f'{package}.apps:app')
    assert app is sys.modules[f'{package}.apps'].app
    assert load_target(f'{package}.apps') is app
    assert load_target(f'{package}.apps:Holder.inner') is sys.modules[f'{package}.apps'].Holder.inner
    assert load_target(f'{package}.apps:make', factory=True) is app


def test_load_target_from_file_path(package: str, tmp_path: Path) -> None:
    app = load_target(f'{tmp_path / package / "apps.py"}:app')
    assert app is sys.modules[f'{package}.apps'].app


@pytest.mark.parametrize(
    ('target', 'factory', 'message', 'with_traceback'),
    [
        ('{pkg}_missing:app', False, "cannot import module '{pkg}_missing'", False),
        ('{pkg}.missing:app', False, "cannot import module '{pkg}.missing'", False),
        ('{pkg}.apps:nope', False, "module '{pkg}.apps' has no attribute 'nope'", False),
        ('{pkg}.apps:Holder.nope', False, "module '{pkg}.apps' has no attribute 'Holder.nope'", False),
        ('{pkg}.apps:value', False, "'{pkg}.apps:value' is not callable", False),
        ('{pkg}.apps:value', True, "factory '{pkg}.apps:value' is not callable", False),
        ('{pkg}.apps:make_nothing', True, 'the factory result is not callable', False),
        ('{pkg}.apps:explode', True, "factory '{pkg}.apps:explode' raised RuntimeError: boom", True),
        ('{pkg}.broken:app', False, "error while importing module '{pkg}.broken'", True),
        ('{pkg}.raising:app', False, "error while importing module '{pkg}.raising': RuntimeError: at import", True),
    ],
)
def test_load_target_errors(package: str, target: str, factory: bool, message: str, with_traceback: bool) -> None:
    with pytest.raises(TargetError) as info:
        load_target(target.format(pkg=package), factory=factory)
    assert str(info.value).startswith(message.format(pkg=package))
    assert '\n' not in str(info.value)
    assert (info.value.details is not None) == with_traceback
    if info.value.details:
        assert 'granian/_imports.py' not in info.value.details


# -- properties -----------------------------------------------------------------------------------

addresses = st.sampled_from(['127.0.0.1', '0.0.0.0', '::1', '::', 'localhost'])


def bounded(name: str) -> st.SearchStrategy[int]:
    bound = BOUNDS[name]
    low = int(bound.min) if bound.min is not None else None
    high = int(bound.max) if bound.max is not None else low + 1_000_000 if low is not None else None
    return st.integers(low, high)


def duration(name: str) -> st.SearchStrategy[float]:
    """Seconds within the option's bounds."""
    bound = BOUNDS[name]
    low = float(bound.min or 0.0)
    values = st.floats(low, float(bound.max), allow_nan=False, allow_infinity=False)
    return values.filter(lambda value: value > low) if bound.min_open else values


dir_names = st.from_regex(r'[A-Za-z0-9_.]{1,12}', fullmatch=True)


@st.composite
def valid_options(draw: st.DrawFn) -> dict[str, Any]:
    interface = draw(st.sampled_from(Interfaces))
    blocking = bounded('blocking_threads') if interface is Interfaces.WSGI else st.just(1)
    candidates: dict[str, st.SearchStrategy[Any]] = {
        'address': addresses,
        'port': bounded('port'),
        'interface': st.just(interface),
        'http': st.sampled_from(HTTPModes),
        'workers': st.integers(1, 64),
        'runtime_threads': st.integers(1, 64),
        'blocking_threads': blocking,
        'loop': st.sampled_from(Loops),
        'backlog': bounded('backlog'),
        'backpressure': bounded('backpressure'),
        'http1_buffer_size': bounded('http1_buffer_size'),
        'http1_header_read_timeout': bounded('http1_header_read_timeout'),
        'http2_initial_connection_window_size': bounded('http2_initial_connection_window_size'),
        'http2_initial_stream_window_size': bounded('http2_initial_stream_window_size'),
        'http2_keep_alive_interval': bounded('http2_keep_alive_interval'),
        'http2_keep_alive_timeout': bounded('http2_keep_alive_timeout'),
        'http2_max_concurrent_streams': bounded('http2_max_concurrent_streams'),
        'http2_max_frame_size': bounded('http2_max_frame_size'),
        'http2_max_headers_size': bounded('http2_max_headers_size'),
        'http2_max_send_buffer_size': bounded('http2_max_send_buffer_size'),
        'ws_max_message_size': bounded('ws_max_message_size'),
        'ws_ping_interval': duration('ws_ping_interval'),
        'ws_ping_timeout': duration('ws_ping_timeout'),
        'log_level': st.sampled_from(LogLevels),
        'working_dir': st.sampled_from([HERE, HERE.parent]),
        'graceful_timeout': duration('graceful_timeout'),
        'workers_kill_timeout': duration('workers_kill_timeout'),
        'respawn_interval': duration('respawn_interval'),
        'workers_lifetime': duration('workers_lifetime'),
        'workers_lifetime_jitter': duration('workers_lifetime_jitter'),
        'workers_max_rss': bounded('workers_max_rss'),
        'rss_sample_interval': duration('rss_sample_interval'),
        'http2_idle_timeout': duration('http2_idle_timeout'),
        'max_body_buffer_size': bounded('max_body_buffer_size'),
        'max_connections': bounded('max_connections'),
        'max_requests': bounded('max_requests'),
        'max_requests_jitter': bounded('max_requests_jitter'),
        'reload_paths': st.lists(st.sampled_from([HERE, HERE.parent]), max_size=3).map(tuple),
        'reload_ignore_dirs': st.lists(dir_names, max_size=3).map(tuple),
        'http1_keep_alive_timeout': bounded('http1_keep_alive_timeout'),
        'max_request_body_size': bounded('max_request_body_size'),
        'max_header_size': bounded('max_header_size'),
        'ssl_protocol_min': st.sampled_from(SSLProtocols),
        'fd': bounded('fd'),
        'pid_file': st.sampled_from([HERE / 'granian.pid', HERE.parent / 'granian.pid']),
        'process_name': dir_names,
        'env_files': st.lists(st.just(A_FILE), max_size=2).map(tuple),
        'metrics_scrape_interval': st.integers(1, 60).map(float),
        'metrics_address': st.sampled_from(['127.0.0.1', '0.0.0.0', '::1']),
        'metrics_port': bounded('metrics_port'),
        'log_access_format': st.sampled_from(['%(status)d', '%(addr)s %(header{X-Id})s', '100%% %(dt_ms).1f']),
        'server_header': st.from_regex(r'[!-~]([ !-~]{0,10}[!-~])?', fullmatch=True),
        'response_compression_min_size': bounded('response_compression_min_size'),
        'response_compression_algorithms': st.permutations(['br', 'zstd', 'gzip']).flatmap(
            lambda order: st.integers(1, 3).map(lambda count: tuple(order[:count]))
        ),
        # In the table's order, which is how they come out whatever order they go in.
        'forwarded_headers': st.sets(st.sampled_from(PROXY_HEADERS), min_size=1).map(
            lambda chosen: tuple(name for name in PROXY_HEADERS if name in chosen)
        ),
        'shutdown_delay': duration('shutdown_delay'),
        'health_path': st.sampled_from(['/healthz', '/-/health', '/_status/live']),
        'ready_path': st.sampled_from(['/readyz', '/-/ready']),
        'ready_check_timeout': duration('ready_check_timeout'),
        'ready_check_ttl': duration('ready_check_ttl'),
        # Options that only go with others (TLS, Unix sockets, health paths) have their own tests.
        **{
            name: st.booleans()
            for name in BOOL_FLAGS
            if name not in ('ssl_client_verify', 'health_access_log', 'http3')
        },
    }
    chosen = draw(st.sets(st.sampled_from(sorted(candidates))))
    # The interface always goes along: it decides which blocking threads are valid.
    return {name: draw(candidates[name]) for name in sorted(chosen | {'interface'})}


def normalised(name: str, value: Any) -> Any:
    if name in DURATION_OPTIONS:
        return float(value)
    return value


@given(valid_options())
def test_cli_round_trips_to_granian(kwargs: dict[str, Any]) -> None:
    options = served([*to_argv(kwargs), 'app:main'])
    assert options == Granian('app:main', **kwargs).options
    for name, value in kwargs.items():
        assert getattr(options, name) == normalised(name, value), name


@given(valid_options())
def test_env_vars_round_trip_to_granian(kwargs: dict[str, Any]) -> None:
    env = {}
    for name, value in kwargs.items():
        param = next(param for param in cli.params if param.name == name)
        if isinstance(value, tuple):
            splitter = os.pathsep if name in ('reload_paths', 'env_files') else ' '
            env[param.envvar[0]] = splitter.join(str(item) for item in value)
        elif isinstance(value, bool):
            env[param.envvar[0]] = 'true' if value else 'false'
        else:
            env[param.envvar[0]] = str(value)
    options = served(['app:main'], env)
    assert options == Granian('app:main', **kwargs).options


@st.composite
def out_of_range(draw: st.DrawFn) -> tuple[str, int]:
    name = draw(st.sampled_from(INT_OPTIONS))
    bound = BOUNDS[name]
    sides = []
    if bound.min is not None:
        sides.append(st.integers(max_value=int(bound.min) - 1))
    if bound.max is not None:
        sides.append(st.integers(min_value=int(bound.max) + 1))
    return name, draw(st.one_of(sides))


@given(out_of_range())
def test_out_of_range_ints_are_rejected_by_cli_and_granian(case: tuple[str, int]) -> None:
    name, value = case
    result, options = invoke([f'{VALUE_FLAGS[name]}={value}', 'app'])
    assert result.exit_code == 2, result.output
    assert options is None
    assert f"Invalid value for '{VALUE_FLAGS[name]}'" in result.output
    kwargs: dict[str, Any] = {name: value}
    with pytest.raises(ConfigError) as info:
        Granian('app', **kwargs)
    assert info.value.option == name


def _not_an_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return True
    return False


@given(st.sampled_from(INT_OPTIONS), st.text(min_size=1, max_size=8).filter(_not_an_int))
def test_non_integers_are_rejected_by_cli_and_granian(name: str, text: str) -> None:
    result, options = invoke([f'{VALUE_FLAGS[name]}={text}', 'app'])
    assert result.exit_code == 2, result.output
    assert options is None
    kwargs: dict[str, Any] = {name: text}
    with pytest.raises(ConfigError):
        Granian('app', **kwargs)


@given(st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_durations_with_units_round_trip(days: int, hours: int, minutes: int, secs: int) -> None:
    parts = [(days, 'd'), (hours, 'h'), (minutes, 'm'), (secs, 's')]
    text = ''.join(f'{amount}{unit}' for amount, unit in parts if amount) or '0s'
    assert parse_duration(text) == days * 86400 + hours * 3600 + minutes * 60 + secs


@given(st.floats(0, 10_000, allow_nan=False, allow_infinity=False))
def test_plain_durations_round_trip(value: float) -> None:
    assert parse_duration(repr(value)) == value
    assert parse_duration(str(value)) == value


@given(st.text(max_size=10).filter(lambda text: not text.strip() or text.strip()[0].isalpha()))
def test_garbage_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
