"""`--proxy-protocol`: every connection starts with a PROXY header (v1 or v2), taken off before the
TLS handshake and the protocol sniff; the client address it carries is what every interface and
the access log report, its TLS TLV makes the scheme `https`. Peers outside
`--forwarded-allow-ips`, and connections without a valid header, are closed before anything
reaches the application: the app counts its calls (`calls` in each answer), so a test reads the
count before and after and sees that nothing came in between.

pairs with crates/proxyprotocol and py/src/proxy_protocol.rs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import ssl
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import pytest

from tests._http import RawConnection, parse_response, request_bytes
from tests.conftest import Server, run_server
from tests.ops._tls import make_certs

APPS = {
    'asgi': 'tests.apps.deploy_app:asgi_app',
    'rsgi': 'tests.apps.deploy_app:rsgi_app',
    'wsgi': 'tests.apps.deploy_app:wsgi_app',
}
CLIENT = ('203.0.113.7', 4711)
V2_SIGNATURE = b'\r\n\r\n\x00\r\nQUIT\n'


def v1(client: tuple[str, int] = CLIENT, server: tuple[str, int] = ('10.0.0.1', 443)) -> bytes:
    family = 'TCP6' if ':' in client[0] else 'TCP4'
    return f'PROXY {family} {client[0]} {server[0]} {client[1]} {server[1]}\r\n'.encode()


def v2(
    client: tuple[str, int] = CLIENT,
    server: tuple[str, int] = ('10.0.0.1', 443),
    *,
    local: bool = False,
    tls: bool = False,
) -> bytes:
    """A version 2 header over TCP/IPv4, with the `PP2_TYPE_SSL` TLV (client used TLS) if `tls`."""
    block = ipaddress.IPv4Address(client[0]).packed + ipaddress.IPv4Address(server[0]).packed
    block += struct.pack('!HH', client[1], server[1])
    if tls:
        ssl_value = bytes([0x01]) + struct.pack('!I', 0)
        block += bytes([0x20]) + struct.pack('!H', len(ssl_value)) + ssl_value
    command = 0x20 if local else 0x21
    return V2_SIGNATURE + bytes([command, 0x11]) + struct.pack('!H', len(block)) + block


def answer(data: bytes) -> dict[str, Any]:
    parsed = parse_response(data, closed=True)
    assert parsed is not None, data
    response, _ = parsed
    assert response.status == 200, response
    return json.loads(response.body)


def exchange(port: int, data: bytes, *, half_close: bool = False) -> bytes:
    """Send `data` on a new connection (then end the sending side, with `half_close`), and read
    until the server closes."""
    with RawConnection(port) as conn:
        if conn.try_send(data) and half_close:
            # The server may have closed already, having refused the bytes it read.
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_WR)
        return conn.read_until_close()


def proxied(port: int, header: bytes, target: str = '/') -> dict[str, Any]:
    """The app's answer to a GET sent after `header`."""
    return answer(exchange(port, header + request_bytes('GET', target, headers=[('Connection', 'close')])))


def client_of(interface: str, seen: dict[str, Any]) -> tuple[str, int]:
    if interface == 'rsgi':
        host, _, port = seen['client'].rpartition(':')
        return host.strip('[]'), int(port)
    host, port = seen['client']
    return host, int(port)


