"""The `Server` header: `granian` by default on every interface, a custom value with
`--server-header`, none with `--no-server-header`; an application's own is always kept, and
the answers the server gives itself (413, 500) follow the same setting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._http import H2Client, RawConnection, get, request_bytes
from tests.conftest import Server, run_server

APPS = {
    'asgi': 'tests.responses.apps:asgi',
    'rsgi': 'tests.responses.apps:rsgi',
    'wsgi': 'tests.responses.apps:wsgi',
}
LIMIT = ['--max-request-body-size', '100']


@pytest.fixture(scope='module', params=sorted(APPS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with run_server(*LIMIT, app=APPS[request.param], interface=request.param) as running:
        yield running


@pytest.fixture(scope='module')
def custom() -> Iterator[Server]:
    with run_server(*LIMIT, '--server-header', 'custom/1.0', app=APPS['asgi'], interface='asgi') as running:
        yield running


@pytest.fixture(scope='module')
def headerless() -> Iterator[Server]:
    with run_server(*LIMIT, '--no-server-header', app=APPS['asgi'], interface='asgi') as running:
        yield running


def too_large(port: int) -> list[str]:
    with RawConnection(port) as conn:
        conn.send(request_bytes('POST', '/', body=b'x' * 101, headers=[('Connection', 'close')]))
        response = conn.read_response()
    assert response.status == 413
    return response.header_values('server')


def test_default_server_header(server: Server) -> None:
    response = get(server.port, '/')
    assert response.status == 200
    assert response.header_values('server') == ['granian']
    with H2Client(server.port) as client:
        stream = client.request('GET', '/')
        assert client.wait([stream])[stream].header(b'server') == b'granian'


def test_application_server_header_is_kept(server: Server, headerless: Server) -> None:
    for port in (server.port, headerless.port):
        assert get(port, '/own-server').header_values('server') == ['app-server']


def test_server_made_answers_carry_it(server: Server) -> None:
    assert too_large(server.port) == ['granian']
    failed = get(server.port, '/fail')
    assert failed.status == 500
    assert failed.header_values('server') == ['granian']


def test_custom_server_header(custom: Server) -> None:
    assert get(custom.port, '/').header_values('server') == ['custom/1.0']
    assert get(custom.port, '/own-server').header_values('server') == ['app-server']
    assert too_large(custom.port) == ['custom/1.0']
    assert get(custom.port, '/fail').header_values('server') == ['custom/1.0']


def test_no_server_header(headerless: Server) -> None:
    response = get(headerless.port, '/')
    assert response.status == 200
    assert response.header('server') is None
    assert too_large(headerless.port) == []
    assert get(headerless.port, '/fail').header('server') is None
    with H2Client(headerless.port) as client:
        stream = client.request('GET', '/')
        assert client.wait([stream])[stream].header(b'server') is None
