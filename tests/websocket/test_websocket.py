"""Websockets end to end, for ASGI and RSGI: over HTTP/1.1 with the `websockets` client, over
HTTP/2 extended CONNECT with `h2`, and with peers that go silent or vanish (raw sockets).

The servers run with short liveness settings (pings after 0.5 s of quiet, 1 s to answer) and a
64 KiB message limit, so the limits show within a test's time.
"""

from __future__ import annotations

import json
import signal
import socket
import struct
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from tests._http import HOST, RawConnection, app_record, get
from tests.conftest import Server, run_server
from tests.websocket._ws import (
    BINARY,
    CLOSE,
    TEXT,
    H2Websocket,
    close_payload,
    handshake_request,
    open_raw,
    read_head,
    wait_closed,
)

APPS = {'asgi': 'tests.apps.asgi_app:app', 'rsgi': 'tests.apps.rsgi_app:app'}
LIMITS = ('--ws-max-message-size', '65536', '--ws-ping-interval', '0.5', '--ws-ping-timeout', '1')


@pytest.fixture(scope='module', params=['asgi', 'rsgi'])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with run_server(*LIMITS, app=APPS[request.param], interface=request.param) as running:
        yield running
        code = running.stop()
        if code != 0:
            raise running.fail(f'server exited with {code}')


def url(server: Server, path: str) -> str:
    return f'ws://{HOST}:{server.port}{path}'


def is_asgi(server: Server) -> bool:
    return server.option('--interface') == 'asgi'


def record_id() -> str:
    return uuid.uuid4().hex


# -- messages ------------------------------------------------------------------------------------


def test_echo_text_and_binary(server: Server) -> None:
    with ws_connect(url(server, '/ws/echo'), open_timeout=5, close_timeout=5) as ws:
        ws.send('hello')
        assert ws.recv(timeout=5) == 'hello'
        ws.send('héllo wörld ✓')
        assert ws.recv(timeout=5) == 'héllo wörld ✓'
        ws.send(b'\x00\x01\xff')
        assert ws.recv(timeout=5) == b'\x00\x01\xff'
        big = bytes(range(256)) * 200
        ws.send(big)
        assert ws.recv(timeout=5) == big
        ws.send('')
        assert ws.recv(timeout=5) == ''
        for index in range(50):
            ws.send(f'message {index}')
        assert [ws.recv(timeout=5) for _ in range(50)] == [f'message {index}' for index in range(50)]


def test_scope(server: Server) -> None:
    with ws_connect(url(server, '/ws/echo?a=1'), subprotocols=['chat'], open_timeout=5) as ws:  # type: ignore[list-item]
        ws.send('scope')
        scope = json.loads(ws.recv(timeout=5))
    if is_asgi(server):
        assert scope['type'] == 'websocket'
        assert scope['scheme'] == 'ws'
        assert scope['path'] == '/ws/echo'
        assert scope['query_string'] == 'a=1'
        assert scope['http_version'] == '1.1'
        assert scope['subprotocols'] == ['chat']
        assert 'method' not in scope
        assert 'websocket.http.response' in scope['extensions']
        assert scope['asgi'] == {'version': '3.0', 'spec_version': '2.4'}
        headers = dict(scope['headers'])
        assert headers['upgrade'].lower() == 'websocket'
        assert headers['sec-websocket-protocol'] == 'chat'
    else:
        assert scope['proto'] == 'ws'
        assert scope['path'] == '/ws/echo'
        assert scope['query_string'] == 'a=1'
        assert scope['http_version'] == '1.1'
        assert scope['method'] == 'GET'
        assert scope['headers']['sec-websocket-protocol'] == 'chat'


def test_subprotocol_and_accept_headers(server: Server) -> None:
    if not is_asgi(server):
        pytest.skip('RSGI 1.6 accept() takes no subprotocol or headers')
    subprotocols = ['chat', 'superchat']
    with ws_connect(url(server, '/ws/echo?subprotocol=superchat'), subprotocols=subprotocols) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == 'superchat'
        assert ws.response is not None
        assert ws.response.headers.get('x-ws') == 'yes'
        assert ws.response.headers.get('server') == 'granian'
    with ws_connect(url(server, '/ws/echo')) as ws:
        assert ws.subprotocol is None


# -- closing ---------------------------------------------------------------------------------------


def test_server_closes_with_its_code(server: Server) -> None:
    with ws_connect(url(server, '/ws/echo'), open_timeout=5, close_timeout=5) as ws:
        ws.send('close:4001:server bye')
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4001
    if is_asgi(server):
        assert info.value.rcvd.reason == 'server bye'