@pytest.fixture(scope='module', params=sorted(APPS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with run_server('--proxy-protocol', '--access-log', app=APPS[request.param], interface=request.param) as running:
        yield running


@pytest.fixture
def interface(server: Server) -> str:
    value = server.option('--interface')
    assert value is not None
    return value


def calls(port: int) -> int:
    """The app's call count, read with a valid header (that call included)."""
    count: int = proxied(port, v1())['calls']
    return count


def test_v1_and_v2_give_the_client_address(server: Server, interface: str) -> None:
    for header in (v1(), v2()):
        seen = proxied(server.port, header)
        assert client_of(interface, seen) == CLIENT
        assert seen['scheme'] == 'http'
    ipv6 = proxied(server.port, v1(('2001:db8::5', 1234), ('2001:db8::1', 80)))
    assert client_of(interface, ipv6) == ('2001:db8::5', 1234)


def test_the_access_log_shows_the_client(server: Server) -> None:
    start = server.mark()
    proxied(server.port, v1(('198.51.100.23', 999)), '/logged')
    server.wait_for(r'198\.51\.100\.23 - "GET /logged HTTP/1\.1" 200', start=start)


def test_v2_tls_tlv_means_https(server: Server) -> None:
    assert proxied(server.port, v2(tls=True))['scheme'] == 'https'


def test_local_keeps_the_real_peer(server: Server, interface: str) -> None:
    seen = proxied(server.port, v2(local=True))
    assert client_of(interface, seen)[0] == '127.0.0.1'


@pytest.mark.parametrize(
    'data',
    [
        pytest.param(request_bytes('GET', '/', headers=[('Connection', 'close')]), id='no-header'),
        pytest.param(b'PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n' + request_bytes('GET', '/'), id='bad-port'),
        pytest.param(b'PROXY TCP9 1.2.3.4 5.6.7.8 1 2\r\n' + request_bytes('GET', '/'), id='bad-family'),
        pytest.param(b'PROXY UNKNOWN ' + b'x' * 120 + b'\r\n', id='v1-too-long'),
        pytest.param(V2_SIGNATURE + b'\x31\x11\x00\x0c' + bytes(12), id='v2-bad-version'),
        pytest.param(V2_SIGNATURE + b'\x21\x11\x00\x04' + bytes(4), id='v2-short-addresses'),
        pytest.param(v1()[:20], id='truncated-v1'),
        pytest.param(v2()[:20], id='truncated-v2'),
        pytest.param(b'\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03', id='tls-hello'),
    ],
)
def test_a_connection_without_a_valid_header_never_reaches_the_app(server: Server, data: bytes) -> None:
    before = calls(server.port)
    # Closed without a byte of answer, not even a 400; a truncated header is one the client
    # stopped sending inside of.
    assert exchange(server.port, data, half_close=True) == b''
    assert calls(server.port) == before + 1


def test_a_silent_connection_is_closed_at_the_header_read_timeout() -> None:
    with run_server(
        '--proxy-protocol', '--http1-header-read-timeout', '300', app=APPS['asgi'], interface='asgi'
    ) as server:
        for data in (b'', b'PROXY TCP4 '):
            with RawConnection(server.port, timeout=10.0) as conn:
                conn.send(data)
                started = time.monotonic()
                assert conn.wait_closed(timeout=10.0)
                assert time.monotonic() - started < 5.0


def test_h2c_behind_the_header(server: Server, interface: str) -> None:
    with socket.create_connection(('127.0.0.1', server.port), timeout=5.0) as sock:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding='utf-8'))
        conn.initiate_connection()
        stream = conn.get_next_available_stream_id()
        conn.send_headers(
            stream,
            [(':method', 'GET'), (':path', '/h2'), (':scheme', 'http'), (':authority', 'example')],
            end_stream=True,
        )
        sock.sendall(v2() + conn.data_to_send())
        body, status, ended = b'', None, False
        while not ended:
            data = sock.recv(65536)
            assert data, 'closed before the response'
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = dict(event.headers)[':status']
                elif isinstance(event, h2.events.DataReceived):
                    body += event.data
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
            sock.sendall(conn.data_to_send())
    assert status == '200'
    seen = json.loads(body)
    assert client_of(interface, seen) == CLIENT
    assert seen['http_version'] in ('2', 'HTTP/2')


def test_untrusted_peers_are_refused() -> None:
    with run_server(
        '--proxy-protocol', '--forwarded-allow-ips', '10.0.0.0/8', app=APPS['asgi'], interface='asgi'
    ) as server:
        assert exchange(server.port, v2() + request_bytes('GET', '/', headers=[('Connection', 'close')])) == b''
        assert exchange(server.port, request_bytes('GET', '/', headers=[('Connection', 'close')])) == b''
    # The same requests from a trusted peer, to show the refusal is the peer's.
    with run_server(
        '--proxy-protocol', '--forwarded-allow-ips', '10.0.0.0/8,127.0.0.0/8', app=APPS['asgi'], interface='asgi'
    ) as server:
        assert proxied(server.port, v2())['calls'] == 1


def _unix_exchange(path: Path, data: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5.0)
        sock.connect(str(path))
        sock.sendall(data)
        received = b''
        # A refused connection is closed with its bytes unread: a reset, as over TCP.
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
        return received


@pytest.mark.parametrize('interface', ['asgi', 'wsgi'])
def test_unix_socket_peers_are_trusted(tmp_path: Path, interface: str) -> None:
    path = tmp_path / 'app.sock'
    request = request_bytes('GET', '/', headers=[('Connection', 'close')])
    with run_server(
        '--proxy-protocol',
        '--uds',
        str(path),
        '--forwarded-allow-ips',
        '10.0.0.0/8',
        app=APPS[interface],
        interface=interface,
        port=None,
        ready=False,
    ) as server:
        server.wait_for(r'Listening at: unix:')
        server.wait_for_workers(1)
        seen = answer(_unix_exchange(path, v1() + request))
        assert client_of(interface, seen) == CLIENT
        assert seen['calls'] == 1
        assert _unix_exchange(path, request) == b''
        # Without a header, nothing reached the app.
        assert answer(_unix_exchange(path, v2(tls=True) + request))['calls'] == 2


def test_tls_after_the_header(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    with run_server(
        '--proxy-protocol',
        '--ssl-certificate',
        str(certs.cert),
        '--ssl-keyfile',
        str(certs.key),
        app=APPS['asgi'],
        interface='asgi',
        ready=False,
    ) as server:
        server.wait_ready(1)
        context = certs.context()
        for header in (v1(), v2()):
            raw = socket.create_connection(('127.0.0.1', server.port), timeout=5.0)
            raw.sendall(header)
            with context.wrap_socket(raw, server_hostname='127.0.0.1') as tls:
                tls.sendall(request_bytes('GET', '/', headers=[('Connection', 'close')]))
                received = b''
                try:
                    while chunk := tls.recv(65536):
                        received += chunk
                except ssl.SSLEOFError:
                    pass
            seen = answer(received)
            assert client_of('asgi', seen) == CLIENT
            assert seen['scheme'] == 'https'
        # A TLS client without the header gets no handshake at all.
        raw = socket.create_connection(('127.0.0.1', server.port), timeout=5.0)
        with pytest.raises((ssl.SSLError, ConnectionError)), context.wrap_socket(raw, server_hostname='127.0.0.1'):
            pass
