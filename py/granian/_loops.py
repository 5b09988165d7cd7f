"""Event loop selection for workers.

`Loops.auto` prefers uvloop when it is installed and falls back to asyncio; asking for uvloop
explicitly when it is missing is an error rather than a silent fallback.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util

from .constants import Loops


class LoopUnavailableError(RuntimeError):
    """The requested event loop implementation is not installed."""


def _installed(module: str) -> bool:
    # find_spec locates the package without running it: the master checks availability this way
    # before forking, leaving the actual import to the workers.
    return importlib.util.find_spec(module) is not None


def resolve_loop(loop: Loops | str) -> Loops:
    """The concrete implementation `loop` stands for: never `Loops.auto`."""
    loop = Loops(loop)
    if loop is Loops.auto:
        return Loops.uvloop if _installed('uvloop') else Loops.asyncio
    if loop is Loops.uvloop and not _installed('uvloop'):
        raise LoopUnavailableError('the uvloop event loop is not installed (pip install granian[uvloop])')
    return loop


def new_event_loop(loop: Loops | str) -> asyncio.AbstractEventLoop:
    """Build a new event loop of the requested implementation (not yet set as the current one)."""
    if resolve_loop(loop) is Loops.uvloop:
        uvloop = importlib.import_module('uvloop')
        new_loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return new_loop
    return asyncio.new_event_loop()
