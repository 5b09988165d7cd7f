"""The master process: workers, signals, exit codes, settings from the environment, reload."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests._http import H2Client, IncompleteResponse, RawConnection, app_record, assert_serves, request_bytes
from tests.conftest import DEFAULT_APP, HOST, free_port, run_cli, run_server

LINUX = sys.platform.startswith('linux')


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (zombies count as gone: they only wait to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if LINUX:
        try:
            stat = Path(f'/proc/{pid}/stat').read_text()
        except FileNotFoundError:
            return False
        return stat.rpartition(')')[2].split()[0] != 'Z'
    return True


def parent_pid(pid: int) -> int:
    stat = Path(f'/proc/{pid}/stat').read_text()
    return int(stat.rpartition(')')[2].split()[1])


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """The pids still alive after up to `timeout` seconds (they are reaped asynchronously)."""
    deadline = time.monotonic() + timeout
    alive = [pid for pid in pids if process_alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if process_alive(pid)]
    return alive


def test_startup_log() -> None:
    with run_server() as server:
        main_pid = int(server.wait_for(r'Starting granian \(main PID: (\d+)\)')[0].group(1))
        assert main_pid == server.proc.pid
        assert server.wait_for(r'^\[INFO\] Listening at: http://127\.0\.0\.1:\d+$')
        assert len(server.worker_pids()) == 1
        assert_serves(server.port)


def test_two_workers() -> None:
    with run_server(workers=2) as server:
        spawned = server.wait_for(r'Spawning worker-(\d+) with PID: (\d+)', count=2)
        assert sorted(int(match.group(1)) for match in spawned) == [1, 2]
        assert server.wait_for_workers(2) == {1, 2}
        pids = server.worker_pids()
        assert len(set(pids)) == 2
        assert server.proc.pid not in pids
        for pid in pids:
            assert process_alive(pid), server.log_text
            if LINUX:
                assert parent_pid(pid) == server.proc.pid
        for _ in range(10):
            assert_serves(server.port)
        assert server.stop(signal.SIGTERM) == 0
    assert wait_gone(pids) == [], 'workers outlived the master'


def test_sigterm_lets_an_in_flight_request_finish() -> None:
    with run_server() as server:
        record_id = f'slow-{uuid.uuid4()}'
        with RawConnection(server.port, timeout=20.0) as conn:
            conn.send(request_bytes('GET', f'/slow?s=1&id={record_id}'))
            assert app_record(server.port, record_id, until='sleeping')['state'] == 'sleeping'
            mark = server.mark()
            server.proc.send_signal(signal.SIGTERM)
            server.wait_for(r'Shutting down granian', start=mark)
            response = conn.read_response(timeout=20.0)
        assert response.status == 200
        assert response.body == b'slept 1.0'
        assert server.wait_exit() == 0


def test_sigterm_lets_an_in_flight_http2_stream_finish() -> None:
    """Draining sends GOAWAY, yet the stream open on the connection still gets its whole response."""
    with run_server() as server, H2Client(server.port) as client:
        record_id = f'slow-h2-{uuid.uuid4()}'
        stream = client.request('GET', f'/slow?s=1.5&id={record_id}')
        assert app_record(server.port, record_id, until='sleeping')['state'] == 'sleeping'
        mark = server.mark()
        server.proc.send_signal(signal.SIGTERM)
        server.wait_for(r'Shutting down granian', start=mark)
        response, goaway = client.wait_past_goaway(stream, timeout=20.0)
        assert goaway is not None, 'no GOAWAY before the response ended'
        assert response.status == 200
        assert response.body == b'slept 1.5'
        assert server.wait_exit() == 0


def test_graceful_timeout_bounds_the_shutdown() -> None:
    with run_server('--graceful-timeout', '1') as server:
        record_id = f'too-slow-{uuid.uuid4()}'
        with RawConnection(server.port, timeout=30.0) as conn:
            conn.send(request_bytes('GET', f'/slow?s=30&id={record_id}'))
            app_record(server.port, record_id, until='sleeping')
            started = time.monotonic()
            code = server.stop(signal.SIGTERM, timeout=20.0)
            elapsed = time.monotonic() - started
            # The request was cut, not answered.
            with pytest.raises(IncompleteResponse):
                conn.read_response(timeout=5.0)
        assert code == 0
        assert elapsed < 15.0, f'shutdown took {elapsed:.1f}s with --graceful-timeout 1'


@pytest.mark.parametrize('protocol', ['http1', 'http2'])
def test_idle_connections_do_not_delay_shutdown(protocol: str) -> None:
    with run_server('--graceful-timeout', '30') as server, contextlib.ExitStack() as stack:
        if protocol == 'http1':
            conn = stack.enter_context(RawConnection(server.port))
            conn.send(request_bytes('GET', '/'))
            assert conn.read_response().status == 200
        else:
            client = stack.enter_context(H2Client(server.port))
            stream = client.request('GET', '/')
            assert client.wait([stream])[stream].status == 200
        # The connection stays open and idle while the server shuts down.
        started = time.monotonic()
        assert server.stop(signal.SIGTERM, timeout=20.0) == 0
        assert time.monotonic() - started < 10.0


def test_sigint_is_a_clean_shutdown() -> None:
    with run_server(workers=2) as server:
        pids = server.worker_pids()
        mark = server.mark()
        assert server.stop(signal.SIGINT) == 0
        assert server.wait_for(r'Shutting down granian', start=mark)
    assert wait_gone(pids) == []


def test_worker_dying_makes_the_master_exit_non_zero() -> None:
    with run_server() as server:
        [worker] = server.worker_pids()
        # The worker is a child of the server this test started.
        os.kill(worker, signal.SIGKILL)
        assert server.wait_exit() != 0


def test_lifespan_startup_failure_exits_non_zero() -> None:
    with run_server(env={'LIFESPAN_FAIL': '1'}, ready=False) as server:
        code = server.wait_exit()
        assert code != 0, server.log_text
        assert not any('Started worker-' in line for line in server.log), server.log_text


def test_settings_from_environment() -> None:
    port = free_port()
    env = {'GRANIAN_PORT': str(port), 'GRANIAN_INTERFACE': 'asgi', 'GRANIAN_WORKERS': '2'}
    with run_server(interface=None, port=None, workers=None, env=env, ready=False) as server:
        server.wait_ready(workers=2)
        assert server.port == port
        assert len(server.worker_pids()) == 2
        with httpx.Client(timeout=10.0) as http:
            assert http.get(f'http://{HOST}:{port}/scope').json()['type'] == 'http'


def test_interface_from_environment_is_used() -> None:
    # asginl is told apart from asgi by the missing lifespan state.
    with run_server(interface=None, env={'GRANIAN_INTERFACE': 'asginl'}) as server, server.client() as http:
        assert http.get('/state').json() == {'present': False}


def cli_args(*extra: str, app: str = DEFAULT_APP) -> list[str]:
    return ['--host', HOST, *extra, app]


@pytest.mark.parametrize(
    ('flag', 'value'),
    [('--interface', 'nope'), ('--port', 'x'), ('--http', '3'), ('--workers', '0'), ('--port', '70000')],
)
def test_bad_flag_is_refused_without_traceback(flag: str, value: str) -> None:
    defaults = {'--interface': 'asgi', '--port': '0'}
    defaults.pop(flag, None)
    args = [item for pair in defaults.items() for item in pair]
    code, output = run_cli(*cli_args(*args, flag, value))
    assert code != 0, output
    assert 'Traceback' not in output, output
    assert output.strip(), 'no message at all'
    assert len(output.strip().splitlines()) <= 15, output
    assert flag.lstrip('-') in output.lower(), output


@pytest.mark.parametrize(
    ('target', 'named'),
    [
        ('tests.apps.no_such_module:app', 'tests.apps.no_such_module'),
        ('tests.apps.asgi_app:no_such_attribute', 'no_such_attribute'),
    ],
)
def test_missing_target_is_refused_without_traceback(target: str, named: str) -> None:
    code, output = run_cli(*cli_args('--interface', 'asgi', '--port', '0', app=target))
    assert code != 0, output
    assert 'Traceback' not in output, output
    assert any(named in line for line in output.splitlines()), output


RELOAD_APP = """\
import os

