"""The installed version of granian, found without importing `importlib.metadata` (which costs
the main process tens of milliseconds at start): the name of the `granian-VERSION.dist-info`
directory on `sys.path`, the one `importlib.metadata` would read first."""

from __future__ import annotations

import os
import sys

__all__ = ['version']

_PREFIX = 'granian-'
_SUFFIX = '.dist-info'


def version() -> str:
    """granian's version, `0.0.0` when it is not installed (run from a source tree)."""
    for entry in sys.path:
        try:
            names = os.listdir(entry or '.')
        except OSError:
            continue
        for name in names:
            if name.startswith(_PREFIX) and name.endswith(_SUFFIX):
                return name[len(_PREFIX) : -len(_SUFFIX)]
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as metadata_version

    try:
        return metadata_version('granian')
    except PackageNotFoundError:
        return '0.0.0'
