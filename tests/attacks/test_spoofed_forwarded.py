"""A client behind a trusted proxy sends its own `Forwarded` header to pick its address, scheme
and host.

nginx sets `X-Forwarded-For` and `X-Forwarded-Proto` and passes any other header from the client
through, `Forwarded` included. The test client plays both: it connects from 127.0.0.1, which the
server trusts by default, as the proxy would, and sends what the proxy would forward. At the
default settings the spoofed header changes nothing the application sees, on any interface;
only a server told to read `Forwarded` (`--forwarded-headers forwarded`) believes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest

from tests.conftest import HOST, Server, run_server

APPS = {
    'asgi': 'tests.apps.proxy_echo:asgi_app',
    'rsgi': 'tests.apps.proxy_echo:rsgi_app',
    'wsgi': 'tests.apps.proxy_echo:wsgi_app',
}
SPOOFED = ('Forwarded', 'for=1.2.3.4;proto=https;host=evil')
# What the client adds besides, hoping one of them is believed.
ALSO_SPOOFED = [('X-Forwarded-Host', 'evil'), ('X-Forwarded-Port', '444'), ('X-Forwarded-Prefix', '/evil')]
# What nginx in front adds: the client's address appended, the scheme overwritten.
FROM_THE_PROXY = [('X-Forwarded-For', '203.0.113.9'), ('X-Forwarded-Proto', 'http')]


class Seen(NamedTuple):
    """The client address, scheme, host and root path the application sees."""

    client: str
    scheme: str
    host: str
    root: str


@pytest.fixture(scope='module', params=[(interface, mode) for interface in APPS for mode in ('default', 'forwarded')])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    interface, mode = request.param
    args = ['--proxy-headers']
    if mode == 'forwarded':
        args += ['--forwarded-headers', 'forwarded']
    with run_server(*args, app=APPS[interface], interface=interface) as running:
        yield running
        assert running.stop() == 0


def seen(server: Server, headers: list[tuple[str, str]]) -> Seen:
    with server.client() as http:
        response = http.get('/', headers=headers)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    interface = server.option('--interface')
    if interface == 'asgi':
        return Seen(data['client'][0], data['scheme'], data['host'], data['root_path'])
    if interface == 'rsgi':
        client = data['client'].rsplit(':', 1)[0].strip('[]')
        return Seen(client, data['scheme'], data['authority'] or data['host'], '')
    return Seen(data['REMOTE_ADDR'], data['wsgi.url_scheme'], data['HTTP_HOST'], data['SCRIPT_NAME'])


def reads_forwarded(server: Server) -> bool:
    return server.option('--forwarded-headers') == 'forwarded'


def test_spoofed_forwarded_through_a_proxy(server: Server) -> None:
    own_host = f'{HOST}:{server.port}'
    got = seen(server, [SPOOFED, *ALSO_SPOOFED, *FROM_THE_PROXY])
    if reads_forwarded(server):
        # Told to read it, the server believes it over X-Forwarded-*, as RFC 7239 asks. ASGI
        # never applies a forwarded host: the `host` header stays as sent.
        assert (got.client, got.scheme) == ('1.2.3.4', 'https')
        assert got.host == (own_host if server.option('--interface') == 'asgi' else 'evil')
    else:
        # The address the proxy appended, the scheme the proxy wrote, the request's own host.
        assert got == Seen('203.0.113.9', 'http', own_host, '')


def test_spoofed_forwarded_alone(server: Server) -> None:
    """Sent straight to the server by a trusted peer with no other proxy header."""
    own_host = f'{HOST}:{server.port}'
    got = seen(server, [SPOOFED, *ALSO_SPOOFED])
    if reads_forwarded(server):
        assert (got.client, got.scheme) == ('1.2.3.4', 'https')
    else:
        assert got == Seen(HOST, 'http', own_host, '')