VERSION = {version!r}


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            await send({{'type': message['type'] + '.complete'}})
            if message['type'] == 'lifespan.shutdown':
                return
    body = f'{{VERSION}} {{os.getpid()}}'.encode()
    await send({{'type': 'http.response.start', 'status': 200, 'headers': [(b'content-length', str(len(body)).encode())]}})
    await send({{'type': 'http.response.body', 'body': body}})
"""


@pytest.mark.skipif(importlib.util.find_spec('watchfiles') is None, reason='--reload needs watchfiles')
def test_reload_restarts_the_worker_when_a_file_changes(tmp_path: Path) -> None:
    module = tmp_path / 'reload_target.py'
    module.write_text(RELOAD_APP.format(version='first'))
    with run_server(
        '--reload',
        '--working-dir',
        str(tmp_path),
        app='reload_target:app',
        cwd=tmp_path,
        # Both versions must be compiled from source, never from a stale cached bytecode.
        env={'PYTHONDONTWRITEBYTECODE': '1'},
    ) as server:
        # Changes are seen from this line on.
        server.wait_for(r'Watching for changes in: ')
        with server.client() as http:
            first_version, first_pid = http.get('/').text.split()
        assert first_version == 'first'
        mark = server.mark()
        module.write_text(RELOAD_APP.format(version='second and longer'))
        server.wait_for_workers(1, start=mark)
        with server.client() as http:
            *words, second_pid = http.get('/').text.split()
        assert ' '.join(words) == 'second and longer'
        assert second_pid != first_pid
        # The master and its socket stayed: same port, no second "Listening at".
        assert len(server.wait_for(r'Listening at:')) == 1
        assert server.stop() == 0


SLOW_PATHS = {
    'asgi': ('tests.apps.asgi_app:app', '/slow?s=2'),
    'rsgi': ('tests.apps.rsgi_app:app', '/slow?s=2'),
    'wsgi': ('tests.apps.wsgi_app:app', '/sleep?seconds=2'),
}


def bind_within(port: int, timeout: float) -> float:
    """Bind a listening socket to `port` as a restarted server would (SO_REUSEADDR); how long
    it took to succeed."""
    start = time.monotonic()
    while True:
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
                sock.listen(1)
                return time.monotonic() - start
            except OSError:
                if time.monotonic() - start > timeout:
                    raise
        time.sleep(0.02)


@pytest.mark.skipif(not LINUX, reason='PR_SET_PDEATHSIG is Linux')
@pytest.mark.parametrize('interface', sorted(SLOW_PATHS))
def test_workers_die_with_a_killed_master(interface: str) -> None:
    app, slow = SLOW_PATHS[interface]
    port = free_port()
    with run_server(app=app, interface=interface, workers=2, port=port) as server:
        workers = server.worker_pids()
        assert len(workers) == 2
        with RawConnection(port, timeout=10.0) as busy, RawConnection(port) as idle:
            idle.send(request_bytes('GET', '/'))
            assert idle.read_response().status == 200
            busy.send(request_bytes('GET', slow))
            time.sleep(0.3)
            server.proc.kill()
            server.proc.wait(5.0)
            # The workers stop accepting at once: the port is free for a new server while they
            # drain, and the request in flight still gets its answer.
            assert bind_within(port, timeout=1.0) < 1.0
            assert busy.read_response().status == 200
            assert idle.wait_closed(timeout=5.0)
        assert wait_gone(workers, timeout=5.0) == []