def test_client_close_reaches_the_app_and_later_sends_fail(server: Server) -> None:
    rid = record_id()
    with ws_connect(url(server, f'/ws/echo?id={rid}'), open_timeout=5, close_timeout=5) as ws:
        ws.send('ping')
        assert ws.recv(timeout=5) == 'ping'
        ws.close(4002, 'client bye')
    record = app_record(server.port, rid, until='closed')
    assert record['state'] == 'closed', record
    if is_asgi(server):
        assert record['disconnect'] == {'code': 4002, 'reason': 'client bye'}
        assert record['error'] == {'type': 'ClientDisconnected', 'is_oserror': True}
    else:
        assert record['disconnect'] == {'kind': 0, 'data': None}
        assert record['error']['type'] == 'RSGIProtocolClosed'


@pytest.mark.parametrize(('path', 'status'), [('/ws/deny', 401), ('/ws/reject', 403), ('/ws/raise', 500)])
def test_denial_responses(server: Server, path: str, status: int) -> None:
    mark = server.mark()
    with pytest.raises(InvalidStatus) as info:
        ws_connect(url(server, path), open_timeout=5)
    response = info.value.response
    assert response.status_code == status
    if path == '/ws/deny' and is_asgi(server):
        assert response.headers.get('x-denied') == 'yes'
        assert response.body == b'go away'
    if path == '/ws/raise':
        server.wait_for('websocket handler failed on purpose', start=mark)


def test_invalid_handshakes(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(
            f'GET /ws/echo HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
            'Sec-WebSocket-Version: 13\r\n\r\n'.encode()
        )
        assert conn.read_response().status == 400
    with RawConnection(server.port) as conn:
        conn.send(
            f'GET /ws/echo HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n'.encode()
        )
        response = conn.read_response()
        assert response.status == 426
        assert response.header('sec-websocket-version') == '13'


def test_rfc_6455_accept_key(server: Server) -> None:
    with socket.create_connection((HOST, server.port), timeout=5) as sock:
        sock.sendall(handshake_request(server.port, '/ws/echo', key='dGhlIHNhbXBsZSBub25jZQ=='))
        head, _ = read_head(sock)
    assert head.startswith(b'HTTP/1.1 101 ')
    headers = dict(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(b':') for line in head.split(b'\r\n')[1:])
    )
    # RFC 6455 §1.3's example.
    assert headers[b'sec-websocket-accept'] == b's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
    assert headers[b'upgrade'].lower() == b'websocket'


# -- limits and liveness ---------------------------------------------------------------------------


def test_oversize_message_closes_with_1009(server: Server) -> None:
    with ws_connect(url(server, '/ws/echo'), open_timeout=5, close_timeout=5) as ws:
        ws.send(b'x' * 65536)
        assert len(ws.recv(timeout=5)) == 65536
        ws.send(b'x' * 65537)
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1009


def test_ping_timeout_drops_a_silent_peer(server: Server) -> None:
    rid = record_id()
    sock = open_raw(server.port, f'/ws/echo?id={rid}')
    try:
        # The peer reads what arrives (pings) but never answers: dropped after about 1.5 s.
        started = time.monotonic()
        assert wait_closed(sock, timeout=10)
        assert time.monotonic() - started < 8
    finally:
        sock.close()
    record = app_record(server.port, rid, until='closed')
    assert record['state'] == 'closed', record
    if is_asgi(server):
        assert record['disconnect']['code'] == 1006


def test_a_live_peer_outlasts_the_ping_timeout(server: Server) -> None:
    with ws_connect(url(server, '/ws/echo'), open_timeout=5, close_timeout=5) as ws:
        # The client library answers the server's pings on its own.
        time.sleep(3)
        ws.send('still here')
        assert ws.recv(timeout=5) == 'still here'


@pytest.mark.parametrize('how', ['fin', 'reset'])
def test_a_vanishing_peer_frees_its_websocket(server: Server, how: str) -> None:
    rid = record_id()
    sock = open_raw(server.port, f'/ws/echo?id={rid}')
    if how == 'reset':
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    sock.close()
    record = app_record(server.port, rid, until='closed')
    assert record['state'] == 'closed', record
    if is_asgi(server):
        assert record['disconnect']['code'] == 1006
        assert record['error']['is_oserror'] is True


def _rss_kib(pid: int) -> int:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    raise AssertionError('no VmRSS')


def _open_and_drop(port: int, count: int, batch: int = 100) -> None:
    for start in range(0, count, batch):
        socks = []
        for _ in range(min(batch, count - start)):
            sock = socket.create_connection((HOST, port), timeout=10)
            sock.sendall(handshake_request(port, '/ws/echo'))
            socks.append(sock)
        for sock in socks:
            head, _ = read_head(sock, timeout=10)
            assert head.startswith(b'HTTP/1.1 101 '), head
        for sock in socks:
            sock.close()


