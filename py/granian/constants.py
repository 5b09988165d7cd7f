"""Option values shared by the CLI, `Granian` and the workers.

Each enum's values are the spellings the CLI accepts, so `Interfaces('asgi')` parses a flag and
`str(Interfaces.ASGI)` prints one back.
"""

from enum import Enum


class StrEnum(str, Enum):
    """A string enum that prints as its value (`enum.StrEnum` needs Python 3.11)."""

    def __str__(self) -> str:
        return str(self.value)


class Interfaces(StrEnum):
    ASGI = 'asgi'
    ASGINL = 'asginl'
    RSGI = 'rsgi'
    WSGI = 'wsgi'


class HTTPModes(StrEnum):
    auto = 'auto'
    http1 = '1'
    http2 = '2'


class SSLProtocols(StrEnum):
    """The oldest TLS version a server accepts."""

    tls12 = 'tls1.2'
    tls13 = 'tls1.3'


class RuntimeModes(StrEnum):
    """How each worker runs its Rust runtime: `mt` one multi-threaded runtime, `st` one
    single-threaded runtime per thread; `auto` lets the server pick."""

    auto = 'auto'
    mt = 'mt'
    st = 'st'


class Loops(StrEnum):
    auto = 'auto'
    asyncio = 'asyncio'
    rloop = 'rloop'
    uvloop = 'uvloop'
    winloop = 'winloop'


class TaskImpl(StrEnum):
    """How an asynchronous application call runs on the event loop. granian runs every call as
    an asyncio task: `rust` is accepted, as Granian spells it, and changes nothing."""

    asyncio = 'asyncio'
    rust = 'rust'


class LogLevels(StrEnum):
    critical = 'critical'
    error = 'error'
    warning = 'warning'
    warn = 'warn'
    info = 'info'
    debug = 'debug'
    notset = 'notset'
