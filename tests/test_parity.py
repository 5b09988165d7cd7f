"""What code written for Granian 2.8.7 relies on besides the flags: its public modules and names,
`granian.cli.Duration`, the `HTTP1Settings`/`HTTP2Settings` objects, the `loops` registry,
`Granian(...)` with a positional address and port, `serve(target_loader=...)` and the
`on_startup`/`on_reload`/`on_shutdown` hooks (the last ones with real servers)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from granian import Granian, __version__, loops
from granian._loops import LoopUnavailableError, resolve_loop
from granian._options import ConfigError
from granian.cli import Duration
from granian.constants import Loops, RuntimeModes, TaskImpl
from granian.errors import ConfigurationError, FatalError, PidFileError
from granian.http import HTTP1Settings, HTTP2Settings

from tests.conftest import REPO_ROOT, Server, run_cli, run_server, server_env

# -- public names ----------------------------------------------------------------------------------


def test_top_level_names() -> None:
    import granian

    assert granian.Granian is Granian
    assert granian.loops is loops
    assert isinstance(__version__, str) and __version__
    assert set(granian.__all__) == {'Granian', 'loops', '__version__'}


def test_errors_hierarchy() -> None:
    assert issubclass(ConfigurationError, FatalError)
    assert issubclass(PidFileError, FatalError)
    # An invalid option is Granian's ConfigurationError and still a ValueError.
    with pytest.raises(ConfigurationError) as info:
        Granian('app', workers=0)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ConfigError)
    assert info.value.option == 'workers'


def test_enums_have_granians_values() -> None:
    assert [member.value for member in RuntimeModes] == ['auto', 'mt', 'st']
    assert [member.value for member in TaskImpl] == ['asyncio', 'rust']
    assert {member.value for member in Loops} == {'auto', 'asyncio', 'rloop', 'uvloop', 'winloop'}


def test_native_module_under_granians_name() -> None:
    from granian import _granian, _native

    assert _granian.RsgiServer is _native.RsgiServer
    assert _granian.__version__ == _native.__version__
    assert _granian.BUILD_GIL is (not __import__('sysconfig').get_config_var('Py_GIL_DISABLED'))


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc')
def test_proc_info_collector_reads_resident_memory() -> None:
    from granian._granian import ProcInfoCollector

    collector = ProcInfoCollector()
    own = collector.memory()
    assert list(own) == [os.getpid()]
    with open(f'/proc/{os.getpid()}/status') as status:
        vm_rss = next(int(line.split()[1]) * 1024 for line in status if line.startswith('VmRSS:'))
    # Two readings a moment apart: the same order of magnitude.
    assert vm_rss / 2 < own[os.getpid()] < vm_rss * 2
    parent = os.getppid()
    assert set(collector.memory([os.getpid(), parent, 2**22 + 1])) == {os.getpid(), parent}


# -- granian.cli.Duration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('value', 'expected'),
    [
        ('10', 10),
        ('10s', 10),
        ('10m', 600),
        ('10m10s', 610),
        ('10h', 36000),
        ('10d', 864000),
        ('10d10h10m10s', 864000 + 36000 + 600 + 10),
        (45, 45),
        ('2.5', 2.5),
        ('1.5m', 90),
    ],
)
def test_duration_converts_like_granians(value: object, expected: float) -> None:
    converted = Duration().convert(value, None, None)
    assert converted == expected
    # Whole seconds are an int, as Granian returns them.
    assert type(converted) is (int if float(expected).is_integer() else float)


@pytest.mark.parametrize('value', ['10x', '10d10h10m10s10', '', '-5', 'm', '1h-1m'])
def test_duration_rejects_like_granian(value: str) -> None:
    with pytest.raises(click.BadParameter, match=f'^{value!r} is not a valid duration$'):
        Duration().convert(value, None, None)


@pytest.mark.parametrize(
    ('value', 'message'),
    [
        ('1000', "'1000' is greater than the maximum allowed value of 100 seconds"),
        ('30m', "'30m' is greater than the maximum allowed value of 100 seconds"),
        ('5', "'5' is less than the minimum allowed value of 10 seconds"),
    ],
)
def test_duration_bounds_like_granian(value: str, message: str) -> None:
    with pytest.raises(click.BadParameter, match=message):
        Duration(10, 100).convert(value, None, None)
    assert Duration(10, 100).convert('100', None, None) == 100
    assert isinstance(Duration(), click.IntRange)


# -- HTTP settings objects -------------------------------------------------------------------------


def test_http_settings_have_granians_fields_and_defaults() -> None:
    assert dataclasses.asdict(HTTP1Settings()) == {
        'header_read_timeout': 30_000,
        'keep_alive': True,
        'max_buffer_size': 417_792,
        'pipeline_flush': False,
    }
    assert dataclasses.asdict(HTTP2Settings()) == {
        'adaptive_window': False,
        'initial_connection_window_size': 1024 * 1024,
        'initial_stream_window_size': 1024 * 1024,
        'keep_alive_interval': None,
        'keep_alive_timeout': 20,
        'max_concurrent_streams': 200,
        'max_frame_size': 16384,
        'max_headers_size': 16 * 1024 * 1024,
        'max_send_buffer_size': 400 * 1024,
    }


def test_http_settings_replace_their_options() -> None:
    options = Granian(
        'app',
        http1_keep_alive=True,
        http1_settings=HTTP1Settings(keep_alive=False, max_buffer_size=65536, header_read_timeout=500),
        http2_settings=HTTP2Settings(max_concurrent_streams=50, keep_alive_interval=1000, keep_alive_timeout=3),
    ).options
    assert options.http1_keep_alive is False
    assert options.http1_buffer_size == 65536
    assert options.http1_header_read_timeout == 500
    assert options.http2_max_concurrent_streams == 50
    assert options.http2_keep_alive_interval == 1000
    assert options.http2_keep_alive_timeout == 3.0
    # Every field applies, defaults included: Granian's HTTP/2 header list limit is 16 MiB.
    assert options.http2_max_headers_size == 16 * 1024 * 1024
    assert Granian('app').options.http2_max_headers_size == 16 * 1024


def test_http_settings_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r'^http2_settings\.max_frame_size: ') as info:
        Granian('app', http2_settings=HTTP2Settings(max_frame_size=100))
    assert info.value.option == 'http2_settings'
    with pytest.raises(ConfigError, match=r'http1_settings must be a granian\.http\.HTTP1Settings'):
        Granian('app', http1_settings=HTTP2Settings())  # type: ignore[arg-type]


# -- Granian(...) ----------------------------------------------------------------------------------


def test_address_and_port_by_position() -> None:
    options = Granian('app:main', '0.0.0.0', 8080, interface='asgi').options
    assert (options.target, options.address, options.port) == ('app:main', '0.0.0.0', 8080)


def test_new_options_validate() -> None:
    options = Granian(
        'app',
        runtime_mode='st',
        task_impl='rust',
        runtime_blocking_threads=4,
        blocking_threads_idle_timeout=5,
        rss_samples=3,
        reload_ignore_patterns=[r'\.log$'],
        reload_ignore_paths=['/nonexistent/place'],
        reload_tick=5000,
    ).options
    assert options.runtime_mode is RuntimeModes.st and options.task_impl is TaskImpl.rust
    assert options.blocking_threads_idle_timeout == 5.0
    for kwargs, option in [
        ({'blocking_threads_idle_timeout': 4}, 'blocking_threads_idle_timeout'),
        ({'blocking_threads_idle_timeout': 601}, 'blocking_threads_idle_timeout'),
        ({'rss_samples': 0}, 'rss_samples'),
        ({'reload_tick': 49}, 'reload_tick'),
        ({'reload_tick': 5001}, 'reload_tick'),
        ({'reload_ignore_patterns': ['(']}, 'reload_ignore_patterns'),
        ({'runtime_mode': 'threads'}, 'runtime_mode'),
        ({'reload_filter': 'DefaultFilter'}, 'reload_filter'),
        ({'ssl_crl': [__file__]}, 'ssl_crl'),
    ]:
        with pytest.raises(ConfigError) as info:
            Granian('app', **kwargs)  # type: ignore[arg-type]
        assert info.value.option == option


def test_ssl_crl_takes_existing_files(tmp_path: object) -> None:
    cert = REPO_ROOT / 'tests' / '__init__.py'
    options = Granian('app', ssl_cert=cert, ssl_key=cert, ssl_ca=cert, ssl_crl=[cert, str(cert)]).options
    assert options.ssl_crl == (cert, cert)
    with pytest.raises(ConfigError, match='is not a file'):
        Granian('app', ssl_cert=cert, ssl_key=cert, ssl_ca=cert, ssl_crl=[REPO_ROOT / 'tests'])


def test_spawn_target_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigurationError, match='spawn_target is the internal worker entry point of Granian'):
        Granian('app').serve(spawn_target=lambda *args: None)


# -- loops -----------------------------------------------------------------------------------------


def test_loops_registry_builds_loops() -> None:
    assert 'asyncio' in loops and 'auto' in loops
    loop = loops.get('asyncio')
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert asyncio.get_event_loop_policy().get_event_loop() is loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_loops_registry_takes_a_builder_of_ones_own() -> None:
    built: list[asyncio.AbstractEventLoop] = []

    @loops.register('test-loop')
    def build() -> asyncio.AbstractEventLoop:
        built.append(asyncio.new_event_loop())
        return built[-1]

    try:
        assert 'test-loop' in loops and 'test-loop' in loops.keys()
        assert loops.get('test-loop') is built[0]
    finally:
        built[0].close()
    with pytest.raises(RuntimeError, match="'nothing' implementation not available"):
        loops.get('nothing')


def test_auto_prefers_rloop_then_uvloop() -> None:
    expected = next(name for name in ('rloop', 'uvloop', 'asyncio') if name in loops)
    assert str(resolve_loop('auto')) == expected


@pytest.mark.skipif(sys.platform == 'win32', reason='winloop is the loop there')
def test_winloop_off_windows_is_a_clear_error() -> None:
    with pytest.raises(LoopUnavailableError, match='the winloop event loop runs on win32 only'):
        loops.get('winloop')
    code, output = run_cli('--interface', 'asgi', '--loop', 'winloop', 'tests.apps.asgi_app:app')
    assert code == 2
    assert 'Error: the winloop event loop runs on win32 only' in output


LOOP_APP = 'tests.apps.api_serve:loop_app'


@pytest.mark.parametrize('loop', ['rloop', 'uvloop', 'asyncio'])
def test_workers_run_on_the_chosen_loop(loop: str) -> None:
    if loop not in loops:
        pytest.skip(f'{loop} is not installed')
    with run_server('--loop', loop, app=LOOP_APP) as server, server.client() as client:
        assert client.get('/').text == loop


# -- serve(target_loader=...) and hooks --------------------------------------------------------------


@contextmanager
def api_server(mode: str, *, ready: bool = True) -> Iterator[Server]:
    server = Server([sys.executable, '-m', 'tests.apps.api_serve', mode], env=server_env(), cwd=REPO_ROOT)
    try:
        if ready:
            server.wait_ready(1)
        yield server
    finally:
        if server.proc.poll() is None:
            server.stop()
        server.kill()


def test_target_loader_serves_an_app_object_and_hooks_run_in_the_master() -> None:
    with api_server('loader') as server:
        master = server.proc.pid
        lines = server.lines()
        startup = lines.index(f'hook: startup {master}')
        # After the socket is bound, before the worker starts.
        assert any('Listening at' in line for line in lines[:startup])
        assert not any('Spawning worker' in line for line in lines[:startup])
        response = httpx.get(server.url, timeout=10)
        text, _, pid = response.text.rpartition(':')
        assert text == 'loaded:not.imported:app' and int(pid) != master

        mark = server.mark()
        os.kill(master, signal.SIGHUP)
        server.wait_for(f'^hook: reload {master}$', start=mark)
        server.wait_for_workers(1, start=mark)
        reload_at = server.lines().index(f'hook: reload {master}')
        assert any('Received SIGHUP' in line for line in server.lines()[:reload_at])

        assert server.stop() == 0
        lines = server.lines()
        shutdown = lines.index(f'hook: shutdown {master}')
        assert any('Stopped worker-1' in line for line in lines[:shutdown])


def test_target_loader_without_wrapping() -> None:
    with api_server('unwrapped') as server:
        assert httpx.get(server.url, timeout=10).text.startswith('unwrapped:')


def test_failing_target_loader_is_reported() -> None:
    with api_server('failing-loader', ready=False) as server:
        assert server.wait_exit() == 1
        text = server.log_text
        assert 'LookupError: no app for not.imported:app' in text
        assert 'Error: the target loader raised LookupError: no app for not.imported:app' in text


def test_failing_startup_hook_stops_the_server() -> None:
    with api_server('failing-startup', ready=False) as server:
        assert server.wait_exit() != 0
        text = server.log_text
        assert 'RuntimeError: startup hook failed on purpose' in text
        assert 'Spawning worker' not in text
        # The shutdown hooks only follow a startup that completed.
        assert 'hook: shutdown' not in text


# -- Granian's command lines -------------------------------------------------------------------------

# Values Granian 2.8.7's `granian` accepts, at its bounds and in its duration forms: each must
# also be accepted here, with the same meaning.
GRANIAN_FORMS = [
    (['--backlog', '128'], 'backlog', 128),
    (['--http2-keep-alive-timeout', '1m'], 'http2_keep_alive_timeout', 60.0),
    (['--http2-keep-alive-timeout', '1'], 'http2_keep_alive_timeout', 1.0),
    (['--workers-lifetime', '60'], 'workers_lifetime', 60.0),
    (['--workers-lifetime', '1h30m'], 'workers_lifetime', 5400.0),
    (['--workers-kill-timeout', '1'], 'workers_kill_timeout', 1.0),
    (['--workers-kill-timeout', '30m'], 'workers_kill_timeout', 1800.0),
    (['--rss-sample-interval', '1'], 'rss_sample_interval', 1.0),
    (['--rss-sample-interval', '5m'], 'rss_sample_interval', 300.0),
    (['--rss-samples', '1'], 'rss_samples', 1),
    (['--metrics-scrape-interval', '1m'], 'metrics_scrape_interval', 60.0),
    (['--static-path-expires', '0'], 'static_path_expires', 0.0),
    (['--static-path-expires', '1d'], 'static_path_expires', 86400.0),
    (['--blocking-threads-idle-timeout', '5'], 'blocking_threads_idle_timeout', 5.0),
    (['--blocking-threads-idle-timeout', '10m'], 'blocking_threads_idle_timeout', 600.0),
    (['--respawn-interval', '3.5'], 'respawn_interval', 3.5),
    (['--reload-tick', '50'], 'reload_tick', 50),
    (['--reload-tick', '5000'], 'reload_tick', 5000),
    (['--http1-header-read-timeout', '60000'], 'http1_header_read_timeout', 60000),
    (['--http2-keep-alive-interval', '60000'], 'http2_keep_alive_interval', 60000),
    (['--http2-max-concurrent-streams', '10'], 'http2_max_concurrent_streams', 10),
    (['--http2-initial-connection-window-size', '1024'], 'http2_initial_connection_window_size', 1024),
    (['--http2-initial-stream-window-size', '1024'], 'http2_initial_stream_window_size', 1024),
    (['--http2-max-send-buffer-size', '1024'], 'http2_max_send_buffer_size', 1024),
    (['--http2-max-headers-size', '1'], 'http2_max_headers_size', 1),
    (['--http1-buffer-size', '8192'], 'http1_buffer_size', 8192),
    (['--runtime-mode', 'st'], 'runtime_mode', RuntimeModes.st),
    (['--runtime-blocking-threads', '1'], 'runtime_blocking_threads', 1),
    (['--task-impl', 'rust'], 'task_impl', TaskImpl.rust),
    (['--loop', 'rloop'], 'loop', Loops.rloop),
    (['--loop', 'winloop'], 'loop', Loops.winloop),
    (['--uds', '/tmp/g.sock', '--uds-permissions', '0660'], 'uds_permissions', 0o660),
    (['--reload-ignore-paths', '/not/there'], 'reload_ignore_paths', (Path('/not/there'),)),
]


def parse(args: list[str]) -> Any:
    from click.testing import CliRunner
    from granian.cli import cli

    recorded: list[Any] = []
    env = {key: None for key in os.environ if key.startswith('GRANIAN_')}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Granian, 'serve', lambda self: recorded.append(self.options))
        result = CliRunner().invoke(cli, [*args, 'app:main'], env=env, prog_name='granian')
    return result, (recorded[0] if recorded else None)


@pytest.mark.parametrize(('args', 'keyword', 'expected'), GRANIAN_FORMS, ids=lambda value: str(value))
def test_granian_command_lines_are_accepted(args: list[str], keyword: str, expected: object) -> None:
    result, options = parse(args)
    assert result.exit_code == 0, result.output
    assert getattr(options, keyword) == expected


# Accepted by Granian, refused here on purpose: values HTTP/2 (RFC 9113) or TCP do not allow.
NARROWER = [
    ['--http2-max-frame-size', '1024'],
    ['--http2-max-frame-size', '16777216'],
    ['--http2-initial-connection-window-size', str(2**31)],
    ['--http2-max-concurrent-streams', str(2**32)],
    ['--port', '70000'],
]


@pytest.mark.parametrize('args', NARROWER, ids=lambda value: ' '.join(value))
def test_values_outside_the_protocol_are_usage_errors(args: list[str]) -> None:
    result, options = parse(args)
    assert result.exit_code == 2 and options is None
    assert args[0] in result.output


def test_granians_constructor_call_with_its_own_defaults() -> None:
    """Every keyword of Granian 2.8.7's server, given as Granian's signature defaults them."""
    from granian.constants import HTTPModes, Interfaces, SSLProtocols
    from granian.log import LogLevels

    options = Granian(
        'main:app',
        address='127.0.0.1',
        port=8000,
        uds=None,
        uds_permissions=None,
        interface=Interfaces.RSGI,
        workers=1,
        blocking_threads=None,
        blocking_threads_idle_timeout=30,
        runtime_threads=1,
        runtime_blocking_threads=None,
        runtime_mode=RuntimeModes.auto,
        loop=Loops.auto,
        task_impl=TaskImpl.asyncio,
        http=HTTPModes.auto,
        websockets=True,
        backlog=1024,
        backpressure=None,
        http1_settings=None,
        http2_settings=None,
        log_enabled=True,
        log_level=LogLevels.info,
        log_dictconfig=None,
        log_access=False,
        log_access_format=None,  # type: ignore[arg-type]
        ssl_cert=None,
        ssl_key=None,
        ssl_key_password=None,
        ssl_protocol_min=SSLProtocols.tls13,
        ssl_ca=None,
        ssl_crl=None,  # type: ignore[arg-type]
        ssl_client_verify=False,
        url_path_prefix=None,
        respawn_failed_workers=False,
        respawn_interval=3.5,
        rss_sample_interval=30,
        rss_samples=1,
        workers_lifetime=None,
        workers_max_rss=None,
        workers_kill_timeout=None,
        factory=False,
        working_dir=None,
        env_files=None,  # type: ignore[arg-type]
        static_path_route=None,  # type: ignore[arg-type]
        static_path_mount=None,  # type: ignore[arg-type]
        static_path_dir_to_file=None,
        static_path_expires=86400,
        metrics_enabled=False,
        metrics_scrape_interval=15,
        metrics_address='127.0.0.1',
        metrics_port=9090,
        reload=False,
        reload_paths=None,  # type: ignore[arg-type]
        reload_ignore_dirs=None,  # type: ignore[arg-type]
        reload_ignore_patterns=None,  # type: ignore[arg-type]
        reload_ignore_paths=None,  # type: ignore[arg-type]
        reload_filter=None,
        reload_tick=50,
        reload_ignore_worker_failure=False,
        process_name=None,
        pid_file=None,
    ).options
    assert options.ssl_protocol_min is SSLProtocols.tls13
    assert options.log_access_format == Granian('x').options.log_access_format
    assert options.env_files == options.ssl_crl == options.reload_ignore_paths == ()
