"""Event loops for the workers, and `granian.loops`, the registry that builds them.

Each `Loops` value names a builder in `loops`. A builder is registered with the packages it
needs; it is available when they are installed, and they are imported only when a worker builds
its loop, so neither `import granian` nor the master imports uvloop or rloop; nor asyncio, which
costs a process ~10 MiB (ssl and concurrent.futures with it) that the master has no use for
(with more than one worker it imports them before forking: see `_worker.preload`). `auto` picks
the first available of rloop, uvloop, winloop (Windows only) and asyncio, as Granian does. Asking
for an implementation that is not installed is an error rather than a silent fallback.

An application may register its own builder under one of these names before serving (workers
are forked from the process that called `serve()`, so they see it)::

    from granian import loops

    @loops.register('asyncio')
    def build_loop():
        return MyLoop()
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .constants import Loops

if TYPE_CHECKING:
    import asyncio

__all__ = ['LoopUnavailableError', 'Registry', 'loops', 'new_event_loop', 'resolve_loop']

LoopBuilder = Callable[..., 'asyncio.AbstractEventLoop']

# Why an implementation is missing, and how to get it.
_INSTALL_HINTS = {
    'uvloop': 'pip install granian[uvloop]',
    'rloop': 'pip install granian[rloop]',
    'winloop': 'pip install granian[winloop]',
}


class LoopUnavailableError(RuntimeError):
    """The requested event loop implementation is not installed (or not for this platform)."""


def _installed(module: str) -> bool:
    # find_spec locates the package without running it: the master checks availability this way
    # before forking, leaving the actual import to the workers.
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class Registry:
    """Loop builders by name: `register(name, packages)` as a decorator, `get(name)` builds one.

    A builder receives each of its packages, imported, as a keyword argument of the same name
    (`build(uvloop=<module>)`), returns a new loop and sets it as the current one.
    """

    __slots__ = ('_data',)

    def __init__(self) -> None:
        self._data: dict[str, tuple[LoopBuilder, tuple[str, ...], str | None]] = {}

    def register(
        self, key: str, packages: Iterable[str] | None = None, *, platform: str | None = None
    ) -> Callable[[LoopBuilder], LoopBuilder]:
        """Register the decorated builder as `key`; it is available when every package in
        `packages` is installed (and, with `platform`, on that `sys.platform` only)."""
        needed = tuple(packages or ())

        def wrap(builder: LoopBuilder) -> LoopBuilder:
            self._data[key] = (builder, needed, platform)
            return builder

        return wrap

    def __contains__(self, key: object) -> bool:
        entry = self._data.get(key) if isinstance(key, str) else None
        if entry is None:
            return False
        _, packages, platform = entry
        if platform is not None and sys.platform != platform:
            return False
        return all(_installed(package) for package in packages)

    def keys(self) -> list[str]:
        """The names registered and available here."""
        return [key for key in self._data if key in self]

    def check(self, key: str) -> None:
        """Raise `LoopUnavailableError` saying why `key` cannot be built here."""
        entry = self._data.get(key)
        if entry is None:
            raise LoopUnavailableError(f"'{key}' implementation not available.")
        _, packages, platform = entry
        if platform is not None and sys.platform != platform:
            raise LoopUnavailableError(f'the {key} event loop runs on {platform} only (this is {sys.platform})')
        for package in packages:
            if not _installed(package):
                hint = _INSTALL_HINTS.get(package, f'pip install {package}')
                raise LoopUnavailableError(f'the {key} event loop is not installed ({hint})')

    def packages(self, key: str) -> tuple[str, ...]:
        """The packages `key`'s builder is given (none for a name not registered)."""
        entry = self._data.get(key)
        return () if entry is None else entry[1]

    def get(self, key: str) -> asyncio.AbstractEventLoop:
        """A new loop built by `key`'s builder (raises `LoopUnavailableError`, a `RuntimeError`)."""
        self.check(key)
        builder, packages, _ = self._data[key]
        modules: dict[str, ModuleType] = {package: importlib.import_module(package) for package in packages}
        return builder(**modules)


loops = Registry()


def _set(loop: asyncio.AbstractEventLoop) -> asyncio.AbstractEventLoop:
    import asyncio

    asyncio.set_event_loop(loop)
    return loop


@loops.register('asyncio')
def build_asyncio_loop() -> asyncio.AbstractEventLoop:
    import asyncio

    return _set(asyncio.new_event_loop())


@loops.register('uvloop', packages=['uvloop'])
def build_uvloop(uvloop: Any) -> asyncio.AbstractEventLoop:
    return _set(uvloop.new_event_loop())


@loops.register('rloop', packages=['rloop'])
def build_rloop(rloop: Any) -> asyncio.AbstractEventLoop:
    return _set(rloop.new_event_loop())


@loops.register('winloop', packages=['winloop'], platform='win32')
def build_winloop(winloop: Any) -> asyncio.AbstractEventLoop:
    return _set(winloop.new_event_loop())


# Granian's order of preference for `auto`.
AUTO_ORDER = (Loops.rloop, Loops.uvloop, Loops.winloop, Loops.asyncio)


@loops.register('auto')
def build_auto_loop() -> asyncio.AbstractEventLoop:
    return loops.get(str(resolve_loop(Loops.auto)))


def resolve_loop(loop: Loops | str) -> Loops:
    """The implementation `loop` stands for, never `Loops.auto`; raises `LoopUnavailableError`
    when it cannot be built here."""
    loop = Loops(loop)
    if loop is Loops.auto:
        return next(choice for choice in AUTO_ORDER if str(choice) in loops)
    loops.check(str(loop))
    return loop


def new_event_loop(loop: Loops | str) -> asyncio.AbstractEventLoop:
    """A new event loop built by the builder registered for `loop` (`auto` included, so that a
    builder registered in its place is the one used)."""
    return loops.get(str(Loops(loop)))
