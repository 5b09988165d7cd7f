"""The `granian` command: a click layer over `Granian`.

Every flag maps to one keyword of `Granian` and reads a `GRANIAN_*` environment variable (named
as Granian names them: `GRANIAN_` and the keyword in capitals). Numeric limits come from
`server.BOUNDS`; everything else is validated by `Granian` itself, whose errors become usage
errors (exit code 2).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .constants import HTTPModes, Interfaces, LogLevels, Loops, SSLProtocols, StrEnum
from .log import DEFAULT_ACCESS_LOG_FORMAT
from .server import BOUNDS, ConfigError, Granian

__all__ = ['Duration', 'EnumChoice', 'LogConfigFile', 'Octal', 'cli', 'entrypoint', 'parse_duration']

F = TypeVar('F', bound=Callable[..., Any])

_DURATION = re.compile(
    r'(?:(?P<d>[0-9]+(?:\.[0-9]+)?)d)?(?:(?P<h>[0-9]+(?:\.[0-9]+)?)h)?'
    r'(?:(?P<m>[0-9]+(?:\.[0-9]+)?)m)?(?:(?P<s>[0-9]+(?:\.[0-9]+)?)s)?'
)
_UNIT_SECONDS = {'d': 86400.0, 'h': 3600.0, 'm': 60.0, 's': 1.0}


def parse_duration(text: str) -> float:
    """Seconds in `text`: a plain number (`30`, `2.5`) or units largest first (`1h30m`, `90s`, `1d`).

    Raises `ValueError` for anything else.
    """
    text = text.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f'{text!r} is not a finite duration')
        return seconds
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f'{text!r} is not a duration (use seconds, or units such as 1h30m, 90s)')
    return sum(float(amount) * _UNIT_SECONDS[unit] for unit, amount in match.groupdict().items() if amount)


class Duration(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """A duration in seconds (float), bounded like the `Granian` keyword it feeds."""

    name = 'duration'

    def __init__(self, option: str) -> None:
        self.bound = BOUNDS[option]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        else:
            try:
                seconds = parse_duration(str(value))
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
        if not self.bound.admits(seconds):
            self.fail(f'{value} is not {self.bound.describe()} seconds', param, ctx)
        return seconds


class EnumChoice(click.Choice):  # type: ignore[type-arg]  # generic from click 8.2
    """A choice among an enum's values (its CLI spellings), converted to the member."""

    def __init__(self, enum: type[StrEnum]) -> None:
        self.enum = enum
        super().__init__([str(member.value) for member in enum], case_sensitive=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, self.enum):
            return value
        return self.enum(super().convert(value, param, ctx))


