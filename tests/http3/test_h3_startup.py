"""Turning HTTP/3 on and off: it needs TLS and a TCP port, says where it listens, and the
Alt-Svc advertisement follows --alt-svc."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from granian.errors import ConfigurationError
from granian.server.embed import Server

from tests.apps import h3_app
from tests.conftest import run_cli, run_server
from tests.http3._h3 import connect
from tests.http3.conftest import APP, h3_args
from tests.ops._tls import Certs


def test_http3_without_tls_is_refused() -> None:
    code, output = run_cli('--interface', 'asginl', '--port', '0', '--http3', f'{APP}:asgi')
    assert code == 2, output
    assert 'http3 needs TLS' in output


def test_http3_on_a_unix_socket_is_refused(certs: Certs, tmp_path: Path) -> None:
    code, output = run_cli('--interface', 'asginl', '--uds', f'{tmp_path}/h3.sock', *h3_args(certs), f'{APP}:asgi')
    assert code == 2, output
    assert 'http3 needs a TCP host and port' in output


def test_http3_from_the_environment_with_alt_svc_off(certs: Certs) -> None:
    env = {
        'GRANIAN_HTTP3': 'true',
        'GRANIAN_ALT_SVC': 'false',
        'GRANIAN_SSL_CERTIFICATE': str(certs.cert),
        'GRANIAN_SSL_KEYFILE': str(certs.key),
    }
    with run_server(app=f'{APP}:asgi', interface='asginl', env=env) as server:
        server.wait_for(rf'HTTP/3 at: https://127\.0\.0\.1:{server.port} \(UDP\)')
        server.wait_for(r'HTTP/1\.1 and HTTP/2 \(TCP\), HTTP/3 \(UDP\)')
        with certs.client(server.port) as http:
            response = http.get('/info')
        assert response.status_code == 200
        assert 'alt-svc' not in response.headers

        async def main() -> None:
            async with connect(server.port, certs.ca) as client:
                response = await client.request('GET', '/info')
                assert response.status == 200
                assert json.loads(response.body)['version'] == '3'

        asyncio.run(main())
        assert server.stop() == 0


def test_application_alt_svc_is_kept(certs: Certs) -> None:
    with run_server(*h3_args(certs), app=f'{APP}:asgi', interface='asginl') as server:
        with certs.client(server.port) as http:
            response = http.get('/own-alt-svc')
        assert response.status_code == 200
        assert response.headers.get_list('alt-svc') == ['clear']


def test_the_embedded_server_refuses_http3(certs: Certs) -> None:
    with pytest.raises(ConfigurationError, match='http3 is not available in an embedded server'):
        Server(h3_app.asgi, interface='asginl', http3=True, ssl_cert=certs.cert, ssl_key=certs.key)


def test_http3_on_an_inherited_unix_socket_is_refused(certs: Certs, tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(tmp_path / 'inherited.sock'))
        listener.listen()
        fd = listener.fileno()
        args = (*h3_args(certs), '--fd', str(fd))
        with run_server(*args, app=f'{APP}:asgi', interface='asginl', port=None, ready=False, pass_fds=[fd]) as server:
            assert server.wait_exit() == 2
            assert 'http3 needs a TCP socket' in server.log_text
