"""Every size, count and duration has an upper bound in the option table: an absurd value is a
startup error (exit code 2 from the CLI, `ConfigError` from `Granian()`), never a timer or an
allocation that overflows on the first request. The bounds still take everything Granian 2.8.7
bounds itself, and far more than any deployment uses."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from granian import Granian
from granian._options import BOUNDS, OPTIONS, ConfigError, Int, Seconds
from granian.cli import cli

# The upper bounds Granian 2.8.7 sets itself (its `cli.py`): values up to these must still work.
GRANIAN_MAXIMA = {
    'blocking_threads_idle_timeout': 600,
    'http1_header_read_timeout': 60_000,
    'http2_keep_alive_interval': 60_000,
    'metrics_scrape_interval': 60,
    'reload_tick': 5000,
    'rss_sample_interval': 300,
    'workers_kill_timeout': 1800,
}

# Values people do set, which must stay valid.
COMMON = {
    'workers': 256,
    'backlog': 65535,
    'http1_buffer_size': 16 * 2**20,
    'static_path_expires': 365 * 86400,
    'workers_lifetime': 7 * 86400,
    'graceful_timeout': 3600,
    'max_requests': 10**9,
    'workers_max_rss': 64 * 1024,
    'max_connections': 100_000,
    'max_body_buffer_size': 2**30,
    'http2_idle_timeout': 3600,
}

# One absurd value per kind of option, each beyond its bound, and the error it gets.
ABSURD = {
    'static_path_expires': 10**12,
    'http1_buffer_size': 2**40,
    'workers': 10**6,
    'http2_keep_alive_timeout': 10**9,
    'max_connections': 10**9,
    'ws_ping_interval': 10**7,
}


def test_every_number_has_an_upper_bound() -> None:
    numeric = [row for row in OPTIONS if isinstance(row.spec.kind, Int | Seconds)]
    assert numeric
    unbounded = [row.name for row in numeric if row.spec.kind.bound.max is None]
    assert unbounded == []


@pytest.mark.parametrize(('name', 'value'), sorted({**GRANIAN_MAXIMA, **COMMON}.items()))
def test_values_in_use_are_accepted(name: str, value: int) -> None:
    assert BOUNDS[name].admits(value), BOUNDS[name]
    assert getattr(Granian('app', **{name: value}).options, name) == value


@pytest.mark.parametrize(('name', 'value'), sorted(ABSURD.items()))
def test_absurd_values_are_refused_by_granian(name: str, value: int) -> None:
    with pytest.raises(ConfigError, match=f'^{name} must be') as info:
        Granian('app', **{name: value})
    assert info.value.option == name


@pytest.mark.parametrize(('name', 'value'), sorted(ABSURD.items()))
def test_absurd_values_are_refused_by_the_cli(name: str, value: int) -> None:
    flag = next(row.flag for row in OPTIONS if row.name == name)
    result = CliRunner().invoke(cli, [f'{flag}={value}', 'app'], prog_name='granian')
    assert result.exit_code == 2, result.output
    assert flag in result.output and 'Invalid value' in result.output, result.output


def test_durations_with_units_are_bounded_too() -> None:
    result = CliRunner().invoke(cli, ['--static-path-expires', '4000000d', 'app'], prog_name='granian')
    assert result.exit_code == 2, result.output
    assert '--static-path-expires' in result.output
