"""How the response flags reach `Granian`: `--no-server-header` and its environment variable,
the algorithms list, and the values `Granian` refuses. No server is started."""

from __future__ import annotations

import os
from typing import Any

import pytest
from click.testing import CliRunner
from granian import Granian
from granian.cli import cli
from granian.server import ConfigError, Options


def served(args: list[str], env: dict[str, str] | None = None) -> Options:
    recorded: list[Options] = []
    clean_env: dict[str, str | None] = {key: None for key in os.environ if key.startswith('GRANIAN_')}
    clean_env.update(env or {})
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Granian, 'serve', lambda self: recorded.append(self.options))
        result = CliRunner().invoke(cli, [*args, 'app:main'], env=clean_env, prog_name='granian')
    assert result.exit_code == 0, result.output
    return recorded[0]


@pytest.mark.parametrize(
    ('args', 'env', 'expected'),
    [
        ([], {}, 'granian'),
        (['--server-header', 'edge/2'], {}, 'edge/2'),
        (['--no-server-header'], {}, None),
        (['--server-header', 'x', '--no-server-header'], {}, None),
        (['--no-server-header', '--server-header', 'x'], {}, 'x'),
        ([], {'GRANIAN_SERVER_HEADER': 'from-env'}, 'from-env'),
        ([], {'GRANIAN_NO_SERVER_HEADER': 'true'}, None),
        ([], {'GRANIAN_NO_SERVER_HEADER': 'false', 'GRANIAN_SERVER_HEADER': 'kept'}, 'kept'),
        (['--server-header', 'flag'], {'GRANIAN_NO_SERVER_HEADER': 'false'}, 'flag'),
    ],
)
def test_server_header_flags(args: list[str], env: dict[str, str], expected: str | None) -> None:
    assert served(args, env).server_header == expected


def test_compression_flags() -> None:
    options = served([])
    assert options.response_compression is False
    assert options.response_compression_min_size == 1024
    assert options.response_compression_algorithms == ('br', 'zstd', 'gzip')
    options = served(
        [
            '--response-compression',
            '--response-compression-min-size',
            '0',
            '--response-compression-algorithms',
            'GZIP',
            '--response-compression-algorithms',
            'zstd',
        ]
    )
    assert options.response_compression is True
    assert options.response_compression_min_size == 0
    assert options.response_compression_algorithms == ('gzip', 'zstd')
    env = {'GRANIAN_RESPONSE_COMPRESSION': 'true', 'GRANIAN_RESPONSE_COMPRESSION_ALGORITHMS': 'br gzip'}
    assert served([], env).response_compression_algorithms == ('br', 'gzip')


@pytest.mark.parametrize(('value', 'expected'), [(None, None), (False, None), ('', None), (' svc ', 'svc')])
def test_granian_server_header_values(value: Any, expected: str | None) -> None:
    assert Granian('app:main', server_header=value).options.server_header == expected


@pytest.mark.parametrize(
    ('kwargs', 'option'),
    [
        ({'server_header': True}, 'server_header'),
        ({'server_header': 'bad\nvalue'}, 'server_header'),
        ({'server_header': 'caf\u00e9'}, 'server_header'),
        ({'response_compression': 'yes'}, 'response_compression'),
        ({'response_compression_min_size': -1}, 'response_compression_min_size'),
        ({'response_compression_algorithms': []}, 'response_compression_algorithms'),
        ({'response_compression_algorithms': ['deflate']}, 'response_compression_algorithms'),
        ({'response_compression_algorithms': ['gzip', 'GZIP']}, 'response_compression_algorithms'),
    ],
)
def test_granian_rejects(kwargs: dict[str, Any], option: str) -> None:
    with pytest.raises(ConfigError) as info:
        Granian('app:main', **kwargs)
    assert info.value.option == option


def test_algorithms_as_one_string() -> None:
    options = Granian('app:main', response_compression_algorithms='zstd, br').options
    assert options.response_compression_algorithms == ('zstd', 'br')
