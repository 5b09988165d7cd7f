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


# Interfaces a worker can serve today. Enabling one once its native server exists is a matter of
# adding it here (and its branch in `_worker`); the others stop at start with a clear error.
AVAILABLE_INTERFACES: frozenset[Interfaces] = frozenset({Interfaces.ASGI, Interfaces.ASGINL})

# HTTP modes the native server speaks.
AVAILABLE_HTTP_MODES: frozenset[HTTPModes] = frozenset(HTTPModes)
