"""granian: an HTTP server for Python applications, written in Rust."""

from __future__ import annotations

from ._loops import loops
from .server import Granian

__all__ = ['Granian', '__version__', 'loops']


def __getattr__(name: str) -> str:
    # The version is read from the package metadata on first use: importlib.metadata is slow
    # to import and the server itself never needs it.
    if name != '__version__':
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version('granian')
    except PackageNotFoundError:
        value = '0.0.0'
    globals()['__version__'] = value
    return value
