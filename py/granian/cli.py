"""The `granian` command: click options generated from the option table (`granian._options`).

Every flag is one row of the table: one keyword of `Granian`, its `GRANIAN_*` environment
variables, its default and its help line. Values are converted here (durations with units, octal
permissions, a log config file read into a dictionary); everything else is checked by `Granian`
itself, whose errors become usage errors (exit code 2). `granian --help` lists the options by
section.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from . import _options
from ._options import OPTIONS, Bound, ConfigError, Option
from .constants import StrEnum
from .errors import FatalError
from .server import Granian

__all__ = ['BoundedDuration', 'Duration', 'EnumChoice', 'LogConfigFile', 'Octal', 'cli', 'entrypoint', 'parse_duration']

_DURATION = re.compile(
    r'(?:(?P<d>[0-9]+(?:\.[0-9]+)?)d)?(?:(?P<h>[0-9]+(?:\.[0-9]+)?)h)?'
    r'(?:(?P<m>[0-9]+(?:\.[0-9]+)?)m)?(?:(?P<s>[0-9]+(?:\.[0-9]+)?)s)?'
)
_UNIT_SECONDS = {'d': 86400.0, 'h': 3600.0, 'm': 60.0, 's': 1.0}


def parse_duration(text: str) -> float:
    """Seconds in `text`: a plain number (`30`, `2.5`) or units largest first (`1h30m`, `90s`, `1d`).

    Raises `ValueError` for anything else.
    """
    text = text.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValueError(f'{text!r} is not a finite duration')
        return seconds
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(f'{text!r} is not a duration (use seconds, or units such as 1h30m, 90s)')
    return sum(float(amount) * _UNIT_SECONDS[unit] for unit, amount in match.groupdict().items() if amount)


class Duration(click.IntRange):
    """Granian's duration type: seconds as a number (`90`) or units largest first (`1h30m`, `90s`,
    `1d`), at least `min` and at most `max` seconds. Whole seconds come back as an `int`; this
    type also takes fractions (`2.5`, `1.5h`), which come back as a `float`."""

    name = 'duration'

    def __init__(self, min: int | None = None, max: int | None = None) -> None:
        super().__init__(min, max, min_open=False, max_open=False, clamp=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str):
            try:
                seconds = parse_duration(value)
            except ValueError:
                self.fail(f'{value!r} is not a valid duration', param, ctx)
            if seconds < 0:
                self.fail(f'{value!r} is not a valid duration', param, ctx)
        else:
            self.fail(f'{value!r} is not a valid duration', param, ctx)
        if self.min is not None and seconds < self.min:
            self.fail(f'{value!r} is less than the minimum allowed value of {self.min} seconds', param, ctx)
        if self.max is not None and seconds > self.max:
            self.fail(f'{value!r} is greater than the maximum allowed value of {self.max} seconds', param, ctx)
        return int(seconds) if seconds.is_integer() else seconds


class BoundedDuration(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """A duration in seconds (float), within `bound`: the type of the table's `Seconds` options."""

    name = 'duration'

    def __init__(self, bound: Bound) -> None:
        self.bound = bound

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return 'DURATION'

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(value)
        else:
            try:
                seconds = parse_duration(str(value))
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
        if not self.bound.admits(seconds):
            self.fail(f'{value} is not {self.bound.describe()} seconds', param, ctx)
        return seconds


