"""permessage-deflate (RFC 7692) end to end, for ASGI and RSGI: negotiation with the `websockets`
client (which offers it by default) and with hand-written offers, compressed messages both ways
over HTTP/1.1 and over HTTP/2 extended CONNECT, `--no-ws-deflate`, and the message size limit
counted after decompression.
"""

from __future__ import annotations

import socket
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.sync.client import connect as ws_connect

from tests._http import HOST, get
from tests.conftest import Server, run_server
from tests.websocket._ws import (
    BINARY,
    CLOSE,
    TEXT,
    FrameParser,
    H2Websocket,
    close_payload,
    frame,
    handshake_request,
    read_head,
)

APPS = {'asgi': 'tests.apps.asgi_app:app', 'rsgi': 'tests.apps.rsgi_app:app'}
LIMIT = 2 * 1024 * 1024
ARGS = ('--ws-max-message-size', str(LIMIT))
MIB = 1024 * 1024
TAIL = b'\x00\x00\xff\xff'


@pytest.fixture(scope='module', params=['asgi', 'rsgi'])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with run_server(*ARGS, app=APPS[request.param], interface=request.param) as running:
        yield running
        code = running.stop()
        if code != 0:
            raise running.fail(f'server exited with {code}')


def url(server: Server, path: str = '/ws/echo') -> str:
    return f'ws://{HOST}:{server.port}{path}'


def extensions_answer(ws: object) -> str | None:
    response = ws.response  # type: ignore[attr-defined]
    assert response is not None
    return response.headers.get('Sec-WebSocket-Extensions')


def compress(payload: bytes) -> bytes:
    """One message compressed as RFC 7692 §7.2.1 says: raw deflate, sync flush, tail removed."""
    compressor = zlib.compressobj(wbits=-15)
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(TAIL)
    return data[: -len(TAIL)]


class Inflater:
    """The client's decompressor, recording the compressed sizes it was given."""

    def __init__(self) -> None:
        self.inflate = zlib.decompressobj(wbits=-15)
        self.sizes: list[int] = []

    def __call__(self, payload: bytes) -> bytes:
        self.sizes.append(len(payload))
        return self.inflate.decompress(payload + TAIL)


# -- over HTTP/1.1 with the websockets client --------------------------------------------------------


