"""granian: an HTTP server for Python applications, written in Rust."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version('granian')
except PackageNotFoundError:
    __version__ = '0.0.0'

from .server import Granian

__all__ = ['Granian', '__version__']