class BoundedInt(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """An integer within `bound`; `metavar` names what it counts in `--help`."""

    name = 'integer'

    def __init__(self, bound: Bound, metavar: str) -> None:
        self.bound = bound
        self.metavar = metavar

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return self.metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                self.fail(f'{value!r} is not an integer', param, ctx)
        if not self.bound.admits(number):
            self.fail(f'{value} is not {self.bound.describe()}', param, ctx)
        return number


class EnumChoice(click.Choice):  # type: ignore[type-arg]  # generic from click 8.2
    """A choice among an enum's values (its CLI spellings), converted to the member."""

    def __init__(self, enum: type[StrEnum]) -> None:
        self.enum = enum
        super().__init__([str(member.value) for member in enum], case_sensitive=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, self.enum):
            return value
        return self.enum(super().convert(value, param, ctx))


class Octal(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """File permission bits written in octal (`660`, `0o660`), within `bound`."""

    name = 'octal'

    def __init__(self, bound: Bound) -> None:
        self.bound = bound

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return 'OCTAL'

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            bits = value
        else:
            text = str(value).strip().lower().removeprefix('0o')
            try:
                bits = int(text, 8)
            except ValueError:
                self.fail(f'{value!r} is not an octal number such as 660', param, ctx)
        if not self.bound.admits(bits):
            self.fail(f'{value} is not between 0 and 777 (octal)', param, ctx)
        return bits


class LogConfigFile(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2
    """A `dictConfig` file: JSON, or YAML when named `.yaml`/`.yml` (read with PyYAML)."""

    name = 'file'

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dict):
            return value
        path = Path(value)
        try:
            text = path.read_text(encoding='utf-8')
        except (OSError, UnicodeDecodeError) as exc:
            self.fail(f"cannot read '{path}': {exc}", param, ctx)
        if path.suffix.lower() in ('.yaml', '.yml'):
            try:
                import yaml
            except ImportError:
                self.fail(f"'{path}' is YAML, which needs PyYAML (pip install pyyaml); or use JSON", param, ctx)
            try:
                config = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                self.fail(f"'{path}' is not valid YAML: {exc}", param, ctx)
        else:
            try:
                config = json.loads(text)
            except ValueError as exc:
                self.fail(f"'{path}' is not valid JSON: {exc}", param, ctx)
        if not isinstance(config, dict):
            self.fail(f"'{path}' must hold a mapping (a dictConfig dictionary)", param, ctx)
        return config


def _param_type(row: Option) -> Any:
    """The click type that reads a row's values from the command line and the environment."""
    kind = row.spec.kind
    if isinstance(kind, _options.Octal):
        return Octal(kind.bound)
    if isinstance(kind, _options.Int):
        return BoundedInt(kind.bound, kind.metavar)
    if isinstance(kind, _options.Seconds):
        return BoundedDuration(kind.bound)
    if isinstance(kind, _options.Choice):
        return EnumChoice(kind.enum)
    if isinstance(kind, _options.Choices):
        return click.Choice(kind.choices, case_sensitive=False)
    if isinstance(kind, _options.File):
        return click.Path(exists=True, dir_okay=False, path_type=Path)
    if isinstance(kind, _options.Directory):
        return click.Path(exists=True, file_okay=False, path_type=Path)
    if isinstance(kind, _options.Paths):
        return click.Path(exists=kind.exist, file_okay=not kind.directories, dir_okay=not kind.files, path_type=Path)
    if isinstance(kind, _options.NewFile):
        return click.Path(dir_okay=False, path_type=Path)
    if row.name == 'log_dictconfig':
        return LogConfigFile()
    return click.STRING


class _Option(click.Option):
    """A flag that knows its table row: `--help` lists it in its section, with its environment
    variables and its default written plainly."""

    def __init__(self, decls: Sequence[str], row: Option, *, default_text: str, **attrs: Any) -> None:
        super().__init__(decls, show_default=False, show_envvar=False, **attrs)
        self.row = row
        self.default_text = default_text

    def get_error_hint(self, ctx: click.Context) -> str:
        hint = super().get_error_hint(ctx)
        source = ctx.get_parameter_source(self.name) if self.name else None
        if source is click.core.ParameterSource.ENVIRONMENT:
            envs = self.envvar if isinstance(self.envvar, list | tuple) else [self.envvar]
            hint += f' (env: {", ".join(repr(env) for env in envs)})'
        return hint

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        if record is None:
            return None
        names, text = record
        envs = self.envvar if isinstance(self.envvar, list | tuple) else [self.envvar]
        extra = f'[env: {", ".join(str(env) for env in envs)}; default: {self.default_text}]'
        return names, f'{text}  {extra}' if text else extra


def _click_options(row: Option) -> list[click.Option]:
    kind = row.spec.kind
    attrs: dict[str, Any] = {
        'envvar': list(row.env),
        'help': row.spec.help,
        'default_text': row.default_text,
        'default': row.default,
    }
    if isinstance(kind, _options.Flag):
        decls = [f'{row.flag}/--no-{row.flag[2:]}', row.name]
    else:
        decls = [row.flag, row.name]
        attrs['type'] = _param_type(row)
        attrs['multiple'] = kind.multiple
        if kind.metavar and not hasattr(attrs['type'], 'get_metavar'):
            attrs['metavar'] = kind.metavar
        if isinstance(kind, _options.Choice):
            attrs['default'] = str(row.default.value)
    options: list[click.Option] = [_Option(decls, row, **attrs)]
    if row.spec.off_flag:
        # The same keyword: of the two flags, the one given last wins.
        options.append(
            _Option(
                [row.spec.off_flag, row.name],
                row,
                is_flag=True,
                flag_value='',
                type=click.UNPROCESSED,
                default=None,
                envvar='GRANIAN_' + row.spec.off_flag.lstrip('-').upper().replace('-', '_'),
                default_text='disabled',
                help=row.spec.off_help,
                callback=_keep_unless_given,
            )
        )
    return options


def _keep_unless_given(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """An off flag sets its keyword to '' (off) when given, on the command line or by its
    environment variable; otherwise it keeps what the option's own flag said."""
    if value == '':
        return ''
    return ctx.params.get(param.name or '', param.default if value is None else value)


class _Command(click.Command):
    """Lists the options by section, as the table orders them."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        others: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            if not isinstance(param, click.Option):
                continue
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if isinstance(param, _Option):
                sections.setdefault(param.row.spec.section.value, []).append(record)
            else:
                others.append(record)
        for section in _options.Section:
            if section.value in sections:
                with formatter.section(section.value):
                    formatter.write_dl(sections[section.value])
        with formatter.section('Other options'):
            formatter.write_dl(others)


def _serve(app: str, **values: Any) -> None:
    """Serve APP, an application target such as package.module:app."""
    ctx = click.get_current_context()
    try:
        server = Granian(app, **values)
    except ConfigError as exc:
        for param in ctx.command.params:
            if param.name == exc.option:
                raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
        raise click.UsageError(str(exc), ctx=ctx) from None
    try:
        server.serve()
    except FatalError:
        # Already reported on stderr.
        raise SystemExit(1) from None


def _command() -> click.Command:
    params: list[click.Parameter] = [click.Argument(['app'], required=True)]
    for row in OPTIONS:
        if row.spec.cli:
            params.extend(_click_options(row))
    command = _Command(
        'granian',
        params=params,
        callback=_serve,
        help='Serve APP, an application target such as package.module:app (module alone means module:app).',
        context_settings={'max_content_width': 120, 'help_option_names': ['-h', '--help']},
    )
    return click.version_option(
        None, '--version', package_name='granian', prog_name='granian', message='%(prog)s %(version)s'
    )(command)


cli = _command()


def entrypoint() -> None:
    """The `granian` console script."""
    cli(prog_name='granian')
