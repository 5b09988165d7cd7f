"""The server: `Granian` (also `Server`, as Granian names it) runs the master and its workers."""

from __future__ import annotations

from .._options import ConfigError, Options
from .mp import Granian, MPServer

# Granian's name for the server class (`granian.Granian` is the same class).
Server = Granian

__all__ = ['ConfigError', 'Granian', 'MPServer', 'Options', 'Server']