def test_default_offer_is_accepted_and_messages_round_trip(server: Server) -> None:
    with ws_connect(url(server), open_timeout=5, close_timeout=5, max_size=None) as ws:
        assert extensions_answer(ws) == 'permessage-deflate'
        ws.send('hello')
        assert ws.recv(timeout=5) == 'hello'
        ws.send('héllo wörld ✓')
        assert ws.recv(timeout=5) == 'héllo wörld ✓'
        ws.send(b'\x00\x01\xff')
        assert ws.recv(timeout=5) == b'\x00\x01\xff'
        ws.send('')
        assert ws.recv(timeout=5) == ''
        text = 'compressible text ' * (MIB // 18)
        ws.send(text)
        assert ws.recv(timeout=10) == text
        data = bytes(range(256)) * (MIB // 256)
        ws.send(data)
        assert ws.recv(timeout=10) == data
        for index in range(50):
            ws.send(f'message {index}')
        assert [ws.recv(timeout=5) for _ in range(50)] == [f'message {index}' for index in range(50)]


@pytest.mark.parametrize(
    'factory, answer',
    [
        (ClientPerMessageDeflateFactory(client_max_window_bits=10), 'permessage-deflate'),
        (ClientPerMessageDeflateFactory(client_max_window_bits=None), 'permessage-deflate'),
        (
            ClientPerMessageDeflateFactory(server_no_context_takeover=True),
            'permessage-deflate; server_no_context_takeover',
        ),
        (
            ClientPerMessageDeflateFactory(client_no_context_takeover=True, client_max_window_bits=9),
            'permessage-deflate; client_no_context_takeover',
        ),
        (
            ClientPerMessageDeflateFactory(server_max_window_bits=15, server_no_context_takeover=True),
            'permessage-deflate; server_no_context_takeover; server_max_window_bits=15',
        ),
        # The server compresses with a 15-bit window: a smaller one is declined.
        (ClientPerMessageDeflateFactory(server_max_window_bits=10), None),
    ],
)
def test_offer_variants(server: Server, factory: ClientPerMessageDeflateFactory, answer: str | None) -> None:
    with ws_connect(url(server), extensions=[factory], compression=None, open_timeout=5, close_timeout=5) as ws:
        assert extensions_answer(ws) == answer
        text = 'variant ' * 20000
        for _ in range(3):
            ws.send(text)
            assert ws.recv(timeout=5) == text
            ws.send(text.encode())
            assert ws.recv(timeout=5) == text.encode()


def test_uncompressed_clients_are_unaffected(server: Server) -> None:
    with ws_connect(url(server), compression=None, open_timeout=5, close_timeout=5) as ws:
        assert extensions_answer(ws) is None
        ws.send('plain')
        assert ws.recv(timeout=5) == 'plain'


def _rss_kib(pid: int) -> int:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    raise AssertionError('no VmRSS')


def test_decompressed_size_is_limited(server: Server) -> None:
    pid = int(get(server.port, '/pid').body)
    with ws_connect(url(server), open_timeout=5, close_timeout=5, max_size=None) as ws:
        assert extensions_answer(ws) == 'permessage-deflate'
        # Exactly the limit passes.
        ws.send(b'\x00' * LIMIT)
        assert ws.recv(timeout=10) == b'\x00' * LIMIT
        before = _rss_kib(pid)
        # 64 MiB of zeros is about 64 KiB on the wire: inflating stops at the limit.
        ws.send(b'\x00' * (64 * MIB))
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1009
    after = _rss_kib(pid)
    assert after - before < 16 * 1024, (before, after)


# -- raw frames: the server compresses what it sends ---------------------------------------------------


def _raw(server: Server, offer: str) -> tuple[socket.socket, bytes, bytes]:
    sock = socket.create_connection((HOST, server.port), timeout=5)
    sock.sendall(handshake_request(server.port, '/ws/echo', extra=f'Sec-WebSocket-Extensions: {offer}\r\n'))
    head, rest = read_head(sock)
    assert head.startswith(b'HTTP/1.1 101 '), head
    return sock, head, rest


def _recv(sock: socket.socket, parser: FrameParser, pending: bytes = b'') -> tuple[int, bytes]:
    frames = parser.feed(pending)
    while not frames:
        data = sock.recv(65536)
        assert data, 'server closed the connection'
        frames = parser.feed(data)
    assert len(frames) == 1
    return frames[0]


def test_server_compresses_its_messages(server: Server) -> None:
    sock, head, rest = _raw(server, 'permessage-deflate; client_max_window_bits')
    with sock:
        assert b'\r\nsec-websocket-extensions: permessage-deflate\r\n' in head.lower()
        parser = FrameParser()
        inflater = Inflater()
        parser.inflate = inflater
        text = ('the same words again ' * 50000).encode()
        sock.sendall(frame(TEXT, compress(text), rsv1=True))
        assert _recv(sock, parser, rest) == (TEXT, text)
        assert inflater.sizes[-1] < len(text) // 100
        # A message sent uncompressed on a compressed connection is fine too (RSV1 clear).
        sock.sendall(frame(BINARY, b'\x01\x02'))
        assert _recv(sock, parser) == (BINARY, b'\x01\x02')
        sock.sendall(frame(CLOSE, close_payload(1000)))
        opcode, payload = _recv(sock, parser)
        assert opcode == CLOSE
        assert struct.unpack('!H', payload[:2])[0] == 1000


def test_corrupt_compressed_data_fails_the_connection(server: Server) -> None:
    sock, _, rest = _raw(server, 'permessage-deflate')
    with sock:
        sock.sendall(frame(TEXT, b'\xff\xff\xff\xff not deflate', rsv1=True))
        opcode, payload = _recv(sock, FrameParser(), rest)
        assert opcode == CLOSE
        assert struct.unpack('!H', payload[:2])[0] == 1011


# -- HTTP/2 extended CONNECT ---------------------------------------------------------------------------


def test_http2_extended_connect(server: Server) -> None:
    with H2Websocket(server.port, '/ws/echo', extensions='permessage-deflate; client_max_window_bits') as ws:
        assert ws.status == 200
        assert ws.headers[b'sec-websocket-extensions'] == b'permessage-deflate'
        inflater = Inflater()
        ws.parser.inflate = inflater
        text = ('over h2 ✓ ' * 100000).encode()
        ws.send(TEXT, compress(text), rsv1=True)
        assert ws.recv() == (TEXT, text)
        assert inflater.sizes[-1] < len(text) // 100
        data = bytes(range(256)) * 4096
        ws.send(BINARY, compress(data), rsv1=True)
        assert ws.recv() == (BINARY, data)
        ws.send(CLOSE, close_payload(4003, 'h2 bye'))
        opcode, payload = ws.recv()
        assert opcode == CLOSE
        assert struct.unpack('!H', payload[:2])[0] == 4003


# -- switched off --------------------------------------------------------------------------------------


@pytest.mark.parametrize('how', ['flag', 'env'])
def test_no_ws_deflate_declines_the_extension(how: str) -> None:
    args = ('--no-ws-deflate',) if how == 'flag' else ()
    env = {'GRANIAN_WS_DEFLATE': 'false'} if how == 'env' else None
    with run_server(*args, app=APPS['asgi'], interface='asgi', env=env) as running:
        with ws_connect(url(running), open_timeout=5, close_timeout=5) as ws:
            assert extensions_answer(ws) is None
            text = 'uncompressed ' * 1000
            ws.send(text)
            assert ws.recv(timeout=5) == text
        with H2Websocket(running.port, '/ws/echo', extensions='permessage-deflate') as h2ws:
            assert h2ws.status == 200
            assert b'sec-websocket-extensions' not in h2ws.headers
        # A compressed frame on a connection without the extension breaks the protocol.
        sock, _, rest = _raw(running, 'permessage-deflate')
        with sock:
            sock.sendall(frame(TEXT, compress(b'sneaky'), rsv1=True))
            opcode, payload = _recv(sock, FrameParser(), rest)
            assert opcode == CLOSE
            assert struct.unpack('!H', payload[:2])[0] == 1002
