"""The option table (`granian._options`) against what is made from it: the `granian` flags and
their environment variables, the `Granian` keywords and their defaults, `--help`, and the docs."""

from __future__ import annotations

import inspect
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from granian import Granian
from granian._options import OPTIONS, Flag, Options, default_max_connections, markdown, readme, validate
from granian.cli import cli

ROOT = Path(__file__).resolve().parent.parent
# The rows with a flag; the others are keywords of `Granian` only (objects, classes).
CLI_OPTIONS = [row for row in OPTIONS if row.spec.cli]
KEYWORD_ONLY = [row for row in OPTIONS if not row.spec.cli]


def help_text() -> str:
    result = CliRunner().invoke(cli, ['--help'], prog_name='granian', terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_option_is_in_help_with_its_env_vars() -> None:
    text = help_text()
    for row in CLI_OPTIONS:
        assert row.flag in text, row.name
        for env in row.env:
            assert env in text, (row.name, env)
        if isinstance(row.spec.kind, Flag):
            assert f'--no-{row.flag[2:]}' in text, row.name


def test_every_option_is_a_flag_reading_its_env_vars() -> None:
    params = {param.opts[0]: param for param in cli.params if isinstance(param, click.Option)}
    for row in CLI_OPTIONS:
        param = params[row.flag]
        assert param.name == row.name
        assert list(param.envvar) == list(row.env), row.name


def test_keyword_only_rows_have_no_flag_nor_env_var() -> None:
    assert {row.name for row in KEYWORD_ONLY} == {'http1_settings', 'http2_settings', 'reload_filter'}
    names = {param.name for param in cli.params}
    text = help_text()
    for row in KEYWORD_ONLY:
        assert row.env == () and row.name not in names, row.name
        assert row.flag not in text, row.name


def test_every_option_is_a_granian_keyword_with_the_same_default() -> None:
    parameters = inspect.signature(Granian.__init__).parameters
    keywords = [name for name in parameters if name not in ('self', 'target')]
    assert keywords == [row.name for row in OPTIONS]
    for row in OPTIONS:
        default = parameters[row.name].default
        assert default == row.default and type(default) is type(row.default), row.name
    # As in Granian, the address and port may be given by position; the rest are keywords.
    positional = [name for name, param in parameters.items() if param.kind is param.POSITIONAL_OR_KEYWORD]
    assert positional == ['self', 'target', 'address', 'port']


def test_the_table_defaults_validate_to_themselves() -> None:
    options = validate('app', {})
    assert options == Granian('app').options
    resolved = {'backpressure', 'blocking_threads', 'max_connections', 'runtime_mode'}
    for row in OPTIONS:
        if row.name not in resolved:
            assert getattr(options, row.name) == row.default, row.name
    # auto resolves to the multi-threaded runtime (Granian's would pick `st` for this default).
    assert options.runtime_mode == 'mt'
    assert options.max_connections == default_max_connections()


@pytest.mark.parametrize(
    ('values', 'mode'),
    [
        ({}, 'mt'),
        ({'http': '1'}, 'mt'),
        ({'http': '2'}, 'mt'),
        ({'runtime_threads': 2}, 'mt'),
        ({'interface': 'asgi'}, 'mt'),
        ({'interface': 'wsgi'}, 'mt'),
        ({'interface': 'asgi', 'runtime_mode': 'st'}, 'st'),
        ({'runtime_mode': 'mt'}, 'mt'),
    ],
)
def test_runtime_mode_auto_is_multi_threaded(values: dict[str, object], mode: str) -> None:
    assert validate('app', values).runtime_mode == mode


def test_options_fields_are_the_table() -> None:
    assert [name for name in Options.__dataclass_fields__ if name != 'target'] == [row.name for row in OPTIONS]


def test_rows_say_what_they_do() -> None:
    for row in OPTIONS:
        # A sentence, not a word: "Logging." or "HTTP version." say nothing.
        assert len(row.spec.help.split()) >= 4 and row.spec.help.endswith('.'), row.name
        if row.default is None or row.default == ():
            assert row.spec.default_text, f'{row.name}: a None or empty default needs its words'


def test_help_reads_as_a_reference() -> None:
    text = help_text()
    for section in ('Server:', 'Workers:', 'HTTP/1:', 'HTTP/2:', 'TLS:', 'Websockets:', 'Limits:', 'Logging:'):
        assert f'\n{section}\n' in text, section
    for section in ('Metrics:', 'Static files:', 'Proxy:', 'Reload:'):
        assert f'\n{section}\n' in text, section
    # Defaults print plainly.
    assert '<=x<=' not in text and '(none' not in text and 'default: (' not in text
    assert 'default: 8000]' in text


def test_short_help_flag() -> None:
    result = CliRunner().invoke(cli, ['-h'], prog_name='granian')
    assert result.exit_code == 0
    assert result.output.startswith('Usage: granian [OPTIONS] APP')


def test_docs_tables_are_generated_from_the_table() -> None:
    assert (ROOT / 'docs' / 'options.md').read_text(encoding='utf-8') == markdown(), 'run make docs'
    text = (ROOT / 'README.md').read_text(encoding='utf-8')
    assert readme(text) == text, 'run make docs'


@pytest.mark.parametrize('row', OPTIONS, ids=lambda row: row.name)
def test_docs_list_every_option(row: object) -> None:
    assert f'`{row.name}`' in markdown()  # type: ignore[attr-defined]
