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


class Loops(StrEnum):
    auto = 'auto'
    asyncio = 'asyncio'
    uvloop = 'uvloop'


class LogLevels(StrEnum):
    critical = 'critical'
    error = 'error'
    warning = 'warning'
    warn = 'warn'
    info = 'info'
    debug = 'debug'
    notset = 'notset'
