"""Logging for the server, on Granian's logger names and stream (stdout):

* `_granian`: the server itself (master and workers), as in Granian;
* `granian.access`: one line per finished request, when the access log is on;
* `granian.asgi`: ASGI application errors and the lifespan protocol;
* `granian.rsgi`: RSGI application errors (exceptions, missing responses, unreadable files);
* `granian.wsgi`: WSGI application errors (with their tracebacks) and the lines written to
  `wsgi.errors`.

The interface loggers sit under `granian`, which hands their records to `_granian`: in Granian
the native module logs application errors on `_granian`, so a configuration written for Granian
(handlers or a level on `_granian`) gets them too. A configuration that names `granian` and not
`_granian`, as granian's own docs once suggested, gets the server records on `granian` instead.

Server records are formatted `[LEVEL] message` (or as JSON lines with `json=True`); access lines
are written as they are, one per line. A user's `dictConfig` dictionary is applied on top, and
loggers it leaves out keep these handlers; the formatters (`generic`, `access`) and handlers
(`console`, `access`) of Granian's default configuration are there for it to refer to. Workers
are forked from the master and inherit this configuration as it stands when they start. See
docs/logging.md.
"""

from __future__ import annotations

import datetime
import json as _json
import logging
import sys
from typing import Any, TextIO

from .constants import LogLevels

__all__ = [
    'DEFAULT_ACCESSLOG_FMT',
    'DEFAULT_ACCESS_LOG_FORMAT',
    'LOGGING_CONFIG',
    'LOG_FORMAT',
    'JsonFormatter',
    'LogConfigError',
    'LogLevels',
    'access_logger',
    'asgi_logger',
    'configure_logging',
    'fatal_line',
    'interfaces_logger',
    'logger',
    'write_fatal',
]

LOG_FORMAT = '[%(levelname)s] %(message)s'
# Granian's default access log line; the atoms are listed in docs/logging.md.
DEFAULT_ACCESS_LOG_FORMAT = '[%(time)s] %(addr)s - "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).3f'
# Granian's name for it.
DEFAULT_ACCESSLOG_FMT = DEFAULT_ACCESS_LOG_FORMAT

# Granian's name for the server's logger (its native module logs there too).
logger = logging.getLogger('_granian')
access_logger = logging.getLogger('granian.access')
# The parent of the interface loggers (`granian.asgi`, `granian.rsgi`, `granian.wsgi`).
interfaces_logger = logging.getLogger('granian')
asgi_logger = logging.getLogger('granian.asgi')

# Granian's default configuration, minus its loggers, which `configure_logging` sets up itself:
# a `--log-config` file written for Granian may refer to these formatters and handlers.
GRANIAN_FORMATTERS: dict[str, Any] = {
    'generic': {'()': 'logging.Formatter', 'fmt': LOG_FORMAT, 'datefmt': '[%Y-%m-%d %H:%M:%S %z]'},
    'access': {'()': 'logging.Formatter', 'fmt': '%(message)s', 'datefmt': '[%Y-%m-%d %H:%M:%S %z]'},
}
GRANIAN_HANDLERS: dict[str, Any] = {
    'console': {'formatter': 'generic', 'class': 'logging.StreamHandler', 'stream': 'ext://sys.stdout'},
    'access': {'formatter': 'access', 'class': 'logging.StreamHandler', 'stream': 'ext://sys.stdout'},
}
# Granian's default configuration, for code that starts from it to build its own `log_dictconfig`.
LOGGING_CONFIG: dict[str, Any] = {
    'version': 1,
    'disable_existing_loggers': False,
    'formatters': GRANIAN_FORMATTERS,
    'handlers': GRANIAN_HANDLERS,
    'loggers': {
        '_granian': {'handlers': ['console'], 'level': 'INFO', 'propagate': False},
        'granian.access': {'handlers': ['access'], 'level': 'INFO', 'propagate': False},
    },
}

_LEVELS: dict[LogLevels, int] = {
    LogLevels.critical: logging.CRITICAL,
    LogLevels.error: logging.ERROR,
    LogLevels.warning: logging.WARNING,
    LogLevels.warn: logging.WARNING,
    LogLevels.info: logging.INFO,
    LogLevels.debug: logging.DEBUG,
    LogLevels.notset: logging.NOTSET,
}

