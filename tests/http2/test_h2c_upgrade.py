"""The HTTP/1.1 `Upgrade: h2c` path (RFC 7540 §3.2): 101, then the upgrading request answered on
stream 1 and ordinary HTTP/2 on the same connection; `--http 1` ignores it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests._http import H2Client, RawConnection, request_bytes
from tests.conftest import Server, module_server, run_server


@pytest.fixture(scope='module', params=['auto', '2'])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with module_server(request, '--http', request.param) as running:
        yield running


def test_upgrade_without_a_body(server: Server) -> None:
    with H2Client(server.port, upgrade=('GET', '/scope/up%20grade?x=1', b'')) as client:
        assert client.upgrade_head.startswith(b'HTTP/1.1 101 '), client.upgrade_head
        head = client.upgrade_head.lower()
        assert b'\r\nupgrade: h2c' in head
        assert b'\r\nconnection: upgrade' in head
        response = client.wait([1])[1]
        assert response.status == 200
        scope = json.loads(response.body)
        assert scope['http_version'] == '2'
        assert scope['method'] == 'GET'
        assert scope['path'] == '/scope/up grade'
        assert scope['query_string'] == 'x=1'
        names = [name for name, _ in scope['headers']]
        # The upgrade's own headers stay behind on HTTP/1.1; the host became :authority.
        assert 'upgrade' not in names
        assert 'http2-settings' not in names
        assert 'connection' not in names
        assert ['host', f'127.0.0.1:{server.port}'] in scope['headers']
        # Then the connection is ordinary HTTP/2: more streams, multiplexed.
        streams = [client.request('GET', '/'), client.request('POST', '/echo', body=b'after upgrade')]
        responses = client.wait(streams)
        assert responses[streams[0]].body == b'Hello, world!'
        assert responses[streams[1]].body == b'after upgrade'


def test_upgrade_with_a_body(server: Server) -> None:
    payload = os.urandom(200_000)
    with H2Client(server.port, upgrade=('POST', '/body-info', payload)) as client:
        assert client.upgrade_head.startswith(b'HTTP/1.1 101 '), client.upgrade_head
        response = client.wait([1])[1]
    assert response.status == 200
    info = json.loads(response.body)
    assert info['length'] == len(payload)
    assert info['sha256'] == hashlib.sha256(payload).hexdigest()


def test_invalid_settings_header_is_served_as_http1(server: Server) -> None:
    headers = [('Connection', 'Upgrade, HTTP2-Settings'), ('Upgrade', 'h2c'), ('HTTP2-Settings', '!!not base64!!')]
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/', headers=headers))
        response = conn.read_response()
    if server.option('--http') == 'auto':
        assert response.status == 200
        assert response.body == b'Hello, world!'
    else:
        # An HTTP/2-only server serves HTTP/1.1 only to switch away from it.
        assert response.status == 505


def test_body_too_large_to_upgrade_is_served_as_http1(server: Server) -> None:
    size = 1024 * 1024 + 1
    if server.option('--http') == 'auto':
        with H2Client(server.port, upgrade=('POST', '/echo', b'x' * size), timeout=20.0) as client:
            head = client.upgrade_head
        assert head.startswith(b'HTTP/1.1 200 '), head
        return
    # An HTTP/2-only server refuses at once, without reading the body (which it would then
    # reset on close): send the head alone.
    headers = [
        ('Connection', 'Upgrade, HTTP2-Settings'),
        ('Upgrade', 'h2c'),
        ('HTTP2-Settings', 'AAMAAABk'),
        ('Content-Length', str(size)),
    ]
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('POST', '/echo', headers=headers))
        assert conn.read_head().status == 505


@pytest.mark.skipif(shutil.which('curl') is None, reason='curl is not installed')
def test_curl_http2_takes_the_upgrade(server: Server) -> None:
    result = subprocess.run(
        [
            'curl',
            '--silent',
            '--show-error',
            '--http2',
            '--data-binary',
            'from curl',
            '--write-out',
            '\n%{http_version}',
            f'http://127.0.0.1:{server.port}/echo',
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    body, _, version = result.stdout.rpartition('\n')
    assert version == '2'
    assert body == 'from curl'


def test_http1_mode_ignores_the_upgrade() -> None:
    with run_server('--http', '1') as server, H2Client(server.port, upgrade=('GET', '/', b'')) as client:
        assert client.upgrade_head.startswith(b'HTTP/1.1 200 '), client.upgrade_head


@pytest.mark.parametrize(('mode', 'status'), [('auto', 200), ('2', 505)])
def test_no_h2c_upgrade_serves_the_request_as_http1(mode: str, status: int) -> None:
    """Behind a proxy that passes `Upgrade` on: the request stays HTTP/1.1 (and gets 505 from an
    HTTP/2-only server, as any HTTP/1.1 request); prior knowledge still works."""
    with run_server('--http', mode, '--no-h2c-upgrade') as server:
        with RawConnection(server.port) as conn:
            conn.send(
                request_bytes(
                    'GET',
                    '/',
                    headers=[
                        ('Connection', 'Upgrade, HTTP2-Settings'),
                        ('Upgrade', 'h2c'),
                        ('HTTP2-Settings', 'AAMAAABkAAQCAAAAAAIAAAAA'),
                    ],
                )
            )
            response = conn.read_response()
            assert response.status == status, response
            assert response.header('upgrade') is None
            if status == 200:
                assert response.body == b'Hello, world!'
                # Still HTTP/1.1 on this connection: a second request is answered in kind.
                conn.send(request_bytes('GET', '/'))
                assert conn.read_response().version == 'HTTP/1.1'
        with H2Client(server.port) as client:
            stream = client.request('GET', '/')
            assert client.wait([stream])[stream].status == 200
