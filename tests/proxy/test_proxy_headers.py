"""Proxy headers and the URL path prefix, end to end, for ASGI, RSGI and WSGI.

A server per interface trusts 127.0.0.1 (the test client) with every proxy header named and
`--url-path-prefix /app`; another per interface trusts 127.0.0.1 with the default headers
(`X-Forwarded-For` and `-Proto` only); another trusts only 10.0.0.0/8, so the same headers from
the test client are ignored. The apps (tests/apps/proxy_echo.py) answer with what their
interface reports of the origin.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from granian import Granian
from granian._options import PROXY_HEADERS
from granian.server import ConfigError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests._http import H2Client
from tests.conftest import HOST, Server, run_cli, run_server

APPS = {
    'asgi': 'tests.apps.proxy_echo:asgi_app',
    'rsgi': 'tests.apps.proxy_echo:rsgi_app',
    'wsgi': 'tests.apps.proxy_echo:wsgi_app',
}
PREFIX = '/app'
FORWARDED_BY_PROXY = [
    ('X-Forwarded-For', '203.0.113.7, 127.0.0.1'),
    ('X-Forwarded-Proto', 'https'),
    ('X-Forwarded-Host', 'example.com'),
    ('X-Forwarded-Port', '8443'),
    ('X-Forwarded-Prefix', '/edge/'),
]


@pytest.fixture(scope='module', params=list(APPS))
def trusted(request: pytest.FixtureRequest) -> Iterator[Server]:
    with run_server(
        '--proxy-headers',
        '--forwarded-allow-ips',
        '127.0.0.1, ::1',
        *(arg for name in PROXY_HEADERS for arg in ('--forwarded-headers', name)),
        '--url-path-prefix',
        PREFIX,
        app=APPS[request.param],
        interface=request.param,
    ) as running:
        yield running
        assert running.stop() == 0


@pytest.fixture(scope='module', params=list(APPS))
def default_headers(request: pytest.FixtureRequest) -> Iterator[Server]:
    with run_server('--proxy-headers', app=APPS[request.param], interface=request.param) as running:
        yield running
        assert running.stop() == 0


@pytest.fixture(scope='module', params=list(APPS))
def untrusted(request: pytest.FixtureRequest) -> Iterator[Server]:
    with run_server(
        '--proxy-headers',
        app=APPS[request.param],
        interface=request.param,
        env={'GRANIAN_FORWARDED_ALLOW_IPS': '10.0.0.0/8'},
    ) as running:
        yield running
        assert running.stop() == 0


def interface_of(server: Server) -> str:
    interface = server.option('--interface')
    assert interface is not None
    return interface


def origin(server: Server, path: str, headers: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    with server.client() as http:
        response = http.get(path, headers=headers or [])
    assert response.status_code == 200, response.text
    return response.json()


def test_trusted_proxy_rewrites_the_origin(trusted: Server) -> None:
    seen = origin(trusted, f'{PREFIX}/x', FORWARDED_BY_PROXY)
    interface = interface_of(trusted)
    if interface == 'asgi':
        assert seen['client'] == ['203.0.113.7', 0]
        assert seen['scheme'] == 'https'
        # The prefix the proxy removed goes back in front of the path; raw_path and headers stay.
        assert seen['root_path'] == '/edge/app'
        assert seen['path'] == '/edge/app/x'
        assert seen['raw_path'] == '/app/x'
        assert seen['host'] == f'{HOST}:{trusted.port}'
        assert seen['x_forwarded_for'] == '203.0.113.7, 127.0.0.1'
        assert seen['server'] == [HOST, trusted.port]
    elif interface == 'rsgi':
        assert seen['client'] == '203.0.113.7:0'
        assert seen['scheme'] == 'https'
        assert seen['authority'] == 'example.com:8443'
        # RSGI has no root path: the prefixes are not applied, as in Granian.
        assert seen['path'] == '/app/x'
        assert seen['server'] == f'{HOST}:{trusted.port}'
    else:
        assert seen['REMOTE_ADDR'] == '203.0.113.7'
        assert seen['REMOTE_PORT'] == '0'
        assert seen['wsgi.url_scheme'] == 'https'
        assert seen['HTTP_HOST'] == 'example.com:8443'
        assert seen['SCRIPT_NAME'] == '/edge/app'
        assert seen['PATH_INFO'] == '/x'
        assert seen['SERVER_PORT'] == str(trusted.port)


def test_default_headers_are_x_forwarded_for_and_proto(default_headers: Server) -> None:
    """Without --forwarded-headers, only the client address and the scheme are taken; the host,
    port and prefix a client could add through a proxy that does not overwrite them are not."""
    seen = origin(default_headers, '/d', [*FORWARDED_BY_PROXY, ('Forwarded', 'for=192.0.2.1;proto=http;host=evil')])
    interface = interface_of(default_headers)
    if interface == 'asgi':
        assert (seen['client'], seen['scheme']) == (['203.0.113.7', 0], 'https')
        assert (seen['root_path'], seen['path']) == ('', '/d')
        assert seen['host'] == f'{HOST}:{default_headers.port}'
    elif interface == 'rsgi':
        assert (seen['client'], seen['scheme']) == ('203.0.113.7:0', 'https')
        assert seen['authority'] is None
    else:
        assert (seen['REMOTE_ADDR'], seen['wsgi.url_scheme']) == ('203.0.113.7', 'https')
        assert seen['HTTP_HOST'] == f'{HOST}:{default_headers.port}'
        assert (seen['SCRIPT_NAME'], seen['PATH_INFO']) == ('', '/d')


def test_forwarded_when_named_is_preferred_over_x_forwarded(trusted: Server) -> None:
    headers = [
        ('Forwarded', 'for=198.51.100.1;proto=http, for="[2001:db8::7]:4711";proto=https;host=fwd.example'),
        ('Forwarded', 'for=127.0.0.1'),
        ('X-Forwarded-For', '192.0.2.99'),
        ('X-Forwarded-Proto', 'http'),
        ('X-Forwarded-Host', 'xfh.example'),
    ]
    seen = origin(trusted, f'{PREFIX}/', headers)
    interface = interface_of(trusted)
    if interface == 'asgi':
        assert seen['client'] == ['2001:db8::7', 4711]
        assert seen['scheme'] == 'https'
    elif interface == 'rsgi':
        assert seen['client'] == '[2001:db8::7]:4711'
        assert seen['scheme'] == 'https'
        assert seen['authority'] == 'fwd.example'
    else:
        assert (seen['REMOTE_ADDR'], seen['REMOTE_PORT']) == ('2001:db8::7', '4711')
        assert seen['wsgi.url_scheme'] == 'https'
        assert seen['HTTP_HOST'] == 'fwd.example'


@pytest.mark.parametrize(
    ('headers', 'client'),
    [
        # The nearest element is malformed: who the client is cannot be told. Forwarded, being
        # present, is still the only source: X-Forwarded-* stay unread.
        (
            [('Forwarded', 'for="unterminated'), ('X-Forwarded-For', '192.0.2.99'), ('X-Forwarded-Proto', 'https')],
            'unknown',
        ),
        ([('Forwarded', 'for=[2001:db8::1]')], 'unknown'),
        # A malformed element beyond the client is never reached.
        ([('Forwarded', 'for="unterminated'), ('Forwarded', 'for=192.0.2.5')], '192.0.2.5'),
        (
            [
                ('X-Forwarded-For', 'not an address'),
                ('X-Forwarded-Proto', '1nvalid'),
                ('X-Forwarded-Host', 'user@evil.example'),
                ('X-Forwarded-Port', '99999'),
                ('X-Forwarded-Prefix', 'no-slash'),
            ],
            'unknown',
        ),
        ([('X-Forwarded-For', '192.0.2.1:99999'), ('X-Forwarded-Prefix', '/a?b')], 'unknown'),
        ([('X-Forwarded-For', 'a"b, 203.0.113.9')], '203.0.113.9'),
    ],
    ids=[
        'forwarded-unterminated',
        'forwarded-unquoted-ipv6',
        'forwarded-junk-beyond-the-client',
        'x-forwarded-junk',
        'x-forwarded-bad-port',
        'x-forwarded-junk-beyond-the-client',
    ],
)
def test_malformed_headers_are_ignored(trusted: Server, headers: list[tuple[str, str]], client: str) -> None:
    """A malformed value changes nothing, except in the walk over the hops, which it ends: the
    client is then `unknown`, never the trusted proxy that passed the value on."""
    seen = origin(trusted, f'{PREFIX}/y', headers)
    interface = interface_of(trusted)
    if interface == 'asgi':
        assert seen['client'] == [client, 0]
        assert seen['scheme'] == 'http'
        assert (seen['root_path'], seen['path']) == (PREFIX, f'{PREFIX}/y')
    elif interface == 'rsgi':
        assert seen['client'] == (client if client == 'unknown' else f'{client}:0')
        assert seen['scheme'] == 'http'
        assert seen['authority'] is None
    else:
        assert (seen['REMOTE_ADDR'], seen['REMOTE_PORT']) == (client, '0')
        assert seen['wsgi.url_scheme'] == 'http'
        assert seen['HTTP_HOST'] == f'{HOST}:{trusted.port}'
        assert (seen['SCRIPT_NAME'], seen['PATH_INFO']) == (PREFIX, '/y')


def test_url_path_prefix_without_proxy_headers(trusted: Server) -> None:
    interface = interface_of(trusted)
    at_root = origin(trusted, PREFIX)
    outside = origin(trusted, '/apple/pie')
    if interface == 'asgi':
        # As in Granian: root_path is the prefix and path stays the full request path.
        assert (at_root['root_path'], at_root['path']) == (PREFIX, PREFIX)
        assert (outside['root_path'], outside['path']) == (PREFIX, '/apple/pie')
    elif interface == 'rsgi':
        assert at_root['path'] == PREFIX
        assert outside['path'] == '/apple/pie'
    else:
        # PEP 3333: SCRIPT_NAME + PATH_INFO is the path; the prefix alone leaves '/', as in Granian.
        assert (at_root['SCRIPT_NAME'], at_root['PATH_INFO']) == (PREFIX, '/')
        # Only a whole path segment is removed.
        assert (outside['SCRIPT_NAME'], outside['PATH_INFO']) == (PREFIX, '/apple/pie')


def test_untrusted_peer_headers_are_ignored(untrusted: Server) -> None:
    seen = origin(untrusted, '/z', [*FORWARDED_BY_PROXY, ('Forwarded', 'for=192.0.2.1;proto=https')])
    interface = interface_of(untrusted)
    if interface == 'asgi':
        assert seen['client'][0] == HOST
        assert seen['scheme'] == 'http'
        assert (seen['root_path'], seen['path']) == ('', '/z')
    elif interface == 'rsgi':
        assert seen['client'].startswith(f'{HOST}:')
        assert seen['scheme'] == 'http'
        assert seen['authority'] is None
    else:
        assert seen['REMOTE_ADDR'] == HOST
        assert seen['wsgi.url_scheme'] == 'http'
        assert seen['HTTP_HOST'] == f'{HOST}:{untrusted.port}'
        assert (seen['SCRIPT_NAME'], seen['PATH_INFO']) == ('', '/z')


def test_http2_request(trusted: Server) -> None:
    with H2Client(trusted.port) as client:
        stream = client.request('GET', f'{PREFIX}/h2', headers=FORWARDED_BY_PROXY)
        response = client.wait([stream])[stream]
    assert response.status == 200
    seen = json.loads(response.body)
    interface = interface_of(trusted)
    if interface == 'asgi':
        assert (seen['client'], seen['scheme'], seen['root_path']) == (['203.0.113.7', 0], 'https', '/edge/app')
    elif interface == 'rsgi':
        assert (seen['client'], seen['scheme'], seen['authority']) == ('203.0.113.7:0', 'https', 'example.com:8443')
    else:
        assert (seen['REMOTE_ADDR'], seen['wsgi.url_scheme'], seen['HTTP_HOST']) == (
            '203.0.113.7',
            'https',
            'example.com:8443',
        )
        assert (seen['SCRIPT_NAME'], seen['PATH_INFO']) == ('/edge/app', '/h2')


def test_websocket_scope(trusted: Server) -> None:
    interface = interface_of(trusted)
    headers = [('X-Forwarded-For', '203.0.113.7'), ('X-Forwarded-Proto', 'https')]
    target = f'ws://{HOST}:{trusted.port}{PREFIX}/ws'
    if interface == 'wsgi':
        # WSGI has no websockets: the upgrade request reaches the app as plain HTTP, rewritten alike.
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(target, additional_headers=headers, open_timeout=5)
        seen = json.loads(refused.value.response.body or b'{}')
        assert (seen['REMOTE_ADDR'], seen['wsgi.url_scheme'], seen['PATH_INFO']) == ('203.0.113.7', 'https', '/ws')
        return
    with ws_connect(target, additional_headers=headers, open_timeout=5) as ws:
        seen = json.loads(ws.recv(timeout=5))
    if interface == 'asgi':
        assert seen['type'] == 'websocket'
        assert (seen['client'], seen['scheme'], seen['root_path']) == (['203.0.113.7', 0], 'wss', PREFIX)
    else:
        assert seen['type'] == 'ws'
        assert (seen['client'], seen['scheme']) == ('203.0.113.7:0', 'https')


def test_unix_socket_peers_are_trusted() -> None:
    with tempfile.TemporaryDirectory(prefix='granian-') as directory:
        path = Path(directory) / 'proxy.sock'
        with run_server(
            '--uds',
            str(path),
            '--proxy-headers',
            '--forwarded-allow-ips',
            '10.0.0.0/8',
            app=APPS['asgi'],
            port=None,
            ready=False,
        ) as server:
            server.wait_for(rf'Listening at: unix:{path}')
            server.wait_for_workers(1)
            transport = httpx.HTTPTransport(uds=str(path))
            with httpx.Client(transport=transport, base_url='http://granian', timeout=10.0) as http:
                response = http.get('/', headers=[('X-Forwarded-For', '203.0.113.7'), ('X-Forwarded-Proto', 'https')])
            assert response.status_code == 200
            assert (response.json()['client'], response.json()['scheme']) == (['203.0.113.7', 0], 'https')
            assert server.stop() == 0


# -- configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('args', 'env', 'message'),
    [
        (['--forwarded-allow-ips', '10.0.0.1/8'], {}, "'10.0.0.1/8'"),
        (['--forwarded-allow-ips', '127.0.0.1,localhost'], {}, "'localhost'"),
        ([], {'GRANIAN_FORWARDED_ALLOW_IPS': '10.0.0.0/33'}, "'10.0.0.0/33'"),
        (['--url-path-prefix', 'app'], {}, "must start with '/'"),
        (['--forwarded-headers', 'x-real-ip'], {}, "'x-real-ip'"),
    ],
    ids=['host-bits', 'name', 'env-prefix-length', 'prefix-without-slash', 'unknown-header'],
)
def test_bad_values_refuse_to_start(args: list[str], env: dict[str, str], message: str) -> None:
    code, output = run_cli('--proxy-headers', *args, 'tests.apps.proxy_echo:asgi_app', env=env)
    assert code != 0
    assert message in output, output


def test_granian_keywords() -> None:
    options = Granian(
        'app:main', proxy_headers=True, forwarded_allow_ips=['10.0.0.0/8', ' ::1 ', '*'], url_path_prefix='/api//'
    ).options
    assert options.proxy_headers is True
    assert options.forwarded_allow_ips == '10.0.0.0/8,::1,*'
    assert options.url_path_prefix == '/api'
    defaults = Granian('app:main').options
    assert (defaults.proxy_headers, defaults.forwarded_allow_ips, defaults.url_path_prefix) == (
        False,
        '127.0.0.1,::1',
        None,
    )
    assert Granian('app:main', url_path_prefix='/').options.url_path_prefix is None
    assert defaults.forwarded_headers == ('x-forwarded-for', 'x-forwarded-proto')
    # Any case, any order; kept in the table's order.
    named = Granian('app:main', forwarded_headers=['X-Forwarded-Prefix', 'forwarded']).options.forwarded_headers
    assert named == ('forwarded', 'x-forwarded-prefix')
    assert Granian('app:main', forwarded_headers='x-forwarded-host').options.forwarded_headers == ('x-forwarded-host',)
    for bad in (
        {'forwarded_allow_ips': 'fe80::1%eth0'},
        {'forwarded_allow_ips': 42},
        {'url_path_prefix': '/a\nb'},
        {'forwarded_headers': 'x-real-ip'},
        {'forwarded_headers': []},
        {'forwarded_headers': None},
        {'forwarded_headers': ['forwarded', 'Forwarded']},
    ):
        with pytest.raises(ConfigError):
            Granian('app:main', **bad)  # type: ignore[arg-type]