# Above CRITICAL: nothing passes.
_SILENT = logging.CRITICAL + 1


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is when a record is emitted, not when the handler was made,
    so a replaced stdout (a test runner's capture, a daemonised process) still gets the lines.
    stdout is Granian's stream for both the server and the access log."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


class _Forward(logging.Handler):
    """Hands each record to another logger's handlers, as if it had been logged there (its level
    decides, its filters apply)."""

    def __init__(self, target: logging.Logger) -> None:
        super().__init__()
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        if self.target.isEnabledFor(record.levelno):
            self.target.handle(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: `time` (ISO 8601, local, milliseconds), `level`, `logger`,
    `message`, and `exc_info` (the formatted traceback) when the record carries one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            'time': datetime.datetime.fromtimestamp(record.created).astimezone().isoformat(timespec='milliseconds'),
            'level': record.levelname,
            'logger': record.name,
            'message': record.getMessage(),
        }
        if record.exc_info:
            data['exc_info'] = self.formatException(record.exc_info)
        elif record.exc_text:
            data['exc_info'] = record.exc_text
        if record.stack_info:
            data['stack_info'] = self.formatStack(record.stack_info)
        return _json.dumps(data, ensure_ascii=False)


class LogConfigError(ValueError):
    """The logging configuration could not be applied; the message says why."""


_handler: _StdoutHandler | None = None
_access_handler: _StdoutHandler | None = None
_to_server = _Forward(logger)
# Whether fatal errors are written as JSON records (`--log-json`).
_json_errors = False


def configure_logging(
    level: LogLevels | str = LogLevels.info,
    *,
    enabled: bool = True,
    config: dict[str, Any] | None = None,
    json: bool = False,
    access_json: bool = False,
) -> None:
    """Attach the stdout handlers to `_granian` and `granian.access` (once, however often this is
    called) and hand the interface loggers' records to `_granian`, apply `level`, then the
    `dictConfig` dictionary `config` if given.

    `json` formats server records as JSON lines. Access lines are written as they are (they are
    JSON already with `access_json`); with `json` alone each becomes the message of a JSON record.
    The access log keeps INFO whatever `level` is: it is asked for on its own, with `--access-log`.
    Raises `LogConfigError` when `config` is refused by `dictConfig`.
    """
    global _handler, _access_handler, _json_errors
    _json_errors = json
    if _handler is None:
        _handler = _StdoutHandler()
    if _access_handler is None:
        _access_handler = _StdoutHandler()
    # As the defaults stand before a configuration is applied (again).
    logger.handlers[:] = [_handler]
    access_logger.handlers[:] = [_access_handler]
    interfaces_logger.handlers[:] = [_to_server]
    _handler.setFormatter(JsonFormatter() if json else logging.Formatter(LOG_FORMAT))
    _access_handler.setFormatter(JsonFormatter() if json and not access_json else logging.Formatter('%(message)s'))
    # The records are written here once; an application's root handlers must not print them again.
    for each in (logger, access_logger, interfaces_logger):
        each.propagate = False
    logger.setLevel(_LEVELS[LogLevels(level)])
    interfaces_logger.setLevel(_LEVELS[LogLevels(level)])
    access_logger.setLevel(logging.INFO)
    if config is not None:
        _apply_dictconfig(config)
    if not enabled:
        for each in (logger, access_logger, interfaces_logger):
            each.setLevel(_SILENT)


def access_log_fd() -> int | None:
    """The descriptor access lines may be written to as they are, bypassing `logging`: stdout,
    while `granian.access` is as `configure_logging` left it (its one handler, on stdout, writing
    the bare message, no filters). `None` once a configuration changed any of that."""
    handler = _access_handler
    if (
        handler is None
        or access_logger.handlers != [handler]
        or access_logger.propagate
        or access_logger.filters
        or handler.filters
        or handler.level > logging.INFO
        or not access_logger.isEnabledFor(logging.INFO)
    ):
        return None
    formatter = handler.formatter
    if type(formatter) is not logging.Formatter or formatter._fmt != '%(message)s':
        return None
    try:
        sys.stdout.flush()
        return sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _apply_dictconfig(config: dict[str, Any]) -> None:
    # Loggers the configuration does not name keep working: nothing is disabled unless asked.
    # Granian's formatters and handlers are there to refer to, unless the configuration replaces them.
    merged = {
        'version': 1,
        'disable_existing_loggers': False,
        **config,
        'formatters': {**GRANIAN_FORMATTERS, **(config.get('formatters') or {})},
        'handlers': {**GRANIAN_HANDLERS, **(config.get('handlers') or {})},
    }
    # Imported for a configuration only: with logging.handlers, pickle and socketserver it costs
    # every process ~1.3 MiB.
    import logging.config

    try:
        logging.config.dictConfig(merged)
    except (ValueError, TypeError, AttributeError, ImportError) as exc:
        cause = f': {exc.__cause__}' if exc.__cause__ is not None else ''
        raise LogConfigError(f'log config: {exc}{cause}') from None
    named = (config.get('loggers') or {}).keys()
    if 'granian' in named and '_granian' not in named and _to_server not in interfaces_logger.handlers:
        # A configuration written for granian's former server logger: it gets the server's records.
        logger.handlers[:] = [_Forward(interfaces_logger)]


def fatal_line(message: str, details: str | None = None) -> str:
    """What reports a fatal error, on stderr: `details` (a traceback) then `Error: message`; with
    `--log-json`, one JSON record of `_granian` at the CRITICAL level, `details` as `exc_info`."""
    if not _json_errors:
        return (details or '') + f'Error: {message}\n'
    record = logger.makeRecord(logger.name, logging.CRITICAL, '', 0, message, None, None)
    record.exc_text = details.rstrip('\n') if details else None
    return JsonFormatter().format(record) + '\n'


def write_fatal(message: str, details: str | None = None) -> None:
    """Write `fatal_line(message, details)` to stderr, whatever the logging configuration."""
    sys.stderr.write(fatal_line(message, details))
    sys.stderr.flush()
