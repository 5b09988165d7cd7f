"""The exceptions `Granian` raises for problems a user can act on.

`FatalError` is what makes the server refuse to start: `ConfigurationError` for an option the
server cannot run with (`granian._options.ConfigError`, a `ValueError` naming the option, is one),
`PidFileError` for a pid file that names a running process or cannot be read.
"""

from __future__ import annotations

__all__ = ['ConfigurationError', 'FatalError', 'PidFileError']


class FatalError(Exception):
    """The server cannot start; the message says why."""


class ConfigurationError(FatalError):
    """An option the server cannot run with."""


class PidFileError(FatalError):
    """The pid file names a process that is still running, or cannot be read or written."""