def test_many_connect_drop_cycles_leave_memory_flat(server: Server) -> None:
    pid = int(get(server.port, '/pid').body)
    _open_and_drop(server.port, 300)
    time.sleep(1)
    before = _rss_kib(pid)
    _open_and_drop(server.port, 1000)
    time.sleep(1)
    after = _rss_kib(pid)
    # 1,000 websockets held at once would cost far more than this; dropped ones must cost nothing.
    assert after - before < 12 * 1024, (before, after)
    with ws_connect(url(server, '/ws/echo'), open_timeout=5) as ws:
        ws.send('alive')
        assert ws.recv(timeout=5) == 'alive'


# -- HTTP/2 extended CONNECT -----------------------------------------------------------------------


def _h2_echo(server: Server) -> None:
    with H2Websocket(server.port, '/ws/echo', subprotocols=('chat',)) as ws:
        assert ws.connect_protocol == 1
        assert ws.status == 200
        if is_asgi(server):
            assert ws.headers[b'sec-websocket-protocol'] == b'chat'
            assert ws.headers[b'x-ws'] == b'yes'
        ws.send(TEXT, 'over h2 ✓'.encode())
        assert ws.recv() == (TEXT, 'over h2 ✓'.encode())
        ws.send(BINARY, b'\x00' * 40000)
        assert ws.recv() == (BINARY, b'\x00' * 40000)
        ws.send(TEXT, b'scope')
        opcode, payload = ws.recv()
        scope = json.loads(payload)
        assert scope['http_version'] == '2'
        ws.send(CLOSE, close_payload(4003, 'h2 bye'))
        opcode, payload = ws.recv()
        assert opcode == CLOSE
        assert struct.unpack('!H', payload[:2])[0] == 4003


def test_http2_extended_connect(server: Server) -> None:
    _h2_echo(server)


def test_http2_denial(server: Server) -> None:
    with H2Websocket(server.port, '/ws/deny') as ws:
        assert ws.status == 401
        body = ws.wait_body()
    if is_asgi(server):
        assert body == b'go away'


@pytest.mark.parametrize('interface', ['asgi', 'rsgi'])
def test_http2_only_mode(interface: str) -> None:
    with run_server('--http', '2', *LIMITS, app=APPS[interface], interface=interface) as running:
        _h2_echo(running)


# -- switched off ----------------------------------------------------------------------------------


@pytest.mark.parametrize('interface', ['asgi', 'rsgi'])
def test_no_ws_serves_upgrades_as_http(interface: str) -> None:
    with run_server('--no-ws', app=APPS[interface], interface=interface) as running:
        with socket.create_connection((HOST, running.port), timeout=5) as sock:
            sock.sendall(handshake_request(running.port, '/ws/echo'))
            head, _ = read_head(sock)
        assert head.startswith(b'HTTP/1.1 404 '), head
        with H2Websocket(running.port, '/ws/echo') as ws:
            assert ws.status == 404


def test_env_var_switches_websockets_off() -> None:
    with run_server(app=APPS['asgi'], interface='asgi', env={'GRANIAN_WS': 'false'}) as running:
        with socket.create_connection((HOST, running.port), timeout=5) as sock:
            sock.sendall(handshake_request(running.port, '/ws/echo'))
            head, _ = read_head(sock)
        assert head.startswith(b'HTTP/1.1 404 '), head


# -- a framework -----------------------------------------------------------------------------------


def test_starlette_websocket_endpoint() -> None:
    with run_server(app='tests.apps.starlette_app:app', interface='asgi') as running:
        with ws_connect(url(running, '/ws'), subprotocols=['echo'], open_timeout=5, close_timeout=5) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == 'echo'
            ws.send('hi')
            assert ws.recv(timeout=5) == 'starlette: hi'
            ws.send('json')
            assert json.loads(ws.recv(timeout=5)) == {'framework': 'starlette', 'greeting': 'hello from lifespan'}
            ws.send('bye')
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=5)
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (4000, 'bye from starlette')


# -- shutdown --------------------------------------------------------------------------------------


@pytest.mark.parametrize('interface', ['asgi', 'rsgi'])
def test_shutdown_closes_open_websockets_with_1001(interface: str) -> None:
    with run_server(app=APPS[interface], interface=interface) as running:
        with ws_connect(url(running, '/ws/echo'), open_timeout=5, close_timeout=5) as ws:
            ws.send('before')
            assert ws.recv(timeout=5) == 'before'
            running.proc.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(timeout=10)
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1001
        # Long before --graceful-timeout (30 s): the websocket did not hold the drain up.
        assert running.wait_exit(timeout=10) == 0
