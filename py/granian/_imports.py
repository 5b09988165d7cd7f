"""Resolving an application target such as `package.module:app` to the object to serve.

Forms accepted (the same as Granian's):

* `module:attr`, `module:attr.sub` (attributes are followed one dot at a time);
* `module` alone, which means `module:app`;
* a file path instead of a dotted name, `path/to/app.py:app`: its directory (or the top of its
  package) goes first on `sys.path` and the module is imported by name.

With `factory=True` the attribute is called with no arguments and its return value is served.

Only workers call `load_target`: the master never imports the application, so a worker
restarted after a code change imports it afresh.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ['TargetError', 'load_target', 'split_target']

DEFAULT_ATTRIBUTE = 'app'

# What a user who named the wrong module, or ran from the wrong directory, needs to know.
_WHERE_HINT = (
    ": not found from the working directory '{cwd}'; run from the application's directory or pass "
    '--working-dir (Granian(working_dir=...))'
)

# The separator is the first colon not followed by a slash, so that a Windows drive (`C:\app.py`)
# is part of the module path.
_SEPARATOR = re.compile(r':(?![\\/])')


class TargetError(Exception):
    """The target could not be turned into an application.

    `str(error)` is one line naming what is missing; `details` holds the traceback when the
    application's own code raised, which the user needs to see.
    """

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.details = details


def split_target(target: str) -> tuple[str, str]:
    """Split `target` into (module, attribute path), defaulting the attribute to `app`."""
    parts = _SEPARATOR.split(target, maxsplit=1)
    module = parts[0].strip()
    attribute = parts[1].strip() if len(parts) == 2 else DEFAULT_ATTRIBUTE
    if not module or not attribute or any(not name for name in attribute.split('.')):
        raise TargetError(f"invalid application target '{target}' (expected 'module:attribute')")
    return module, attribute


def _looks_like_path(module: str) -> bool:
    return module.endswith('.py') or '/' in module or os.sep in module


def _module_name_from_path(module: str) -> str:
    """Make a file path importable and return its dotted module name."""
    path = Path(module).resolve()
    if path.suffix == '.py':
        path = path.with_suffix('')
    if path.name == '__init__':
        path = path.parent
    if not (path.with_suffix('.py').is_file() or (path / '__init__.py').is_file()):
        raise TargetError(f"cannot import module '{module}'{_WHERE_HINT.format(cwd=os.getcwd())}")
    names = [path.name]
    root = path.parent
    # Climb while the directory is a package, so relative imports inside the module keep working.
    while (root / '__init__.py').is_file():
        names.append(root.name)
        root = root.parent
    if not sys.path or sys.path[0] != str(root):
        sys.path.insert(0, str(root))
    return '.'.join(reversed(names))


def _user_traceback(exc: BaseException) -> str:
    """The traceback of `exc` from the first frame of the application's code on: the frames of
    this module and of the import machinery only hide where the error is."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename != __file__ and not filename.startswith(('<frozen importlib', os.path.dirname(importlib.__file__))):
            break
        tb = tb.tb_next
    return ''.join(traceback.format_exception(type(exc), exc, tb))


def _import(name: str, shown: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ''
        if missing and (name == missing or name.startswith(missing + '.')):
            raise TargetError(f"cannot import module '{shown}'{_WHERE_HINT.format(cwd=os.getcwd())}") from None
        raise TargetError(f"error while importing module '{shown}': {exc}", _user_traceback(exc)) from None
    except Exception as exc:
        raise TargetError(
            f"error while importing module '{shown}': {type(exc).__name__}: {exc}", _user_traceback(exc)
        ) from None


def load_target(target: str, *, factory: bool = False) -> Any:
    """Import the target and return the application it names. Raises `TargetError`."""
    module_part, attribute = split_target(target)
    name = _module_name_from_path(module_part) if _looks_like_path(module_part) else module_part
    shown = module_part if _looks_like_path(module_part) else name
    obj: Any = _import(name, shown)
    for part in attribute.split('.'):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"module '{shown}' has no attribute '{attribute}'") from None
    if factory:
        if not callable(obj):
            raise TargetError(f"factory '{module_part}:{attribute}' is not callable")
        try:
            obj = obj()
        except Exception as exc:
            raise TargetError(
                f"factory '{module_part}:{attribute}' raised {type(exc).__name__}: {exc}", _user_traceback(exc)
            ) from None
    if not callable(obj):
        what = 'the factory result' if factory else f"'{module_part}:{attribute}'"
        raise TargetError(f'{what} is not callable (got {type(obj).__name__})')
    return obj
