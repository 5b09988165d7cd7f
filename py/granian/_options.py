"""Every option of a granian server, declared once.

Each option is one field of `Options`, made by `option(...)`: its name (the `Granian` keyword),
its default, its section, its kind (type, bounds, how a value is checked), its flag and
environment variables, and one help line. Everything else follows from that row:

* `granian.cli` builds the click options from it (flags, types, defaults, env vars, help);
* `Granian(...)` checks its keywords with `validate`; its explicit signature, kept for IDEs, is
  checked against the table by a test;
* `docs/options.md` is generated from it (`python -m granian._options > docs/options.md`), and a
  test checks the file is current;
* the native server config reads the fields it needs by name (`py/src/config.rs`).

Validation happens here, once. A validated `Options` holds resolved values: `backpressure` and
`blocking_threads` are never `None`, `runtime_mode` is never `auto`, paths are absolute, a lone
static mount has its route.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

from .constants import HTTPModes, Interfaces, LogLevels, Loops, RuntimeModes, SSLProtocols, StrEnum, TaskImpl
from .errors import ConfigurationError
from .http import HTTP1Settings, HTTP2Settings
from .log import DEFAULT_ACCESS_LOG_FORMAT

__all__ = [
    'BOUNDS',
    'COMPRESSION_ALGORITHMS',
    'DEFAULT_PROXY_HEADERS',
    'OPTIONS',
    'PROXY_HEADERS',
    'SHUTDOWN_MARGIN',
    'Bound',
    'ConfigError',
    'Option',
    'Options',
    'Section',
    'default_blocking_threads',
    'default_max_connections',
    'markdown',
    'validate',
]

# Added to `graceful_timeout` when waiting for stopping workers: after draining requests they
# still run the lifespan shutdown and close their loop.
SHUTDOWN_MARGIN = 5.0

# The response compression algorithms, in the default order of preference.
COMPRESSION_ALGORITHMS = ('br', 'zstd', 'gzip')

# The proxy headers --forwarded-headers can name, and those it names by default (as uvicorn reads).
PROXY_HEADERS = (
    'forwarded',
    'x-forwarded-for',
    'x-forwarded-proto',
    'x-forwarded-host',
    'x-forwarded-port',
    'x-forwarded-prefix',
)
DEFAULT_PROXY_HEADERS = ('x-forwarded-for', 'x-forwarded-proto')

# Upper bounds of the options that have no natural one: far beyond any deployment, so that a
# mistyped value (an extra digit, milliseconds given as seconds) is refused at startup instead
# of overflowing a timer or an allocation on the first request.
HOUR = 3600
HOUR_MS = HOUR * 1000
DAY = 24 * HOUR
YEAR = 365 * DAY
# Processes and threads of one server.
MAX_THREADS = 4096
# Connections, requests and queue lengths of one worker.
MAX_QUEUE = 2**20
# Requests counted over a worker's life.
MAX_COUNT = 10**12
# A request head, and so an HTTP/1 read buffer: 64 MiB.
MAX_HEAD = 2**26
# Descriptor numbers are C ints.
MAX_FD = 2**31 - 1


class ConfigError(ConfigurationError, ValueError):
    """An invalid option; `option` is the keyword of `Granian` it concerns. A `ValueError`, and
    Granian's `granian.errors.ConfigurationError`."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


class Section(StrEnum):
    """Where an option is listed in `granian --help` and docs/options.md, in this order."""

    SERVER = 'Server'
    WORKERS = 'Workers'
    HTTP1 = 'HTTP/1'
    HTTP2 = 'HTTP/2'
    HTTP3 = 'HTTP/3'
    TLS = 'TLS'
    WEBSOCKETS = 'Websockets'
    LIMITS = 'Limits'
    RESPONSES = 'Responses'
    STATIC = 'Static files'
    PROXY = 'Proxy'
    HEALTH = 'Health checks'
    LOGGING = 'Logging'
    METRICS = 'Metrics'
    RELOAD = 'Reload'


# -- kinds: how a value is checked ------------------------------------------------------------------


class Bound(NamedTuple):
    """Inclusive limits of a numeric option (`min_open`: the minimum itself is excluded)."""

    min: float | None
    max: float | None = None
    min_open: bool = False

    def describe(self) -> str:
        if self.min is not None and self.max is not None and self.min_open:
            return f'> {_num(self.min)} and <= {_num(self.max)}'
        if self.min is not None and self.max is not None:
            return f'between {_num(self.min)} and {_num(self.max)}'
        if self.min is not None:
            return f'{">" if self.min_open else ">="} {_num(self.min)}'
        return f'<= {_num(self.max)}'

    def admits(self, value: float) -> bool:
        if self.min is not None and (value <= self.min if self.min_open else value < self.min):
            return False
        return self.max is None or value <= self.max


