"""granian: an HTTP server for Python applications, written in Rust."""

from __future__ import annotations

from ._loops import loops
from .server import Granian

__all__ = ['Granian', '__version__', 'loops']


def __getattr__(name: str) -> str:
    # Read on first use: the server itself reads it once, for its first log lines.
    if name != '__version__':
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    from ._version import version

    value = version()
    globals()['__version__'] = value
    return value
