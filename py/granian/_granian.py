"""`granian._granian`, the name Granian gives its native module: everything in `granian._native`,
plus `BUILD_GIL` and `ProcInfoCollector`, which Granian's own tools import from here.

granian's native module is `granian._native`; this module makes code written against Granian's
spelling import the same objects.
"""

from __future__ import annotations

import sysconfig
from typing import Any

from . import _native
from ._native import *  # noqa: F403
from ._native import __version__
from ._ops import ProcInfoCollector

__all__ = ['BUILD_GIL', 'ProcInfoCollector', '__version__']
__all__ += [name for name in dir(_native) if not name.startswith('_')]

# False on a free-threaded ("no GIL") build of Python, as Granian reports it.
BUILD_GIL: bool = not sysconfig.get_config_var('Py_GIL_DISABLED')


def __getattr__(name: str) -> Any:
    return getattr(_native, name)