class Octal(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """File permission bits written in octal (`660`, `0o660`), bounded like the `Granian` keyword."""

    name = 'octal'

    def __init__(self, option: str) -> None:
        self.bound = BOUNDS[option]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            bits = value
        else:
            text = str(value).strip().lower().removeprefix('0o')
            try:
                bits = int(text, 8)
            except ValueError:
                self.fail(f'{value!r} is not an octal number such as 660', param, ctx)
        if not self.bound.admits(bits):
            self.fail(f'{value} is not between 0 and 777 (octal)', param, ctx)
        return bits


class LogConfigFile(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """A `dictConfig` file: JSON, or YAML when named `.yaml`/`.yml` (read with PyYAML)."""

    name = 'file'

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dict):
            return value
        path = Path(value)
        try:
            text = path.read_text(encoding='utf-8')
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(f"cannot read '{path}': {exc}", param, ctx)
        if path.suffix.lower() in ('.yaml', '.yml'):
            try:
                import yaml
            except ImportError:
                self.fail(f"'{path}' is YAML, which needs PyYAML (pip install pyyaml); or use JSON", param, ctx)
            try:
                config = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                self.fail(f"'{path}' is not valid YAML: {exc}", param, ctx)
        else:
            try:
                config = json.loads(text)
            except ValueError as exc:
                self.fail(f"'{path}' is not valid JSON: {exc}", param, ctx)
        if not isinstance(config, dict):
            self.fail(f"'{path}' must hold a mapping (a dictConfig dictionary)", param, ctx)
        return config


def _int(option: str) -> click.IntRange:
    bound = BOUNDS[option]
    low = None if bound.min is None else int(bound.min)
    high = None if bound.max is None else int(bound.max)
    return click.IntRange(low, high)


def _no_server_header(ctx: click.Context, value: Any) -> Any:
    """`--no-server-header` sets `server_header` too: to '' (no header) when given or when its
    environment variable is true, else to whatever `--server-header` said."""
    if value == '':
        return ''
    return ctx.params.get('server_header', 'granian')


def _option(*decls: str, env: str, **attrs: Any) -> Callable[[F], F]:
    """A flag reading `GRANIAN_<env>`, showing its environment variable and default in `--help`."""
    attrs.setdefault('show_default', True)
    return click.option(*decls, envvar=f'GRANIAN_{env}', show_envvar=True, **attrs)


@click.command(context_settings={'max_content_width': 120})
@click.argument('app', required=True)
@_option('--host', 'address', env='HOST', default='127.0.0.1', help='Host address to bind to.')
@_option('--port', env='PORT', type=_int('port'), default=8000, help='Port to bind to (0 picks a free one).')
@_option(
    '--uds',
    env='UDS',
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    show_default='none (TCP)',
    help='Serve on a Unix domain socket at this path instead of HOST:PORT (removed on exit).',
)
@_option(
    '--uds-permissions',
    env='UDS_PERMISSIONS',
    type=Octal('uds_permissions'),
    default=None,
    show_default='as the umask leaves them',
    help='Permission bits of the Unix socket file, in octal (660).',
)
@_option(
    '--fd',
    env='FD',
    type=_int('fd'),
    default=None,
    show_default='none; with systemd socket activation (LISTEN_FDS) its socket',
    help='Serve on an inherited listening socket (TCP or Unix) with this file descriptor, instead of HOST:PORT.',
)
@_option(
    '--interface', env='INTERFACE', type=EnumChoice(Interfaces), default='rsgi', help='Application interface type.'
)
@_option('--http', env='HTTP', type=EnumChoice(HTTPModes), default='auto', help='HTTP version.')
@_option('--workers', env='WORKERS', type=_int('workers'), default=1, help='Number of worker processes.')
@_option(
    '--runtime-threads',
    env='RUNTIME_THREADS',
    type=_int('runtime_threads'),
    default=1,
    help='Number of runtime threads (per worker).',
)
@_option(
    '--blocking-threads',
    env='BLOCKING_THREADS',
    type=_int('blocking_threads'),
    default=None,
    show_default='WSGI: 4 per CPU core, at most 32 and at most backpressure; others: 1',
    help='Number of blocking threads (per worker): the Python threads running a WSGI application.',
)
@_option('--loop', env='LOOP', type=EnumChoice(Loops), default='auto', help='Event loop implementation.')
@_option(
    '--backlog',
    env='BACKLOG',
    type=_int('backlog'),
    default=1024,
    help='Maximum number of connections to hold in backlog (globally).',
)
@_option(
    '--backpressure',
    env='BACKPRESSURE',
    type=_int('backpressure'),
    default=None,
    show_default='backlog/workers',
    help='Maximum number of requests to process concurrently (per worker).',
)
@_option(
    '--http1-buffer-size',
    env='HTTP1_BUFFER_SIZE',
    type=_int('http1_buffer_size'),
    default=417792,
    help='Maximum buffer size for HTTP/1 connections, in bytes.',
)
@_option(
    '--http1-header-read-timeout',
    env='HTTP1_HEADER_READ_TIMEOUT',
    type=_int('http1_header_read_timeout'),
    default=30000,
    help='Timeout (in milliseconds) to read request headers.',
)
@_option(
    '--http1-keep-alive-timeout',
    env='HTTP1_KEEP_ALIVE_TIMEOUT',
    type=_int('http1_keep_alive_timeout'),
    default=30000,
    help='Time (in milliseconds) an idle kept-alive HTTP/1 connection waits for its next request; 0 waits forever.',
)
@_option(
    '--http1-keep-alive/--no-http1-keep-alive',
    env='HTTP1_KEEP_ALIVE',
    default=True,
    show_default='enabled',
    help='Enable or disable HTTP/1 keep-alive.',
)
@_option(
    '--http1-pipeline-flush/--no-http1-pipeline-flush',
    env='HTTP1_PIPELINE_FLUSH',
    default=False,
    show_default='disabled',
    help='Aggregate HTTP/1 flushes to better serve pipelined requests. Streamed responses '
    'then lose backpressure: a slow client makes the server buffer the whole body.',
)
@_option(
    '--http2-adaptive-window/--no-http2-adaptive-window',
    env='HTTP2_ADAPTIVE_WINDOW',
    default=False,
    show_default='disabled',
    help='Size HTTP/2 flow-control windows from the measured bandwidth-delay product.',
)
@_option(
    '--http2-initial-connection-window-size',
    env='HTTP2_INITIAL_CONNECTION_WINDOW_SIZE',
    type=_int('http2_initial_connection_window_size'),
    default=1024 * 1024,
    help='HTTP/2 connection-level flow-control window, in bytes.',
)
@_option(
    '--http2-initial-stream-window-size',
    env='HTTP2_INITIAL_STREAM_WINDOW_SIZE',
    type=_int('http2_initial_stream_window_size'),
    default=1024 * 1024,
    help='HTTP/2 stream-level flow-control window, in bytes.',
)
@_option(
    '--http2-keep-alive-interval',
    env='HTTP2_KEEP_ALIVE_INTERVAL',
    type=_int('http2_keep_alive_interval'),
    default=None,
    show_default='no pings',
    help='Interval (in milliseconds) between HTTP/2 PING frames on a quiet connection.',
)
@_option(
    '--http2-keep-alive-timeout',
    env='HTTP2_KEEP_ALIVE_TIMEOUT',
    type=_int('http2_keep_alive_timeout'),
    default=20,
    help='Timeout (in seconds) for a keep-alive PING to be answered before the connection closes.',
)
@_option(
    '--http2-max-concurrent-streams',
    env='HTTP2_MAX_CONCURRENT_STREAMS',
    type=_int('http2_max_concurrent_streams'),
    default=200,
    help='Streams a client may have open at once on one HTTP/2 connection.',
)
@_option(
    '--http2-max-frame-size',
    env='HTTP2_MAX_FRAME_SIZE',
    type=_int('http2_max_frame_size'),
    default=16384,
    help='Largest HTTP/2 frame payload accepted, in bytes.',
)
@_option(
    '--http2-max-headers-size',
    env='HTTP2_MAX_HEADERS_SIZE',
    type=_int('http2_max_headers_size'),
    default=16 * 1024,
    help='Largest decoded HTTP/2 header list accepted, in bytes (431 beyond).',
)
@_option(
    '--http2-max-send-buffer-size',
    env='HTTP2_MAX_SEND_BUFFER_SIZE',
    type=_int('http2_max_send_buffer_size'),
    default=400 * 1024,
    help='Most bytes buffered per HTTP/2 stream for sending, in bytes.',
)
@_option(
    '--ws/--no-ws',
    'websockets',
    env='WS',
    default=True,
    show_default='enabled',
    help='Serve websockets (ASGI, RSGI); with --no-ws upgrade requests are served as plain HTTP.',
)
@_option(
    '--ws-max-message-size',
    env='WS_MAX_MESSAGE_SIZE',
    type=_int('ws_max_message_size'),
    default=16 * 1024 * 1024,
    help='Largest websocket message accepted, in bytes; a larger one closes the connection with 1009.',
)
@_option(
    '--ws-ping-interval',
    env='WS_PING_INTERVAL',
    type=Duration('ws_ping_interval'),
    default=20.0,
    help='Time (seconds) a websocket may be quiet before the server pings it; 0 sends no pings.',
)
@_option(
    '--ws-ping-timeout',
    env='WS_PING_TIMEOUT',
    type=Duration('ws_ping_timeout'),
    default=20.0,
    help='Time (seconds) a pinged websocket peer gets to send anything before it is dropped.',
)
@_option(
    '--ws-deflate/--no-ws-deflate',
    'ws_deflate',
    env='WS_DEFLATE',
    default=True,
    show_default='enabled',
    help='Accept permessage-deflate (RFC 7692) compression when a websocket client offers it.',
)
@_option(
    '--server-header',
    'server_header',
    env='SERVER_HEADER',
    default='granian',
    help="Server header added to responses that set none (an application's own is always kept).",
)
@_option(
    '--no-server-header',
    'server_header',
    env='NO_SERVER_HEADER',
    is_flag=True,
    flag_value='',
    type=click.UNPROCESSED,
    default='granian',
    show_default='header sent',
    callback=lambda ctx, param, value: _no_server_header(ctx, value),
    help="Send no Server header (an application's own is still sent).",
)
@_option(
    '--response-compression/--no-response-compression',
    env='RESPONSE_COMPRESSION',
    default=False,
    show_default='disabled',
    help='Compress text-like responses (HTML, CSS, JSON, JS, XML, SVG, wasm...) with brotli, zstd or gzip, '
    "as the request's Accept-Encoding allows; streamed responses are compressed chunk by chunk.",
)
@_option(
    '--response-compression-min-size',
    env='RESPONSE_COMPRESSION_MIN_SIZE',
    type=_int('response_compression_min_size'),
    default=1024,
    help='Smallest body compressed, in bytes (bodies of unknown size are always compressed).',
)
@_option(
    '--response-compression-algorithms',
    env='RESPONSE_COMPRESSION_ALGORITHMS',
    type=click.Choice(['br', 'zstd', 'gzip'], case_sensitive=False),
    multiple=True,
    show_default='br zstd gzip',
    help='Algorithms offered, in order of preference when the client weighs them alike (repeatable; the '
    'environment variable takes a space-separated list).',
)
@_option(
    '--max-request-body-size',
    env='MAX_REQUEST_BODY_SIZE',
    type=_int('max_request_body_size'),
    default=None,
    show_default='unlimited',
    help='Largest request body, in bytes: 413 beyond it (up front by Content-Length, else as it arrives).',
)
@_option(
    '--max-header-size',
    env='MAX_HEADER_SIZE',
    type=_int('max_header_size'),
    default=None,
    show_default='HTTP/1: --http1-buffer-size; HTTP/2: --http2-max-headers-size',
    help='Largest request head (HTTP/1) or header list (HTTP/2), in bytes: 431 beyond it. Overrides the '
    'per-protocol limits.',
)
@_option('--log/--no-log', 'log_enabled', env='LOG_ENABLED', default=True, show_default='enabled', help='Logging.')
@_option('--log-level', env='LOG_LEVEL', type=EnumChoice(LogLevels), default='info', help='Log level.')
@_option(
    '--access-log/--no-access-log',
    'log_access',
    env='LOG_ACCESS_ENABLED',
    default=False,
    show_default='disabled',
    help='Access log, one line per request.',
)
@_option(
    '--access-log-fmt',
    'log_access_format',
    env='LOG_ACCESS_FMT',
    default=DEFAULT_ACCESS_LOG_FORMAT,
    help='Access log format: %(atom)s placeholders (see docs/logging.md).',
)
@_option(
    '--access-log-json/--no-access-log-json',
    'log_access_json',
    env='LOG_ACCESS_JSON',
    default=False,
    show_default='disabled',
    help='Write the access log as one JSON object per line, with every atom.',
)
@_option(
    '--log-config',
    'log_dictconfig',
    env='LOG_CONFIG',
    type=LogConfigFile(),
    default=None,
    show_default='none',
    help='Logging configuration file for logging.config.dictConfig: JSON, or YAML (.yaml/.yml, needs PyYAML).',
)
@_option(
    '--log-json/--no-log-json',
    'log_json',
    env='LOG_JSON',
    default=False,
    show_default='disabled',
    help='Write server log records as one JSON object per line.',
)
@_option(
    '--factory/--no-factory',
    env='FACTORY',
    default=False,
    show_default='disabled',
    help='Call APP with no arguments to build the application.',
)
@_option(
    '--working-dir',
    env='WORKING_DIR',
    type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path),
    default=None,
    show_default='current directory',
    help='Directory to change to before loading APP (it also goes first on sys.path).',
)
@_option(
    '--env-files',
    env='ENV_FILES',
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    multiple=True,
    show_default='none',
    help='KEY=VALUE files loaded into the environment before APP is imported (repeatable; variables already set win).',
)
@_option(
    '--static-path-route',
    env='STATIC_PATH_ROUTE',
    multiple=True,
    show_default='/static with one mount',
    help='URL path prefix a --static-path-mount is served on (repeatable, paired with mounts in order).',
)
@_option(
    '--static-path-mount',
    env='STATIC_PATH_MOUNT',
    type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path),
    multiple=True,
    show_default='none (no static files)',
    help='Directory served as static files, before the application, on its --static-path-route (repeatable).',
)
@_option(
    '--static-path-dir-to-file',
    env='STATIC_PATH_DIR_TO_FILE',
    default=None,
    show_default='none (directories are not found)',
    help='File served for a directory under a static route (e.g. index.html).',
)
@_option(
    '--static-path-expires',
    env='STATIC_PATH_EXPIRES',
    type=Duration('static_path_expires'),
    default=86400,
    help='Time (seconds, or 1d) static files may be cached (Cache-Control max-age and Expires); 0 sends neither.',
)
@_option(
    '--pid-file',
    env='PID_FILE',
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    show_default='none',
    help='File to write the main process PID to (removed on exit).',
)
@_option(
    '--process-name',
    env='PROCESS_NAME',
    default=None,
    show_default='none',
    help='Name of the main process (workers get " [worker-N]" appended); needs granian[pname] for the '
    'full title, otherwise the kernel name (15 bytes) is set.',
)
@_option(
    '--ssl-certificate',
    'ssl_cert',
    env='SSL_CERTIFICATE',
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    show_default='none (no TLS)',
    help='PEM certificate chain (server certificate first): serve HTTPS.',
)
@_option(
    '--ssl-keyfile',
    'ssl_key',
    env='SSL_KEYFILE',
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    show_default='none',
    help='PEM private key of the certificate (PKCS#8, PKCS#1 or SEC1; encrypted PKCS#8 with --ssl-keyfile-password).',
)
@_option(
    '--ssl-keyfile-password',
    'ssl_key_password',
    env='SSL_KEYFILE_PASSWORD',
    default=None,
    show_default='none',
    help='Password of an encrypted PKCS#8 private key.',
)
@_option(
    '--ssl-protocol-min',
    env='SSL_PROTOCOL_MIN',
    type=EnumChoice(SSLProtocols),
    default='tls1.2',
    help='Oldest TLS version accepted.',
)
@_option(
    '--ssl-ca',
    env='SSL_CA',
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    show_default='none (no client certificates)',
    help='PEM CA certificates client certificates are verified against; clients are asked for one.',
)
@_option(
    '--ssl-client-verify/--no-ssl-client-verify',
    env='SSL_CLIENT_VERIFY',
    default=False,
    show_default='disabled',
    help='Refuse clients without a certificate signed by --ssl-ca (mutual TLS).',
)
@_option(
    '--proxy-headers/--no-proxy-headers',
    env='PROXY_HEADERS',
    default=False,
    show_default='disabled',
    help='Take the client address, scheme, host and path prefix from Forwarded or X-Forwarded-* headers '
    'sent by a peer in --forwarded-allow-ips (see docs/proxy-headers.md).',
)
@_option(
    '--forwarded-allow-ips',
    env='FORWARDED_ALLOW_IPS',
    default='127.0.0.1,::1',
    help="Comma-separated IP addresses and networks (10.0.0.0/8) whose proxy headers are trusted; '*' trusts "
    'every peer. Unix socket peers are always trusted.',
)
@_option(
    '--url-path-prefix',
    env='URL_PATH_PREFIX',
    default=None,
    show_default='none',
    help='URL path prefix the app is mounted on: ASGI root_path, WSGI SCRIPT_NAME (removed from PATH_INFO).',
)
@_option(
    '--graceful-timeout',
    env='GRACEFUL_TIMEOUT',
    type=Duration('graceful_timeout'),
    default=30.0,
    help='Time (seconds, or 1m30s) in-flight requests get to finish when a worker stops.',
)
@_option(
    '--workers-kill-timeout',
    env='WORKERS_KILL_TIMEOUT',
    type=Duration('workers_kill_timeout'),
    default=None,
    show_default='graceful timeout + 5s',
    help='Time (seconds, or 1m30s) to wait for a stopping worker before killing it.',
)
@_option(
    '--respawn-failed-workers/--no-respawn-failed-workers',
    env='RESPAWN_FAILED_WORKERS',
    default=False,
    show_default='disabled',
    help='Replace a worker that exits unexpectedly instead of stopping the server; the server still '
    'exits 1 when workers keep failing (more than 5 failures within 60s).',
)
@_option(
    '--respawn-interval',
    env='RESPAWN_INTERVAL',
    type=Duration('respawn_interval'),
    default=3.5,
    help='Time (seconds) to wait before respawning a failed worker.',
)
@_option(
    '--workers-lifetime',
    env='WORKERS_LIFETIME',
    type=Duration('workers_lifetime'),
    default=None,
    show_default='unlimited',
    help='Time (seconds, or 1h30m) after which a worker is gracefully replaced by a new one.',
)
@_option(
    '--workers-lifetime-jitter',
    env='WORKERS_LIFETIME_JITTER',
    type=Duration('workers_lifetime_jitter'),
    default=0.0,
    help="Most extra time (seconds) randomly added to each worker's lifetime, so workers are not all replaced at once.",
)
@_option(
    '--workers-max-rss',
    env='WORKERS_MAX_RSS',
    type=_int('workers_max_rss'),
    default=None,
    show_default='unlimited',
    help='Memory (resident set, in MiB) above which a worker is gracefully replaced (Linux).',
)
@_option(
    '--rss-sample-interval',
    env='RSS_SAMPLE_INTERVAL',
    type=Duration('rss_sample_interval'),
    default=30.0,
    help="Time (seconds) between two checks of the workers' memory against --workers-max-rss.",
)
@_option(
    '--max-requests',
    env='MAX_REQUESTS',
    type=_int('max_requests'),
    default=None,
    show_default='unlimited',
    help='Requests after which a worker is gracefully replaced by a new one.',
)
@_option(
    '--max-requests-jitter',
    env='MAX_REQUESTS_JITTER',
    type=_int('max_requests_jitter'),
    default=0,
    help="Most extra requests randomly added to each worker's --max-requests.",
)
@_option(
    '--metrics/--no-metrics',
    'metrics_enabled',
    env='METRICS_ENABLED',
    default=False,
    show_default='disabled',
    help='Serve Prometheus metrics from the main process (see --metrics-address, --metrics-port).',
)
@_option(
    '--metrics-scrape-interval',
    env='METRICS_SCRAPE_INTERVAL',
    type=Duration('metrics_scrape_interval'),
    default=15,
    help='Accepted for compatibility (1 to 60 seconds); every scrape reads live counters.',
)
@_option(
    '--metrics-address',
    env='METRICS_ADDRESS',
    default='127.0.0.1',
    help='Host address the metrics exporter binds to.',
)
@_option(
    '--metrics-port',
    env='METRICS_PORT',
    type=_int('metrics_port'),
    default=9090,
    help='Port the metrics exporter binds to (GET /metrics).',
)
@_option(
    '--reload/--no-reload',
    env='RELOAD',
    default=False,
    show_default='disabled',
    help='Restart the workers when Python files change (needs granian[reload]).',
)
@_option(
    '--reload-paths',
    env='RELOAD_PATHS',
    type=click.Path(exists=True, path_type=Path),
    multiple=True,
    show_default='working directory',
    help='Paths to watch for changes (repeatable).',
)
@_option(
    '--reload-ignore-dirs',
    env='RELOAD_IGNORE_DIRS',
    multiple=True,
    show_default='.git, __pycache__, .venv and watchfiles defaults',
    help='Directory names to ignore changes in (repeatable).',
)
@click.version_option(None, '--version', package_name='granian', prog_name='granian', message='%(prog)s %(version)s')
def cli(app: str, **options: Any) -> None:
    """Serve APP, an application target such as package.module:app."""
    ctx = click.get_current_context()
    # Not given: the default order of preference.
    options['response_compression_algorithms'] = options['response_compression_algorithms'] or None
    try:
        server = Granian(app, **options)
    except ConfigError as exc:
        for param in ctx.command.params:
            if param.name == exc.option:
                raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
        raise click.UsageError(str(exc), ctx=ctx) from None
    server.serve()


def entrypoint() -> None:
    """The `granian` console script."""
    cli(prog_name='granian')