def _num(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


class Kind:
    """How the values of an option are checked; `metavar` names them in `--help`."""

    metavar = 'TEXT'
    # Several values: the flag repeated, the environment variable split on spaces (on `:` for paths).
    multiple = False

    def check(self, name: str, value: Any) -> Any:
        return value

    def values(self) -> str:
        """The accepted values, for docs/options.md."""
        return 'text'


@dataclass(frozen=True)
class Flag(Kind):
    """True or False: `--name/--no-name` on the command line."""

    metavar = ''

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(name, f'{name} must be True or False (got {value!r})')
        return value

    def values(self) -> str:
        return 'flag'


@dataclass(frozen=True)
class Int(Kind):
    """An integer within `bound`; `unit` says what it counts (`ms`, `bytes`, `MiB`...)."""

    bound: Bound
    unit: str = ''

    @property
    def metavar(self) -> str:  # type: ignore[override]
        return {'ms': 'MS', 'bytes': 'BYTES', 'MiB': 'MIB', 's': 'SECONDS'}.get(self.unit, 'INTEGER')

    def check(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(name, f'{name} must be an integer (got {value!r})')
        if not self.bound.admits(value):
            raise ConfigError(name, f'{name} must be {self.bound.describe()} (got {value})')
        return value

    def values(self) -> str:
        text = self.bound.describe()
        return f'{text} {self.unit}'.strip()


@dataclass(frozen=True)
class Octal(Int):
    """File permission bits, written in octal on the command line (`660`, `0o660`)."""

    @property
    def metavar(self) -> str:  # type: ignore[override]
        return 'OCTAL'

    def values(self) -> str:
        return f'octal, {_octal(self.bound.min)} to {_octal(self.bound.max)}'


def _octal(value: float | None) -> str:
    return '?' if value is None else f'{int(value):o}'


@dataclass(frozen=True)
class Seconds(Kind):
    """A duration in seconds (a float; the CLI also takes units: `1h30m`, `90s`, `1d`)."""

    bound: Bound
    metavar = 'DURATION'

    def check(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(name, f'{name} must be a number of seconds (got {value!r})')
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ConfigError(name, f'{name} must be a finite number of seconds (got {value!r})')
        if not self.bound.admits(seconds):
            raise ConfigError(name, f'{name} must be {self.bound.describe()} seconds (got {value})')
        return seconds

    def values(self) -> str:
        return f'seconds {self.bound.describe()}'


@dataclass(frozen=True)
class Choice(Kind):
    """One member of a string enum, given as the member or its value (any case)."""

    enum: type[StrEnum]

    @property
    def metavar(self) -> str:  # type: ignore[override]
        return '[' + '|'.join(str(member.value) for member in self.enum) + ']'

    def check(self, name: str, value: Any) -> StrEnum:
        if isinstance(value, self.enum):
            return value
        if isinstance(value, str):
            for member in self.enum:
                if member.value == value.lower():
                    return member
        raise ConfigError(name, f'{name} must be one of {self.values()} (got {value!r})')

    def values(self) -> str:
        return ', '.join(str(member.value) for member in self.enum)


@dataclass(frozen=True)
class Text(Kind):
    """A non-empty string, stripped of surrounding spaces."""

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(name, f'{name} must be a non-empty string (got {value!r})')
        return value.strip()


@dataclass(frozen=True)
class AnyText(Kind):
    """Any string (a password, a format)."""

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ConfigError(name, f'{name} must be a string (got {value!r})')
        return value


@dataclass(frozen=True)
class File(Kind):
    """An existing file, made absolute."""

    metavar = 'FILE'

    def check(self, name: str, value: Any) -> Path:
        if not isinstance(value, str | os.PathLike):
            raise ConfigError(name, f'{name} must be a path (got {value!r})')
        path = Path(value).resolve()
        if not path.is_file():
            raise ConfigError(name, f"{name}: '{value}' is not a file")
        return path

    def values(self) -> str:
        return 'an existing file'


@dataclass(frozen=True)
class Directory(Kind):
    """An existing directory, made absolute."""

    metavar = 'DIRECTORY'

    def check(self, name: str, value: Any) -> Path:
        if not isinstance(value, str | os.PathLike):
            raise ConfigError(name, f'{name} must be a path (got {value!r})')
        path = Path(value).resolve()
        if not path.is_dir():
            raise ConfigError(name, f"{name}: '{value}' is not a directory")
        return path

    def values(self) -> str:
        return 'an existing directory'


@dataclass(frozen=True)
class NewFile(Kind):
    """A file the server creates, made absolute; `parent`: its directory must exist."""

    parent: bool = False
    metavar = 'PATH'

    def check(self, name: str, value: Any) -> Path:
        if not isinstance(value, str | os.PathLike):
            raise ConfigError(name, f'{name} must be a path (got {value!r})')
        path = Path(value).absolute()
        if self.parent and not path.parent.is_dir():
            raise ConfigError(name, f"{name}: '{path.parent}' is not a directory")
        return path

    def values(self) -> str:
        return 'a path'


@dataclass(frozen=True)
class Paths(Kind):
    """Paths made absolute; the flag repeats. They must exist (be directories with `directories`,
    files with `files`) unless `exist` is False."""

    directories: bool = False
    files: bool = False
    exist: bool = True
    multiple = True

    @property
    def metavar(self) -> str:  # type: ignore[override]
        return 'DIRECTORY' if self.directories else 'FILE' if self.files else 'PATH'

    def check(self, name: str, value: Any) -> tuple[Path, ...]:
        if value is None:
            return ()
        items = (value,) if isinstance(value, str | os.PathLike) else tuple(value)
        paths = []
        for item in items:
            if not isinstance(item, str | os.PathLike):
                raise ConfigError(name, f'{name} must hold paths (got {item!r})')
            path = Path(item).resolve()
            if self.exist and not path.exists():
                raise ConfigError(name, f"{name}: '{item}' does not exist")
            if self.exist and self.directories and not path.is_dir():
                raise ConfigError(name, f"{name}: '{path}' is not a directory")
            if self.exist and self.files and not path.is_file():
                raise ConfigError(name, f"{name}: '{path}' is not a file")
            paths.append(path)
        return tuple(paths)

    def values(self) -> str:
        if not self.exist:
            return 'paths'
        return 'existing directories' if self.directories else 'existing files' if self.files else 'existing paths'


@dataclass(frozen=True)
class Strings(Kind):
    """Non-empty strings; the flag repeats."""

    multiple = True

    def check(self, name: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        items = (value,) if isinstance(value, str) else tuple(value)
        for item in items:
            if not isinstance(item, str) or not item:
                raise ConfigError(name, f'{name} must hold non-empty strings (got {item!r})')
        return items

    def values(self) -> str:
        return 'strings'


@dataclass(frozen=True)
class Patterns(Strings):
    """Regular expressions (Python's `re`); the flag repeats."""

    metavar = 'REGEX'

    def check(self, name: str, value: Any) -> tuple[str, ...]:
        items = super().check(name, value)
        for item in items:
            try:
                re.compile(item)
            except re.error as exc:
                raise ConfigError(name, f'{name}: {item!r} is not a regular expression ({exc})') from None
        return items

    def values(self) -> str:
        return 'regular expressions'


@dataclass(frozen=True)
class Choices(Kind):
    """Distinct values among `choices`, in order of preference; the flag repeats."""

    choices: tuple[str, ...]
    multiple = True

    @property
    def metavar(self) -> str:  # type: ignore[override]
        return '[' + '|'.join(self.choices) + ']'

    def check(self, name: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return self.choices
        items = value.replace(',', ' ').split() if isinstance(value, str) else list(value)
        chosen: list[str] = []
        for item in items:
            choice = item.strip().lower() if isinstance(item, str) else item
            if choice not in self.choices:
                raise ConfigError(name, f'{name}: {item!r} is not one of {", ".join(self.choices)}')
            if choice in chosen:
                raise ConfigError(name, f'{name}: {item!r} given twice')
            chosen.append(choice)
        if not chosen:
            raise ConfigError(name, f'{name} must name at least one of {", ".join(self.choices)}')
        return tuple(chosen)

    def values(self) -> str:
        return ', '.join(self.choices)


@dataclass(frozen=True)
class Names(Choices):
    """Distinct names among `choices`, in any case; at least one. Their order says nothing: they
    are kept in the order of `choices`. The flag repeats."""

    def check(self, name: str, value: Any) -> tuple[str, ...]:
        if value is None:
            raise ConfigError(name, f'{name} must name at least one of {", ".join(self.choices)}')
        chosen = super().check(name, value)
        return tuple(choice for choice in self.choices if choice in chosen)


@dataclass(frozen=True)
class Custom(Kind):
    """A value with a check of its own; `metavar` and `described` say what it takes."""

    checker: Callable[[str, Any], Any]
    described: str = 'text'
    metavar: str = 'TEXT'  # type: ignore[misc]

    def check(self, name: str, value: Any) -> Any:
        return self.checker(name, value)

    def values(self) -> str:
        return self.described


def _server_header(name: str, value: Any) -> str | None:
    if value is None or value is False:
        return None
    if not isinstance(value, str):
        raise ConfigError(name, f'{name} must be a string, None or False (got {value!r})')
    text = value.strip()
    if any(not (' ' <= char <= '~') for char in text):
        raise ConfigError(name, f'{name} must be printable ASCII (got {value!r})')
    return text or None


def _forwarded_allow_ips(name: str, value: Any) -> str:
    """The trusted list as one comma-separated string: IP addresses, networks written
    `address/length` without host bits, and `*`."""
    if isinstance(value, str):
        items = value.split(',')
    elif isinstance(value, Iterable):
        items = [item for entry in value for item in str(entry).split(',')]
    else:
        raise ConfigError(name, f'{name} must be a string or a list (got {value!r})')
    entries = []
    for entry in (item.strip() for item in items):
        if not entry:
            continue
        if entry != '*':
            address, _, length = entry.partition('/')
            try:
                if '%' in address or (length and not length.isdigit()):
                    raise ValueError('use address/length')
                if length:
                    ipaddress.ip_network(entry, strict=True)
                else:
                    ipaddress.ip_address(entry)
            except ValueError as exc:
                raise ConfigError(
                    name,
                    f"{name}: {entry!r} is not an IP address, a network (such as 10.0.0.0/8) or '*' ({exc})",
                ) from None
        entries.append(entry)
    return ','.join(entries)


def _url_path_prefix(name: str, value: Any) -> str | None:
    """`None` for no prefix (`None`, '' or '/'); else the prefix without trailing slashes."""
    if value is None or value == '':
        return None
    if not isinstance(value, str) or not value.startswith('/') or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(name, f"{name} must start with '/' and hold no control characters (got {value!r})")
    return value.rstrip('/') or None


def _probe_path(name: str, value: Any) -> str | None:
    # Compared with the request path as received (not percent-decoded), query string apart.
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.startswith('/')
        or any(not ('!' <= char <= '~') or char in '?#%' for char in value)
    ):
        raise ConfigError(
            name, f"{name} must start with '/' and hold only visible ASCII other than '?', '#' and '%' (got {value!r})"
        )
    return value


def _ready_check(name: str, value: Any) -> str | Callable[[], Any] | None:
    # A `module:callable` string is imported by each worker, as the application is.
    if value is None or callable(value):
        return value
    if not isinstance(value, str) or value.count(':') != 1:
        raise ConfigError(name, f"{name} must be 'module:callable' or a callable (got {value!r})")
    module, _, attribute = value.strip().partition(':')
    if not module or not attribute or any(not part.isidentifier() for part in attribute.split('.')):
        raise ConfigError(name, f"{name} must be 'module:callable' or a callable (got {value!r})")
    return value.strip()


def _relative_file_name(name: str, value: Any) -> str | None:
    if value is None:
        return None
    plain = isinstance(value, str) and value and '\\' not in value and '\0' not in value
    if not plain or value.startswith('/') or any(part in ('', '.', '..') for part in value.split('/')):
        raise ConfigError(name, f'{name} must be a relative file name without ".." (got {value!r})')
    return value


def _access_log_format(name: str, value: Any) -> str:
    # Compiled in `_check_access_log`, once it is known whether the access log is on.
    if value is None:
        return DEFAULT_ACCESS_LOG_FORMAT
    if not isinstance(value, str):
        raise ConfigError(name, f'{name} must be a string (got {value!r})')
    return value


def _dictconfig(name: str, value: Any) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise ConfigError(name, f'{name} must be a dictConfig dictionary (got {value!r})')
    return value


def _settings(kind: type) -> Callable[[str, Any], Any]:
    def check(name: str, value: Any) -> Any:
        if value is not None and not isinstance(value, kind):
            raise ConfigError(name, f'{name} must be a granian.http.{kind.__name__} (got {value!r})')
        return value

    return check


def _reload_filter(name: str, value: Any) -> type | None:
    # A class, as Granian takes it: the server derives a class from it with the ignored
    # directories, patterns and paths added, and makes the filter from that (see `_supervisor`).
    if value is not None and not isinstance(value, type):
        raise ConfigError(
            name, f'{name} must be a watchfiles filter class such as watchfiles.DefaultFilter (got {value!r})'
        )
    return value


# Which option each field of Granian's settings objects sets.
HTTP1_SETTINGS = {
    'header_read_timeout': 'http1_header_read_timeout',
    'keep_alive': 'http1_keep_alive',
    'max_buffer_size': 'http1_buffer_size',
    'pipeline_flush': 'http1_pipeline_flush',
}
HTTP2_SETTINGS = {item.name: f'http2_{item.name}' for item in dataclasses.fields(HTTP2Settings)}


# -- the table -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """What the table says of one option besides its name and default."""

    section: Section
    help: str
    kind: Kind
    # The command-line flag ('': `--` and the keyword with dashes). A `Flag` also gets `--no-...`.
    flag: str
    # Environment variables read by the flag, first match wins.
    env: tuple[str, ...]
    # How the default reads in `--help` and the docs, where the value alone would not say.
    default_text: str | None
    # A second flag that sets the option to None (`--no-server-header`), and its help line.
    off_flag: str | None
    off_help: str
    # Whether the native server config reads it (see py/src/config.rs).
    native: bool
    # The line the README and docs/options.md show, when it says more than `help`.
    docs: str
    # False for a `Granian` keyword without a flag nor an environment variable (an object, a class).
    cli: bool


def option(
    default: Any,
    section: Section,
    help: str,
    kind: Kind | None = None,
    *,
    flag: str | None = None,
    env: str | tuple[str, ...] | None = None,
    default_text: str | None = None,
    off_flag: str | None = None,
    off_help: str = '',
    native: bool = False,
    docs: str = '',
    cli: bool = True,
) -> Any:
    """One row of the table: a field of `Options` with its `Spec` in the metadata.

    `kind` defaults to `Flag` for a boolean default. `flag` defaults to `--` and the keyword with
    dashes; `env` to `GRANIAN_` and the flag in capitals (names given without the prefix).
    `cli=False` makes a keyword of `Granian` only: no flag, no environment variable.
    """
    if kind is None:
        if not isinstance(default, bool):
            raise TypeError(f'an option defaulting to {default!r} needs a kind')
        kind = Flag()
    envs = (env,) if isinstance(env, str) else (env or ())
    spec = Spec(
        section=section,
        help=help,
        kind=kind,
        flag=flag or '',
        env=tuple(f'GRANIAN_{item}' for item in envs),
        default_text=default_text,
        off_flag=off_flag,
        off_help=off_help,
        native=native,
        docs=docs or help,
        cli=cli,
    )
    return field(default=default, metadata={'spec': spec})


S = Section


@dataclass(frozen=True, kw_only=True)
class Options:
    """Every option of a `Granian` server, validated, with defaults resolved (see the module doc)."""

    target: str

    # Server
    address: str = option(
        '127.0.0.1',
        S.SERVER,
        'Host address to bind to (IPv6 addresses work).',
        Text(),
        flag='--host',
        docs='Host address to bind to; IPv6 addresses work (`--host ::` for all, `--host ::1`).',
    )
    port: int = option(8000, S.SERVER, 'Port to bind to (0 picks a free one).', Int(Bound(0, 65535)))
    uds: Path | None = option(
        None,
        S.SERVER,
        'Serve on a Unix domain socket at this path instead of HOST:PORT (removed on exit).',
        NewFile(),
        default_text='TCP on HOST:PORT',
        docs='Serve on a Unix socket at this path instead of HOST:PORT; a stale socket file there is replaced (any other file is an error), and the file is removed on exit.',
    )
    uds_permissions: int | None = option(
        None,
        S.SERVER,
        'Permission bits of the Unix socket file, in octal (660).',
        Octal(Bound(0, 0o777)),
        default_text='as the umask leaves them',
    )
    fd: int | None = option(
        None,
        S.SERVER,
        'Serve on an inherited listening socket (TCP or Unix) with this file descriptor, instead of HOST:PORT; '
        'without --uds and --fd, a socket passed by systemd (LISTEN_FDS) is used.',
        Int(Bound(0, MAX_FD)),
        default_text='none',
    )
    interface: Interfaces = option(
        Interfaces.RSGI,
        S.SERVER,
        'Application interface: asginl is ASGI without the lifespan protocol.',
        Choice(Interfaces),
        docs='`asgi`, `asginl` (ASGI without lifespan), `rsgi`, `wsgi`.',
    )
    http: HTTPModes = option(
        HTTPModes.auto,
        S.SERVER,
        'HTTP versions served: auto serves HTTP/1.1 and HTTP/2 (prior knowledge, Upgrade: h2c, ALPN) on one port.',
        Choice(HTTPModes),
        native=True,
        docs='`auto` (HTTP/1.1, h2c prior knowledge and `Upgrade: h2c` on one port; ALPN over TLS), `1`, `2` (see HTTP/2).',
    )
    factory: bool = option(False, S.SERVER, 'Call APP with no arguments to build the application.')
    working_dir: Path | None = option(
        None,
        S.SERVER,
        'Directory to change to before loading APP (it also goes first on sys.path).',
        Directory(),
        default_text='current directory',
    )
    env_files: tuple[Path, ...] = option(
        (),
        S.SERVER,
        'KEY=VALUE files loaded into the environment before APP is imported (repeatable; variables already set win).',
        Paths(),
        default_text='none',
        docs='`KEY=VALUE` files (dotenv format: `#` comments, `export`, quotes) loaded by the main process before anything is imported; a later file wins over an earlier one, and the environment wins over both.',
    )
    pid_file: Path | None = option(
        None,
        S.SERVER,
        'File to write the main process PID to (removed on exit); one naming a running process stops the server.',
        NewFile(parent=True),
        default_text='none',
        docs='File the main process writes its PID to, removed on exit. If it already names a running process the server refuses to start (exit code 1, `PidFileError` from `Granian.serve()`); a stale one is replaced, and a file holding anything else is refused.',
    )
    process_name: str | None = option(
        None,
        S.SERVER,
        'Name of the main process (workers get " [worker-N]" appended); needs granian[pname] for the full title, '
        'otherwise the kernel name (15 bytes) is set.',
        Text(),
        default_text='none',
        docs="Title of the main process; workers get ` [worker-N]` appended. With `granian[pname]` (setproctitle) it is the title `ps` shows, otherwise the kernel's name of the process (15 bytes, as `top` and `ps -o comm` show it).",
    )

    # Workers
    workers: int = option(
        1,
        S.WORKERS,
        'Worker processes serving the application, each forked by the main process.',
        Int(Bound(1, MAX_THREADS)),
    )
    runtime_threads: int = option(1, S.WORKERS, 'Rust I/O threads per worker.', Int(Bound(1, MAX_THREADS)), native=True)
    runtime_blocking_threads: int | None = option(
        None,
        S.WORKERS,
        'Most threads per worker the Rust runtime starts for blocking I/O (file reads).',
        Int(Bound(1, MAX_THREADS)),
        default_text='512',
        native=True,
        docs='Most threads per worker the Rust runtime starts for blocking I/O, such as reading static, RSGI and ASGI '
        "`pathsend` files (tokio's default of 512 when not given, as Granian); with `--runtime-mode st` shared out "
        'among the runtimes, at least one each. Idle ones exit after 10 seconds.',
    )
    runtime_mode: RuntimeModes = option(
        RuntimeModes.auto,
        S.WORKERS,
        'Rust runtime of a worker: mt, one runtime over --runtime-threads threads; st, one single-threaded '
        'runtime per thread, each accepting connections itself; auto picks.',
        Choice(RuntimeModes),
        native=True,
        docs='`mt`: one multi-threaded Rust runtime per worker over `--runtime-threads` threads, which share every '
        'connection (work stealing); `st`: `--runtime-threads` single-threaded runtimes, each on a thread of its own '
        'accepting from the shared socket, a connection staying on the thread that accepted it; `auto`: `st` for '
        "`mt`, which serves faster here in every case measured (Granian's auto picks `st` for RSGI on one thread).",
    )
    blocking_threads: int | None = option(
        None,
        S.WORKERS,
        'Python threads per worker running a WSGI application (1 with other interfaces).',
        Int(Bound(1, MAX_THREADS)),
        default_text='WSGI: 4 per CPU core, at most 32 and at most --backpressure; others: 1',
        docs='Most Python threads per worker running a WSGI application (1 with other interfaces); one runs from the '
        'start, the others start when a request finds none free. A thread waiting on its client (a request body, a '
        'slow reader) does not count: another is started for the requests queued meanwhile, up to `--backpressure` '
        'threads.',
    )
    blocking_threads_idle_timeout: float = option(
        30.0,
        S.WORKERS,
        'Time an idle blocking thread is kept before it exits.',
        Seconds(Bound(5, 600)),
        native=True,
        docs='Time a WSGI thread beyond the first waits for a request before it exits; threads start again on demand, '
        'up to `--blocking-threads`.',
    )
    loop: Loops = option(
        Loops.auto,
        S.WORKERS,
        'Event loop: auto picks rloop, then uvloop, when installed, else asyncio.',
        Choice(Loops),
        docs='`auto` (rloop, then uvloop, when installed; else asyncio), `asyncio`, `rloop`, `uvloop`, `winloop` (Windows only); see `granian.loops`.',
    )
    task_impl: TaskImpl = option(
        TaskImpl.asyncio,
        S.WORKERS,
        'Accepted as Granian spells it: application calls always run as asyncio tasks.',
        Choice(TaskImpl),
        docs='Changes nothing: every application call runs as an asyncio task on the loop; `rust` is accepted as Granian spells it.',
    )
    backlog: int = option(
        1024,
        S.WORKERS,
        'Length of the listen queue of connections not yet accepted.',
        Int(Bound(1, MAX_QUEUE)),
        docs='Listen queue length (for sockets the server binds itself).',
    )
    backpressure: int | None = option(
        None,
        S.WORKERS,
        'Requests each worker runs at once; more wait for a free slot.',
        Int(Bound(1, MAX_QUEUE)),
        default_text='backlog / workers',
        native=True,
    )
    graceful_timeout: float = option(
        30.0, S.WORKERS, 'Time in-flight requests get to finish when a worker stops.', Seconds(Bound(0, DAY))
    )
    workers_kill_timeout: float | None = option(
        None,
        S.WORKERS,
        'Time to wait for a stopping worker before killing it.',
        Seconds(Bound(0, DAY, min_open=True)),
        default_text='graceful timeout + 5s',
    )
    shutdown_delay: float = option(
        0.0,
        S.WORKERS,
        'Time the server keeps serving after SIGTERM, with --ready-path answering 503, before it drains.',
        Seconds(Bound(0, 3600)),
        docs='Time the server keeps serving after SIGTERM, with `--ready-path` answering 503, so that load balancers and Kubernetes stop routing to it before it stops accepting; the drain (`--graceful-timeout`) and the kill timeout follow. A second SIGTERM or SIGINT ends the delay (see [deploying](docs/deploying.md)).',
    )
    respawn_failed_workers: bool = option(
        False,
        S.WORKERS,
        'Replace a worker that exits unexpectedly instead of stopping the server; the server still exits 1 when '
        'workers keep failing (more than 5 failures within 60s).',
        docs='Replace a worker that dies instead of stopping the server; the server still exits 1 when workers keep failing (more than 5 failures within 60s). See Processes and signals.',
    )
    respawn_interval: float = option(
        3.5, S.WORKERS, 'Time to wait before respawning a failed worker.', Seconds(Bound(0, HOUR))
    )
    workers_lifetime: float | None = option(
        None,
        S.WORKERS,
        'Time after which a worker is gracefully replaced by a new one.',
        Seconds(Bound(0, YEAR, min_open=True)),
        default_text='unlimited',
    )
    workers_lifetime_jitter: float = option(
        0.0,
        S.WORKERS,
        "Most extra time randomly added to each worker's lifetime, so workers are not all replaced at once.",
        Seconds(Bound(0, YEAR)),
    )
    workers_max_rss: int | None = option(
        None,
        S.WORKERS,
        'Resident memory above which a worker is gracefully replaced (Linux).',
        Int(Bound(1, 2**20), 'MiB'),
        default_text='unlimited',
        docs='Resident memory above which a worker is gracefully replaced, checked every `--rss-sample-interval` (Linux).',
    )
    rss_sample_interval: float = option(
        30.0,
        S.WORKERS,
        "Time between two checks of the workers' memory against --workers-max-rss.",
        Seconds(Bound(0, HOUR, min_open=True)),
    )
    rss_samples: int = option(
        1,
        S.WORKERS,
        'Consecutive checks a worker must be over --workers-max-rss before it is replaced.',
        Int(Bound(1, 10_000)),
    )
    max_requests: int | None = option(
        None,
        S.WORKERS,
        'Requests after which a worker is gracefully replaced by a new one.',
        Int(Bound(1, MAX_COUNT)),
        default_text='unlimited',
    )
    max_requests_jitter: int = option(
        0, S.WORKERS, "Most extra requests randomly added to each worker's --max-requests.", Int(Bound(0, MAX_COUNT))
    )

    # HTTP/1
    http1_buffer_size: int = option(
        417792,
        S.HTTP1,
        'Largest request head and read buffer of an HTTP/1 connection.',
        Int(Bound(8192, MAX_HEAD), 'bytes'),
        native=True,
        docs='HTTP/1.1 read buffer, and so the largest head without `--max-header-size` (`431` beyond).',
    )
    http1_header_read_timeout: int = option(
        30000,
        S.HTTP1,
        'Time a client gets to send a request head (and to finish a TLS handshake, or to open HTTP/2).',
        Int(Bound(1, 60_000), 'ms'),
        native=True,
        docs="Time to receive a request head once its first byte arrived (for a connection's first request: from the accept); also bounds the TLS handshake, the HTTP/2 client preface and SETTINGS frame (from the switch to HTTP/2), and the wait for an HTTP/3 request's header section once its stream opened. nginx: `client_header_timeout` 60 s, which bounds the same.",
    )
    http1_keep_alive: bool = option(True, S.HTTP1, 'Keep HTTP/1 connections open for further requests.', native=True)
    http1_keep_alive_timeout: int = option(
        30000,
        S.HTTP1,
        'Time an idle kept-alive HTTP/1 connection waits for its next request; 0 waits forever.',
        Int(Bound(0, 3_600_000), 'ms'),
        native=True,
        docs="Time an idle kept-alive HTTP/1.1 connection waits for the first byte of its next request before it is closed; `0` waits for ever. Behind a load balancer, set it above the balancer's idle timeout (60 s on AWS ALB) so the balancer closes first.",
    )
    http1_pipeline_flush: bool = option(
        False,
        S.HTTP1,
        'Gather the responses of pipelined requests into fewer writes. Streamed responses then lose backpressure: '
        'a slow client makes the server buffer the whole body.',
        native=True,
    )
    http1_settings: HTTP1Settings | None = option(
        None,
        S.HTTP1,
        'HTTP/1 options as one granian.http.HTTP1Settings, whose fields replace the http1_* keywords.',
        Custom(_settings(HTTP1Settings), 'a granian.http.HTTP1Settings'),
        default_text='none',
        cli=False,
        docs="Granian's grouping: every field of the `HTTP1Settings` replaces its keyword (`max_buffer_size` is `http1_buffer_size`).",
    )

    # HTTP/2
    http2_adaptive_window: bool = option(
        False,
        S.HTTP2,
        'Size HTTP/2 flow-control windows from the measured bandwidth-delay product; it then replaces the two initial window sizes below.',
        native=True,
    )
    http2_idle_timeout: float = option(
        75.0,
        S.HTTP2,
        'Time an HTTP/2 connection without an open stream is kept before GOAWAY closes it; 0 keeps it for ever.',
        Seconds(Bound(0, HOUR)),
        native=True,
        docs='Time an HTTP/2 connection without an open stream stays open before GOAWAY closes it; `0` keeps it for ever. nginx: `keepalive_timeout` 75 s (HTTP/2 too, since 1.19.7); above the 60 s idle timeout of proxies and balancers in front (nginx upstream keep-alive, AWS ALB), so they close first.',
    )
    http2_initial_connection_window_size: int = option(
        1024 * 1024,
        S.HTTP2,
        'HTTP/2 connection-level flow-control window.',
        Int(Bound(1, 2**31 - 1), 'bytes'),
        native=True,
    )
    http2_initial_stream_window_size: int = option(
        1024 * 1024,
        S.HTTP2,
        'HTTP/2 stream-level flow-control window (SETTINGS_INITIAL_WINDOW_SIZE).',
        Int(Bound(1, 2**31 - 1), 'bytes'),
        native=True,
    )
    http2_keep_alive_interval: int | None = option(
        None,
        S.HTTP2,
        'Interval between HTTP/2 PING frames on a quiet connection.',
        Int(Bound(1, HOUR_MS), 'ms'),
        default_text='no pings',
        native=True,
    )
    http2_keep_alive_timeout: float = option(
        20.0,
        S.HTTP2,
        'Time a keep-alive PING gets to be answered before the connection closes.',
        Seconds(Bound(1, HOUR)),
        native=True,
    )
    http2_max_concurrent_streams: int = option(
        200,
        S.HTTP2,
        'Streams a client may have open at once on one HTTP/2 connection.',
        Int(Bound(1, 2**32 - 1)),
        native=True,
        docs='Streams a client may have open at once on one HTTP/2 connection; more are refused.',
    )
    http2_max_frame_size: int = option(
        16384,
        S.HTTP2,
        'Largest HTTP/2 frame payload accepted (RFC 9113 allows 16384 to 16777215).',
        Int(Bound(16384, 2**24 - 1), 'bytes'),
        native=True,
    )
    http2_max_headers_size: int = option(
        16 * 1024,
        S.HTTP2,
        'Size a decoded HTTP/2 header list must stay under (RFC 9113 counts 32 bytes per field); 431 otherwise.',
        Int(Bound(1, 2**32 - 1), 'bytes'),
        native=True,
        docs='Size a decoded HTTP/2 header list must stay under without `--max-header-size` (`431` at or beyond it, then the stream is reset); RFC 9113 counts 32 bytes per field on top of names and values.',
    )
    http2_max_receiving_streams: int = option(
        64,
        S.HTTP2,
        'Streams of one HTTP/2 connection that may be receiving a request body at once; more are refused.',
        Int(Bound(1, 2**32 - 1)),
        native=True,
        docs="Streams of one HTTP/2 connection receiving their request bodies at once; a request with a body beyond it is refused with `REFUSED_STREAM`, which clients may retry. One connection then holds at most this many of a worker's `--backpressure` slots with bodies that do not come.",
    )
    http2_max_send_buffer_size: int = option(
        400 * 1024,
        S.HTTP2,
        'Most response bytes buffered per HTTP/2 stream before the application waits.',
        Int(Bound(1, 2**32 - 1), 'bytes'),
        native=True,
    )
    h2c_upgrade: bool = option(
        True,
        S.HTTP2,
        'Honour the HTTP/1.1 Upgrade: h2c request (cleartext); off, such requests are served as HTTP/1.1.',
        native=True,
        docs='Switch an HTTP/1.1 connection to HTTP/2 on `Upgrade: h2c` (cleartext, `--http auto` or `2`); off, the request is served as HTTP/1.1 (`505` with `--http 2`). Turn it off behind a proxy that forwards `Upgrade` headers.',
    )
    http2_settings: HTTP2Settings | None = option(
        None,
        S.HTTP2,
        'HTTP/2 options as one granian.http.HTTP2Settings, whose fields replace the http2_* keywords.',
        Custom(_settings(HTTP2Settings), 'a granian.http.HTTP2Settings'),
        default_text='none',
        cli=False,
        docs="Granian's grouping: every field of the `HTTP2Settings` replaces the `http2_` keyword of its name (defaults included: `max_headers_size` is then 16 MiB).",
    )

    # HTTP/3
    http3: bool = option(
        False,
        S.HTTP3,
        'Also serve HTTP/3 (QUIC) on UDP, on the same port as TCP; needs TLS (--ssl-certificate, --ssl-keyfile).',
        native=True,
        docs='Also serve HTTP/3 over QUIC on UDP, on the TCP port; needs `--ssl-certificate` and `--ssl-keyfile` (see [HTTP/3](docs/http3.md)).',
    )
    alt_svc: bool = option(
        True,
        S.HTTP3,
        'With --http3, advertise it on HTTP/1.1 and HTTP/2 responses (Alt-Svc: h3=":PORT"), so browsers switch.',
        native=True,
        docs='With `--http3`, advertise it on HTTP/1.1 and HTTP/2 responses (`Alt-Svc: h3=":PORT"; ma=86400`; an application\'s own `Alt-Svc` is kept).',
    )
    http3_max_concurrent_streams: int = option(
        128,
        S.HTTP3,
        'Request streams a client may have open at once on one HTTP/3 connection; it waits for more.',
        Int(Bound(1, 2**32 - 1)),
        native=True,
    )
    http3_idle_timeout: float = option(
        30.0,
        S.HTTP3,
        'Time an HTTP/3 connection may carry no packet before it is closed (QUIC max_idle_timeout; it also '
        'bounds the handshake); 0 leaves it to the client.',
        Seconds(Bound(0, 86400)),
        native=True,
    )
    http3_keep_alive_interval: float | None = option(
        None,
        S.HTTP3,
        'Interval between PINGs on a quiet HTTP/3 connection, keeping it and NAT bindings open.',
        Seconds(Bound(0, DAY, min_open=True)),
        default_text='no pings',
        native=True,
    )
    http3_max_udp_payload_size: int = option(
        1472,
        S.HTTP3,
        'Largest UDP payload received (QUIC max_udp_payload_size): 1472 fits an Ethernet MTU.',
        Int(Bound(1200, 65527), 'bytes'),
        native=True,
    )
    http3_initial_stream_window_size: int = option(
        1024 * 1024,
        S.HTTP3,
        'Request body bytes a client may send on one HTTP/3 stream ahead of the application reading them.',
        Int(Bound(1, 2**32 - 1), 'bytes'),
        native=True,
    )
    http3_initial_connection_window_size: int = option(
        4 * 1024 * 1024,
        S.HTTP3,
        'Request body bytes a client may send on all streams of one HTTP/3 connection ahead of the application; '
        'what an idle-reading client can make a connection buffer.',
        Int(Bound(1, 2**32 - 1), 'bytes'),
        native=True,
    )
    http3_max_headers_size: int = option(
        16 * 1024,
        S.HTTP3,
        'Largest HTTP/3 request header section (RFC 9114 counts 32 bytes per field); 431 beyond it.',
        Int(Bound(1, 2**32 - 1), 'bytes'),
        native=True,
        docs='Largest HTTP/3 request header section without `--max-header-size` (`431` beyond it); RFC 9114 counts 32 bytes per field on top of names and values.',
    )
    http3_max_connections: int = option(
        10000,
        S.HTTP3,
        'HTTP/3 connections each worker serves at once; new ones beyond it are refused (CONNECTION_REFUSED).',
        Int(Bound(1, MAX_QUEUE)),
        native=True,
    )
    http3_retry: bool = option(
        False,
        S.HTTP3,
        'Validate each new client address with a Retry before the handshake (RFC 9000 §8.1.2): a round trip '
        'more per connection, and spoofed-source floods cannot make the server handshake with their victims.',
        native=True,
    )

    # TLS
    ssl_cert: Path | None = option(
        None,
        S.TLS,
        'PEM certificate chain (server certificate first): serve HTTPS.',
        File(),
        flag='--ssl-certificate',
        default_text='no TLS',
        native=True,
    )
    ssl_key: Path | None = option(
        None,
        S.TLS,
        'PEM private key of the certificate (PKCS#8, PKCS#1 or SEC1; encrypted PKCS#8 with --ssl-keyfile-password).',
        File(),
        flag='--ssl-keyfile',
        default_text='none',
        native=True,
    )
    ssl_key_password: str | None = option(
        None,
        S.TLS,
        'Password of an encrypted PKCS#8 private key.',
        AnyText(),
        flag='--ssl-keyfile-password',
        default_text='none',
        native=True,
        docs='Password of an encrypted PKCS#8 key (`ENCRYPTED PRIVATE KEY`: PBES2 with PBKDF2 or scrypt and AES-CBC, decrypted by the RustCrypto `pkcs8` crate); legacy OpenSSL-encrypted keys are refused with the command that converts them.',
    )
    ssl_protocol_min: SSLProtocols = option(
        SSLProtocols.tls12, S.TLS, 'Oldest TLS version accepted.', Choice(SSLProtocols), native=True
    )
    ssl_ca: Path | None = option(
        None,
        S.TLS,
        'PEM CA certificates client certificates are verified against; clients are asked for one.',
        File(),
        default_text='no client certificates',
        native=True,
        docs='PEM CA certificates: clients are asked for a certificate, which is verified against them when given.',
    )
    ssl_crl: tuple[Path, ...] = option(
        (),
        S.TLS,
        'PEM certificate revocation lists client certificates are checked against (repeatable; needs --ssl-ca).',
        Paths(files=True),
        default_text='none',
        native=True,
        docs="PEM certificate revocation lists (repeatable; needs `--ssl-ca`): a client certificate its issuer's list "
        'revokes fails the handshake, and so does one whose issuer has no list given (intermediates need theirs; the '
        'CA itself is not checked). Of several lists of one CA the newest (`thisUpdate`) decides; `nextUpdate` is not '
        'enforced. Read at start: a new list needs a reload.',
    )
    ssl_client_verify: bool = option(
        False, S.TLS, 'Refuse clients without a certificate signed by --ssl-ca (mutual TLS).', native=True
    )

    # Websockets
    websockets: bool = option(
        True,
        S.WEBSOCKETS,
        'Serve websockets (ASGI, RSGI); off, upgrade requests are served as plain HTTP.',
        flag='--ws',
        env=('WEBSOCKETS', 'WS'),
        native=True,
    )
    ws_max_message_size: int = option(
        16 * 1024 * 1024,
        S.WEBSOCKETS,
        'Largest websocket message accepted; a larger one closes with 1009.',
        Int(Bound(1, 2**32 - 1), 'bytes'),
        native=True,
    )
    ws_ping_interval: float = option(
        20.0,
        S.WEBSOCKETS,
        'Time a websocket may be quiet before the server pings it; 0 sends no pings.',
        Seconds(Bound(0, HOUR)),
        native=True,
    )
    ws_ping_timeout: float = option(
        20.0,
        S.WEBSOCKETS,
        'Time a pinged websocket peer gets to send anything before it is dropped.',
        Seconds(Bound(0, HOUR, min_open=True)),
        native=True,
    )
    ws_deflate: bool = option(
        True,
        S.WEBSOCKETS,
        'Accept permessage-deflate (RFC 7692) compression when a websocket client offers it.',
        native=True,
        docs='Accept permessage-deflate (RFC 7692) when a websocket client offers it ([docs/websockets.md](docs/websockets.md)).',
    )

    # Limits
    max_request_body_size: int | None = option(
        None,
        S.LIMITS,
        'Largest request body: 413 beyond it (up front by Content-Length, else as it arrives).',
        Int(Bound(1, 2**63 - 1), 'bytes'),
        default_text='unlimited',
        native=True,
        docs='Request body bytes; beyond, `413` before the application reads anything when `Content-Length` says so, and otherwise (chunked HTTP/1.1, HTTP/2 and HTTP/3 without `content-length`) `413` as soon as the count passes it, unless the application already started its response; HTTP/1.1 then closes the connection, HTTP/2 and HTTP/3 end only the stream. Every interface gets it.',
    )
    max_header_size: int | None = option(
        None,
        S.LIMITS,
        'Largest request head (HTTP/1) or header list (HTTP/2, HTTP/3): 431 beyond it. Overrides the per-protocol '
        'limits.',
        Int(Bound(1024, MAX_HEAD), 'bytes'),
        default_text='--http1-buffer-size, --http2-max-headers-size, --http3-max-headers-size',
        native=True,
        docs='Request head bytes: on HTTP/1.1 the request line and headers (`431` beyond; the read buffer grows to hold it), on HTTP/2 the decoded header list as RFC 9113 counts it (`431`, then the stream is reset), on HTTP/3 the header section as RFC 9114 counts it (`431`). Overrides `--http1-buffer-size`, `--http2-max-headers-size` and `--http3-max-headers-size` as head limits.',
    )

    max_body_buffer_size: int = option(
        16 * 1024 * 1024,
        S.LIMITS,
        'Largest request body read whole into memory (RSGI await protocol()): 413 beyond it; streamed reads are not limited.',
        Int(Bound(1, 2**32), 'bytes'),
        native=True,
        docs='Request body bytes an application may read whole into memory (RSGI `await protocol()`): beyond, the read raises `RSGIProtocolClosed` and the response is `413` (HTTP/1.1 then closes the connection). Streamed reads (`async for chunk in protocol`, ASGI `receive()`, WSGI `wsgi.input`) are bounded by `--max-request-body-size` only. nginx: `client_max_body_size` 1 MiB for every body; Django: `DATA_UPLOAD_MAX_MEMORY_SIZE` 2.5 MiB for form fields, with files spooled to disk. Here uploads read whole have no disk to spill to: 16 MiB, as `--ws-max-message-size`, the other message held whole.',
    )
    max_connections: int | None = option(
        None,
        S.LIMITS,
        'Connections each worker holds at once; beyond, it stops accepting (the listen queue holds the rest) '
        'and closes its longest-idle connections first.',
        Int(Bound(1, MAX_QUEUE)),
        default_text='3/4 of the open-file limit',
        native=True,
        docs="Connections each worker holds at once (websockets included); beyond, it stops accepting and new connections wait in the listen queue (`--backlog`). With fewer than 1/16 of them free, the connections idle longest (nothing received yet, between keep-alive requests, HTTP/2 without a stream) are closed, as nginx does. The default leaves a quarter of the worker's open-file limit (`ulimit -n`) to the application. nginx: `worker_connections` 512, upstream connections included.",
    )

    http_body_read_timeout: float = option(
        60.0,
        S.LIMITS,
        'Time a read of a request body waits for more bytes from the client before the request ends (408).',
        Seconds(Bound(0, 86400, min_open=True)),
        native=True,
        docs="Time a read of a request body may wait for the client's next bytes (HTTP/1.1 and HTTP/2, every interface); past it the request ends: `408` if its response has not started (HTTP/1.1 then closes the connection), otherwise the stream is reset (HTTP/2) or the connection closed (HTTP/1.1). The application sees a disconnect (ASGI `http.disconnect`, RSGI `RSGIProtocolClosed`, WSGI an `OSError` from `wsgi.input`).",
    )
    http_send_timeout: float = option(
        60.0,
        S.LIMITS,
        'Time a response (or websocket message) waits for the client to take more before it is dropped.',
        Seconds(Bound(0, 86400, min_open=True)),
        native=True,
        docs="Time a write may wait for the client to take more of a response or websocket message: a client that stops reading (HTTP/1.1, websockets: the connection closes) or holds an HTTP/2 window at zero (the stream is reset). The application's next send reports a disconnect.",
    )

    # Responses
    server_header: str | None = option(
        'granian',
        S.RESPONSES,
        "Server header added to responses that set none (an application's own is always kept).",
        Custom(_server_header, 'printable ASCII'),
        off_flag='--no-server-header',
        off_help="Send no Server header (an application's own is still sent).",
        native=True,
        docs='`Server` header added to responses without one; none with `--no-server-header` (see [responses](docs/responses.md)).',
    )
    response_compression: bool = option(
        False,
        S.RESPONSES,
        'Compress text-like responses (HTML, CSS, JSON, JS, XML, SVG, wasm...) with brotli, zstd or gzip, as the '
        "request's Accept-Encoding allows; streamed responses are compressed chunk by chunk.",
        native=True,
        docs='Compress text-like responses with brotli, zstd or gzip per `Accept-Encoding` (see [responses](docs/responses.md)).',
    )
    response_compression_min_size: int = option(
        1024,
        S.RESPONSES,
        'Smallest body compressed (bodies of unknown size are always compressed).',
        Int(Bound(0, 2**63 - 1), 'bytes'),
        native=True,
    )
    response_compression_algorithms: tuple[str, ...] = option(
        COMPRESSION_ALGORITHMS,
        S.RESPONSES,
        'Algorithms offered, in order of preference when the client weighs them alike (repeatable).',
        Choices(COMPRESSION_ALGORITHMS),
        native=True,
    )

    # Static files
    static_path_route: tuple[str, ...] = option(
        (),
        S.STATIC,
        'URL path prefix a --static-path-mount is served on (repeatable, paired with mounts in order).',
        Strings(),
        default_text='/static with one mount',
        native=True,
    )
    static_path_mount: tuple[Path, ...] = option(
        (),
        S.STATIC,
        'Directory served as static files, before the application, on its --static-path-route (repeatable).',
        Paths(directories=True),
        default_text='none',
        native=True,
        docs='Directory served as static files before the app (repeatable; see [static files](docs/static-files.md)).',
    )
    static_path_dir_to_file: str | None = option(
        None,
        S.STATIC,
        'File served for a directory under a static route (e.g. index.html).',
        Custom(_relative_file_name, 'a relative file name'),
        default_text='none: directories are not found',
        native=True,
        docs='File served for a directory (e.g. `index.html`); without it directories are 404.',
    )
    static_path_expires: float = option(
        86400.0,
        S.STATIC,
        'Time static files may be cached (Cache-Control max-age and Expires); 0 sends neither.',
        Seconds(Bound(0, 10 * YEAR)),
        native=True,
        docs='Seconds (or `1d`) for `Cache-Control: max-age` and `Expires`; `0`: neither.',
    )
    static_path_dotfiles: bool = option(
        False,
        S.STATIC,
        'Serve files and directories whose name starts with a dot (.env, .git); off, they are not found '
        '(.well-known excepted).',
        native=True,
        docs='Serve paths with a segment starting with `.` (`.env`, `.git/config`); off, they are `404` (`.well-known` excepted, RFC 8615).',
    )

    # Proxy
    proxy_headers: bool = option(
        False,
        S.PROXY,
        'Take the client address and scheme (and what --forwarded-headers adds) from the proxy headers sent by a '
        'peer in --forwarded-allow-ips (see docs/proxy-headers.md).',
        native=True,
        docs='Take the client address and scheme from `X-Forwarded-For`/`-Proto` of trusted peers, or from the headers `--forwarded-headers` names (see [proxy headers](docs/proxy-headers.md)).',
    )
    forwarded_allow_ips: str = option(
        '127.0.0.1,::1',
        S.PROXY,
        "Comma-separated IP addresses and networks (10.0.0.0/8) whose proxy headers are trusted; '*' trusts every "
        'peer. Unix socket peers are always trusted.',
        Custom(_forwarded_allow_ips, 'IP addresses, networks, *'),
        native=True,
    )
    forwarded_headers: tuple[str, ...] = option(
        DEFAULT_PROXY_HEADERS,
        S.PROXY,
        'Proxy headers read from trusted peers (repeatable): forwarded, x-forwarded-for, x-forwarded-proto, '
        'x-forwarded-host, x-forwarded-port, x-forwarded-prefix. Name only headers your proxy sets or overwrites.',
        Names(PROXY_HEADERS),
        native=True,
        docs='Proxy headers read from trusted peers (repeatable): `forwarded`, `x-forwarded-for`, `-proto`, `-host`, `-port`, `-prefix`. Name only headers the proxy sets or overwrites: a client sends the others as it likes.',
    )
    url_path_prefix: str | None = option(
        None,
        S.PROXY,
        'URL path prefix the app is mounted on: ASGI root_path, WSGI SCRIPT_NAME (removed from PATH_INFO).',
        Custom(_url_path_prefix, "a path starting with '/'"),
        default_text='none',
        native=True,
        docs='Path the app is mounted on: ASGI `root_path`, WSGI `SCRIPT_NAME` (see [proxy headers](docs/proxy-headers.md)).',
    )
    proxy_protocol: bool = option(
        False,
        S.PROXY,
        'Every connection starts with a PROXY protocol header (v1 or v2) from a --forwarded-allow-ips peer, '
        'giving the client address.',
        native=True,
        docs='Every connection must start with a PROXY protocol header, v1 or v2 (HAProxy `send-proxy-v2`, AWS NLB, Envoy), read within `--http1-header-read-timeout`: the client address it carries is the one the application and the access log see, and its TLS TLV makes the scheme `https`. Connections from peers outside `--forwarded-allow-ips` (Unix socket peers are trusted) and connections without a valid header are closed before reaching the application (see [deploying](docs/deploying.md)).',
    )

    # Health checks
    health_path: str | None = option(
        None,
        S.HEALTH,
        'Path the server answers 200 on by itself while it runs (liveness), without calling the application.',
        Custom(_probe_path, "a path starting with '/'", metavar='PATH'),
        default_text='none',
        native=True,
    )
    ready_path: str | None = option(
        None,
        S.HEALTH,
        'Path the server answers by itself: 200 while ready, 503 once it drains (or is about to) or while '
        '--ready-check fails.',
        Custom(_probe_path, "a path starting with '/'", metavar='PATH'),
        default_text='none',
        native=True,
        docs='Path the server answers by itself, without calling the application: 200 while ready, 503 once it drains (SIGTERM, `--shutdown-delay`, a worker replacement) or while `--ready-check` fails (see [deploying](docs/deploying.md)).',
    )
    health_access_log: bool = option(
        False,
        S.HEALTH,
        'Log the requests to --health-path and --ready-path in the access log (and count them as requests).',
        native=True,
        docs='Log the probes on `--health-path` and `--ready-path` in the access log; they then also count towards `--max-requests` and the metrics.',
    )
    ready_check: str | Callable[[], Any] | None = option(
        None,
        S.HEALTH,
        'Application readiness check, module:callable, called with no arguments: truthy is ready; falsy, an '
        'exception or a timeout is not.',
        Custom(_ready_check, 'module:callable (or a callable)', metavar='MODULE:CALLABLE'),
        default_text='none',
        docs='Application readiness check for `--ready-path`: `module:callable` (or a callable for `Granian(...)`), sync or async, called with no arguments; a truthy result is ready, a falsy one, an exception or no answer within `--ready-check-timeout` is not. A sync check runs on a thread of its own.',
    )
    ready_check_timeout: float = option(
        1.0,
        S.HEALTH,
        'Time a --ready-check call gets to answer; no answer in time means not ready.',
        Seconds(Bound(0, 3600, min_open=True)),
        native=True,
    )
    ready_check_ttl: float = option(
        1.0,
        S.HEALTH,
        'Time a --ready-check result is reused, so that a storm of probes makes one call.',
        Seconds(Bound(0, 3600)),
        native=True,
    )

    # Logging
    log_enabled: bool = option(
        True,
        S.LOGGING,
        "Write the server's own log lines (off: none at all, whatever --log-level).",
        flag='--log',
        env='LOG_ENABLED',
        native=True,
    )
    log_level: LogLevels = option(LogLevels.info, S.LOGGING, 'Lowest level of the lines logged.', Choice(LogLevels))
    log_access: bool = option(
        False,
        S.LOGGING,
        'Log one line per request on granian.access.',
        flag='--access-log',
        env='LOG_ACCESS_ENABLED',
        native=True,
        docs='One line per request on `granian.access` (see [docs/logging.md](docs/logging.md)).',
    )
    log_access_format: str = option(
        DEFAULT_ACCESS_LOG_FORMAT,
        S.LOGGING,
        'Access log line format: %(atom)s placeholders (see docs/logging.md).',
        Custom(_access_log_format, 'a format'),
        flag='--access-log-fmt',
        env='LOG_ACCESS_FMT',
        native=True,
        docs="Access line format: `%(addr)s`, `%(status)d`, `%(bytes_sent)d`, `%(header{Name})s`... (Granian's atoms; see [docs/logging.md](docs/logging.md)).",
    )
    log_access_json: bool = option(
        False,
        S.LOGGING,
        'Write the access log as one JSON object per line, with every atom.',
        flag='--access-log-json',
        env='LOG_ACCESS_JSON',
        native=True,
    )
    log_dictconfig: dict[str, Any] | None = option(
        None,
        S.LOGGING,
        'Logging configuration file for logging.config.dictConfig: JSON, or YAML (.yaml/.yml, needs PyYAML).',
        Custom(_dictconfig, 'a JSON or YAML file', metavar='FILE'),
        flag='--log-config',
        default_text='none',
        docs='`logging.config.dictConfig` file, JSON or YAML (see [docs/logging.md](docs/logging.md)).',
    )
    log_json: bool = option(False, S.LOGGING, 'Write server log records as one JSON object per line.')

    # Metrics
    metrics_enabled: bool = option(
        False,
        S.METRICS,
        'Serve Prometheus metrics from the main process (GET /metrics).',
        flag='--metrics',
        env='METRICS_ENABLED',
        docs='Serve Prometheus metrics from the main process (see [metrics](docs/metrics.md)).',
    )
    metrics_scrape_interval: float = option(
        15.0,
        S.METRICS,
        'Accepted for compatibility (1 to 60 seconds); every scrape reads live counters.',
        Seconds(Bound(1, 60)),
    )
    metrics_address: str = option('127.0.0.1', S.METRICS, 'Host address the metrics exporter binds to.', Text())
    metrics_port: int = option(9090, S.METRICS, 'Port the metrics exporter binds to.', Int(Bound(0, 65535)))

    # Reload
    reload: bool = option(
        False,
        S.RELOAD,
        'Restart the workers when files under --reload-paths change (needs granian[reload]).',
        docs="Restart workers when files change, as watchfiles' `DefaultFilter` sees them (needs `watchfiles`: `granian[reload]`).",
    )
    reload_paths: tuple[Path, ...] = option(
        (), S.RELOAD, 'Paths to watch for changes (repeatable).', Paths(), default_text='working directory'
    )
    reload_ignore_dirs: tuple[str, ...] = option(
        (),
        S.RELOAD,
        'Directory names to ignore changes in (repeatable).',
        Strings(),
        default_text='.git, __pycache__, .venv and watchfiles defaults',
    )
    reload_ignore_patterns: tuple[str, ...] = option(
        (),
        S.RELOAD,
        'Regular expressions of file or directory names to ignore changes of (repeatable).',
        Patterns(),
        default_text="watchfiles defaults (*.pyc, editors' swap files...)",
    )
    reload_ignore_paths: tuple[Path, ...] = option(
        (),
        S.RELOAD,
        'Paths to ignore changes under (repeatable).',
        Paths(exist=False),
        default_text='none',
    )
    reload_filter: type | None = option(
        None,
        S.RELOAD,
        'A watchfiles filter class used instead of DefaultFilter, extended with the ignored dirs, patterns and paths.',
        Custom(_reload_filter, 'a watchfiles filter class'),
        default_text='watchfiles.DefaultFilter',
        cli=False,
    )
    reload_tick: int = option(
        50,
        S.RELOAD,
        'How often the watcher looks for changes.',
        Int(Bound(50, 5000), 'ms'),
    )
    reload_ignore_worker_failure: bool = option(
        False,
        S.RELOAD,
        'With --reload, a worker that fails leaves the server running: it is started again on the next change.',
    )

    @property
    def stop_timeout(self) -> float:
        """How long the master waits for a stopping worker before killing it."""
        if self.workers_kill_timeout is not None:
            return self.workers_kill_timeout
        return self.graceful_timeout + SHUTDOWN_MARGIN


@dataclass(frozen=True)
class Option:
    """One row of the table, as read back from `Options`."""

    name: str
    default: Any
    spec: Spec

    @property
    def flag(self) -> str:
        return self.spec.flag or '--' + self.name.replace('_', '-')

    @property
    def env(self) -> tuple[str, ...]:
        if not self.spec.cli:
            return ()
        return self.spec.env or ('GRANIAN_' + self.flag.lstrip('-').upper().replace('-', '_'),)

    @property
    def default_text(self) -> str:
        """The default as `--help` prints it."""
        if self.spec.default_text is not None:
            return self.spec.default_text
        return self._value_text()

    @property
    def default_markdown(self) -> str:
        """The default as the docs print it: a value as code, a description as text."""
        if self.spec.default_text is not None or isinstance(self.default, bool):
            return self.default_text
        return f'`{self._value_text()}`'

    def _value_text(self) -> str:
        value = self.default
        if isinstance(value, bool):
            return 'enabled' if value else 'disabled'
        if isinstance(value, Enum):
            return str(value.value)
        if isinstance(value, tuple):
            return ' '.join(str(item) for item in value)
        if isinstance(value, float):
            return _num(value)
        return str(value)


def _rows() -> tuple[Option, ...]:
    rows = []
    for item in dataclasses.fields(Options):
        spec = item.metadata.get('spec')
        if spec is not None:
            rows.append(Option(item.name, item.default, spec))
    return tuple(rows)


OPTIONS: tuple[Option, ...] = _rows()
OPTIONS_BY_NAME: Mapping[str, Option] = {row.name: row for row in OPTIONS}

# The bounds of the numeric options, read from the table.
BOUNDS: Mapping[str, Bound] = {
    row.name: row.spec.kind.bound for row in OPTIONS if isinstance(row.spec.kind, Int | Seconds)
}


# -- validation ------------------------------------------------------------------------------------


def default_blocking_threads() -> int:
    """WSGI threads per worker when `blocking_threads` is not given: 4 per CPU core this process
    may run on, at most 32 (and never more than `backpressure`).

    WSGI applications spend most of a request waiting (database, network) with the GIL released,
    so a few threads per core keep the cores busy; beyond a few dozen, threads only add GIL
    contention and memory.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return min(32, 4 * max(1, cores))


def default_max_connections() -> int:
    """Connections per worker when `max_connections` is not given: three quarters of this
    process's open-file limit (the workers inherit it), leaving the rest to the application's
    files, sockets and the static files being served, so that the cap is met before `EMFILE`."""
    try:
        import resource
    except ImportError:  # not on Unix: as with the usual limit of 1024
        return 768
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return MAX_QUEUE
    return min(MAX_QUEUE, max(1, soft * 3 // 4))


def validate(target: Any, values: Mapping[str, Any]) -> Options:
    """Check every option in `values` (defaults for the others) and resolve what depends on
    several; raises `ConfigError` naming the first invalid one."""
    if not isinstance(target, str) or not target.strip():
        raise ConfigError('target', f'target must be a non-empty string such as "module:app" (got {target!r})')
    unknown = sorted(set(values) - set(OPTIONS_BY_NAME))
    if unknown:
        raise TypeError(f'unexpected option {unknown[0]!r}')
    values, origins = _apply_settings(values)
    checked: dict[str, Any] = {}
    for row in OPTIONS:
        value = values.get(row.name, row.default)
        # An option whose default is None takes None: off, unlimited or resolved below.
        try:
            checked[row.name] = None if value is None and row.default is None else row.spec.kind.check(row.name, value)
        except ConfigError as exc:
            if row.name not in origins:
                raise
            settings, field_name = origins[row.name]
            raise ConfigError(settings, f'{settings}.{field_name}: {exc}') from None
    _resolve(checked)
    return Options(target=target.strip(), **checked)


def _apply_settings(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """`values` with the fields of `http1_settings` and `http2_settings`, when given, replacing
    the options they stand for; and, for each option so set, where its value came from."""
    merged = dict(values)
    origins: dict[str, tuple[str, str]] = {}
    for name, fields in (('http1_settings', HTTP1_SETTINGS), ('http2_settings', HTTP2_SETTINGS)):
        settings = OPTIONS_BY_NAME[name].spec.kind.check(name, values.get(name))
        if settings is None:
            continue
        for field_name, option_name in fields.items():
            merged[option_name] = getattr(settings, field_name)
            origins[option_name] = (name, field_name)
    return merged, origins


def _resolve(values: dict[str, Any]) -> None:
    """The rules that tie options together, and the defaults that depend on others."""
    interface = values['interface']
    if values['backpressure'] is None:
        values['backpressure'] = max(1, values['backlog'] // values['workers'])
    if values['runtime_mode'] is RuntimeModes.auto:
        # Granian's auto picks `st` for RSGI on one thread without HTTP/2; here the multi-threaded
        # runtime serves faster in every case measured (docs/migrating.md), so auto is `mt`.
        values['runtime_mode'] = RuntimeModes.mt
    if values['max_connections'] is None:
        values['max_connections'] = default_max_connections()
    blocking = values['blocking_threads']
    if blocking is None:
        values['blocking_threads'] = (
            min(values['backpressure'], default_blocking_threads()) if interface is Interfaces.WSGI else 1
        )
    elif blocking > 1 and interface is not Interfaces.WSGI:
        raise ConfigError(
            'blocking_threads', f'blocking_threads must be 1 with the {interface} interface (got {blocking})'
        )

    if (values['ssl_cert'] is None) != (values['ssl_key'] is None):
        given = 'ssl_cert' if values['ssl_cert'] is not None else 'ssl_key'
        raise ConfigError(given, 'ssl_cert and ssl_key go together: give both or neither')
    if values['ssl_key_password'] is not None and values['ssl_key'] is None:
        raise ConfigError('ssl_key_password', 'ssl_key_password must be a string, given with ssl_key')
    if values['ssl_ca'] is not None and values['ssl_cert'] is None:
        raise ConfigError('ssl_ca', 'ssl_ca needs ssl_cert and ssl_key')
    if values['ssl_crl'] and values['ssl_ca'] is None:
        raise ConfigError('ssl_crl', 'ssl_crl needs ssl_ca: revocation lists apply to client certificates')
    if values['ssl_client_verify'] and values['ssl_ca'] is None:
        raise ConfigError(
            'ssl_client_verify', 'ssl_client_verify needs ssl_ca (the CA client certificates are checked against)'
        )

    if values['http3']:
        if values['ssl_cert'] is None:
            raise ConfigError('http3', 'http3 needs TLS: give ssl_cert and ssl_key (QUIC is always encrypted)')
        if values['uds'] is not None:
            raise ConfigError('http3', 'http3 needs a TCP host and port (UDP is served on the same port), not uds')

    if values['uds'] is not None and values['fd'] is not None:
        raise ConfigError('fd', 'fd and uds exclude each other: serve on one socket')
    if values['uds_permissions'] is not None and values['uds'] is None:
        raise ConfigError('uds_permissions', 'uds_permissions needs uds')

    routes, mounts = values['static_path_route'], values['static_path_mount']
    if len(mounts) == 1 and not routes:
        routes = values['static_path_route'] = ('/static',)
    if len(routes) != len(mounts):
        raise ConfigError(
            'static_path_route',
            f'static_path_route and static_path_mount pair up in order: got {len(routes)} routes for '
            f'{len(mounts)} mounts',
        )
    for route in routes:
        if not route.startswith('/'):
            raise ConfigError('static_path_route', f"static_path_route must start with '/' (got {route!r})")

    if values['log_access'] and values['log_enabled']:
        _check_access_log(values['log_access_format'])

    if values['health_path'] is not None and values['health_path'] == values['ready_path']:
        raise ConfigError('ready_path', f'health_path and ready_path must differ (both {values["ready_path"]!r})')
    if values['ready_check'] is not None and values['ready_path'] is None:
        raise ConfigError('ready_check', 'ready_check needs ready_path: the check answers the readiness probes')
    if values['health_access_log'] and values['health_path'] is None and values['ready_path'] is None:
        raise ConfigError('health_access_log', 'health_access_log needs health_path or ready_path')


def _check_access_log(fmt: str) -> None:
    # Compiled only when used: the master does not load the native module otherwise.
    try:
        from ._native import AccessLogQueue
    except ImportError:
        # The workers report the missing native module; they also compile the format again.
        return
    try:
        AccessLogQueue.check(fmt)
    except ValueError as exc:
        raise ConfigError('log_access_format', f'log_access_format: {exc}') from None


# -- docs ----------------------------------------------------------------------------------------

_README_BLOCK = re.compile(r'(<!-- options: ([a-z0-9_ ]+) -->\n)(.*?)(<!-- /options -->)', re.DOTALL)


def _flags(row: Option) -> str:
    if not row.spec.cli:
        return 'keyword only'
    flag = f'`{row.flag}/--no-{row.flag[2:]}`' if isinstance(row.spec.kind, Flag) else f'`{row.flag}`'
    return flag + (f', `{row.spec.off_flag}`' if row.spec.off_flag else '')


def _cell(text: str) -> str:
    return text.replace('|', '\\|')


def markdown() -> str:
    """docs/options.md: one table per section, generated from the table."""
    lines = [
        '# Options',
        '',
        '<!-- Generated from py/granian/_options.py by `make docs`; a test checks it is current. -->',
        '',
        'Every option is a `granian` flag, a `GRANIAN_*` environment variable (the flag wins) and a',
        'keyword of `Granian(...)` with the same default; the few marked "keyword only" take Python',
        'objects and have no flag. Durations take seconds or units (`1h30m`,',
        '`90s`, `1d`); repeatable flags take their environment variable as a space-separated list',
        '(paths: separated by `:`). `granian --help` lists the same options by section.',
    ]
    for section in Section:
        rows = [row for row in OPTIONS if row.spec.section is section]
        if not rows:
            continue
        lines += ['', f'## {section.value}', '', '| flag | keyword | env | default | values | meaning |']
        lines.append('|---|---|---|---|---|---|')
        for row in rows:
            env = ', '.join(f'`{name}`' for name in row.env) or '-'
            meaning = row.spec.docs.replace('](docs/', '](')
            cells = [_flags(row), f'`{row.name}`', env, row.default_markdown, row.spec.kind.values(), meaning]
            lines.append('| ' + ' | '.join(_cell(cell) for cell in cells) + ' |')
    return '\n'.join(lines) + '\n'


def readme(text: str) -> str:
    """`text` (the README) with each `<!-- options: NAME ... -->` block filled with its rows."""

    def table(match: re.Match[str]) -> str:
        rows = ['| flag | default | meaning |', '|---|---|---|']
        for name in match.group(2).split():
            row = OPTIONS_BY_NAME[name]
            rows.append(f'| {_flags(row)} | {_cell(row.default_markdown)} | {_cell(row.spec.docs)} |')
        return match.group(1) + '\n'.join(rows) + '\n' + match.group(4)

    return _README_BLOCK.sub(table, text)


def write_docs(root: str | os.PathLike[str], *, check: bool = False) -> list[Path]:
    """Write docs/options.md and the README tables of the checkout at `root` (`make docs`); with
    `check`, only list the files that are out of date."""
    stale = []
    base = Path(root)
    for path, render in ((base / 'docs' / 'options.md', lambda _: markdown()), (base / 'README.md', readme)):
        current = path.read_text(encoding='utf-8') if path.exists() else ''
        wanted = render(current)
        if current != wanted:
            stale.append(path)
            if not check:
                path.write_text(wanted, encoding='utf-8')
    return stale
