"""Listening sockets other than a TCP port bound by the server: a Unix socket (`--uds`), a
descriptor the test creates and passes (`--fd`), systemd socket activation (`LISTEN_FDS`), and
an IPv6 address."""

from __future__ import annotations

import os
import socket
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, Server, run_server, server_env

APPS = {'asgi': 'tests.apps.ops_app:asgi', 'rsgi': 'tests.apps.ops_app:rsgi', 'wsgi': 'tests.apps.ops_app:wsgi'}
# What each interface reports as the client of a Unix socket connection.
UNIX_CLIENT = {'asgi': None, 'rsgi': '', 'wsgi': ''}


def uds_client(path: Path) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), base_url='http://granian', timeout=10.0)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A directory with a short path: Unix socket paths are limited to about 100 bytes."""
    with tempfile.TemporaryDirectory(prefix='granian-') as name:
        yield Path(name)


@pytest.mark.parametrize('interface', sorted(APPS))
def test_serves_on_a_unix_socket(short_tmp: Path, interface: str) -> None:
    path = short_tmp / 'app.sock'
    with run_server(
        '--uds', str(path), '--uds-permissions', '640', app=APPS[interface], interface=interface, port=None, ready=False
    ) as server:
        server.wait_for(rf'Listening at: unix:{path}')
        server.wait_for_workers(1)
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
        with uds_client(path) as client:
            response = client.post('/', content=b'abc')
        assert response.status_code == 200
        data = response.json()
        assert data['client'] == UNIX_CLIENT[interface]
        assert data['scheme'] == 'http'
        assert data['body_length'] == 3
        assert server.stop() == 0
    assert not path.exists(), 'the socket file is removed on exit'


def test_replaces_a_stale_socket_file_but_nothing_else(short_tmp: Path) -> None:
    path = short_tmp / 'stale.sock'
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    with run_server('--uds', str(path), app=APPS['asgi'], port=None, ready=False) as server:
        server.wait_for(r'Listening at: unix:')
        server.wait_for_workers(1)
        with uds_client(path) as client:
            assert client.get('/').status_code == 200
    regular = short_tmp / 'regular'
    regular.write_text('keep me')
    with run_server('--uds', str(regular), app=APPS['asgi'], port=None, ready=False) as server:
        assert server.wait_exit() == 1
        assert 'is not a socket' in server.log_text
    assert regular.read_text() == 'keep me'


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    sock.listen(16)
    sock.set_inheritable(True)
    yield sock
    sock.close()


@pytest.mark.parametrize('interface', sorted(APPS))
def test_serves_on_an_inherited_descriptor(listening_socket: socket.socket, interface: str) -> None:
    fd = listening_socket.fileno()
    port = listening_socket.getsockname()[1]
    with run_server('--fd', str(fd), app=APPS[interface], interface=interface, port=None, pass_fds=[fd]) as server:
        assert server.port == port
        with httpx.Client(base_url=f'http://127.0.0.1:{port}', timeout=10.0) as client:
            data = client.get('/').json()
        host = data['client'][0] if interface == 'asgi' else data['client']
        assert host.startswith('127.0.0.1')


def test_fd_that_is_not_a_listening_socket_is_refused() -> None:
    read_end, write_end = os.pipe()
    try:
        with run_server('--fd', str(read_end), app=APPS['asgi'], port=None, ready=False, pass_fds=[read_end]) as server:
            assert server.wait_exit() == 1
            assert f'file descriptor {read_end} is not a socket' in server.log_text
    finally:
        os.close(read_end)
        os.close(write_end)


# Runs granian with the passed socket moved to descriptor 3 and LISTEN_PID set to its own PID,
# as systemd does (sd_listen_fds(3)).
SYSTEMD_SHIM = (
    'import os, sys\n'
    'os.dup2(int(sys.argv[1]), 3)\n'
    "os.environ['LISTEN_PID'] = str(os.getpid())\n"
    "os.environ['LISTEN_FDS'] = '1'\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'granian', *sys.argv[2:]])\n"
)


def test_systemd_socket_activation(listening_socket: socket.socket) -> None:
    fd = listening_socket.fileno()
    port = listening_socket.getsockname()[1]
    command = [sys.executable, '-c', SYSTEMD_SHIM, str(fd), '--interface', 'asgi', APPS['asgi']]
    server = Server(command, env=server_env(), cwd=REPO_ROOT, pass_fds=[fd])
    try:
        server.wait_ready(1)
        assert server.port == port
        assert 'Using the socket passed by systemd (file descriptor 3)' in server.log_text
        with httpx.Client(base_url=f'http://127.0.0.1:{port}', timeout=10.0) as client:
            assert client.get('/').status_code == 200
        assert server.stop() == 0
    finally:
        server.kill()


def test_listen_variables_for_another_process_are_ignored() -> None:
    # LISTEN_PID names another process: the variables are not ours, and the server binds its port.
    with run_server(app=APPS['asgi'], env={'LISTEN_PID': '1', 'LISTEN_FDS': '1'}) as server:
        assert 'systemd' not in server.log_text
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            assert client.get('/').status_code == 200


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(('::1', 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason='no IPv6 loopback on this machine')
@pytest.mark.parametrize('interface', sorted(APPS))
def test_serves_on_ipv6(interface: str) -> None:
    with run_server('--host', '::1', app=APPS[interface], interface=interface, ready=False) as server:
        match = server.wait_for(r'Listening at: http://\[::1\]:(\d+)')[0]
        server.wait_for_workers(1)
        port = int(match.group(1))
        with httpx.Client(base_url=f'http://[::1]:{port}', timeout=10.0) as client:
            data = client.get('/').json()
    client_host = data['client'][0] if interface == 'asgi' else data['client']
    assert client_host.startswith('::1') or client_host.startswith('[::1]')
