"""Websocket clients for the end-to-end tests that the `websockets` library cannot play: a raw
HTTP/1.1 handshake on a bare socket (a peer that goes silent or vanishes), and websockets over an
HTTP/2 extended CONNECT stream (RFC 8441) driven by the `h2` state machine. Frames are built and
parsed here (RFC 6455 §5.2); every read has a deadline.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from collections.abc import Callable

import h2.config
import h2.connection
import h2.events
import h2.settings

from tests._http import HOST, TIMEOUT, IncompleteResponse, connect

TEXT = 0x1
BINARY = 0x2
CLOSE = 0x8
PING = 0x9
PONG = 0xA


def frame(opcode: int, payload: bytes = b'', *, masked: bool = True, rsv1: bool = False) -> bytes:
    """One final frame; a client's frames are masked (RFC 6455 §5.3). `rsv1` marks a compressed
    message (RFC 7692 §6)."""
    head = bytes([0x80 | (0x40 if rsv1 else 0) | opcode])
    length = len(payload)
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack('!H', length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack('!Q', length)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))


def close_payload(code: int, reason: str = '') -> bytes:
    return struct.pack('!H', code) + reason.encode()


class FrameParser:
    """Splits a byte stream into (opcode, payload) frames (unfragmented, as the server sends them).
    Payloads of frames with RSV1 set go through `inflate` when given (permessage-deflate)."""

    def __init__(self) -> None:
        self.buffer = b''
        self.inflate: Callable[[bytes], bytes] | None = None

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buffer += data
        frames = []
        while len(self.buffer) >= 2:
            opcode = self.buffer[0] & 0x0F
            length = self.buffer[1] & 0x7F
            offset = 2
            if length == 126:
                if len(self.buffer) < 4:
                    break
                length = struct.unpack('!H', self.buffer[2:4])[0]
                offset = 4
            elif length == 127:
                if len(self.buffer) < 10:
                    break
                length = struct.unpack('!Q', self.buffer[2:10])[0]
                offset = 10
            if len(self.buffer) < offset + length:
                break
            payload = self.buffer[offset : offset + length]
            if self.buffer[0] & 0x40 and self.inflate is not None:
                payload = self.inflate(payload)
            frames.append((opcode, payload))
            self.buffer = self.buffer[offset + length :]
        return frames


def handshake_request(port: int, path: str, *, key: str | None = None, extra: str = '') -> bytes:
    key = key or base64.b64encode(os.urandom(16)).decode()
    return (
        f'GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n'
    ).encode()


def read_head(sock: socket.socket, *, timeout: float = TIMEOUT) -> tuple[bytes, bytes]:
    """The response head and whatever followed it."""
    deadline = time.monotonic() + timeout
    received = b''
    while b'\r\n\r\n' not in received:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(65536)
        if not chunk:
            raise IncompleteResponse('no handshake response', received)
        received += chunk
    head, _, rest = received.partition(b'\r\n\r\n')
    return head, rest


def open_raw(port: int, path: str = '/ws/echo', *, timeout: float = TIMEOUT) -> socket.socket:
    """A websocket opened by hand over HTTP/1.1, for peers that misbehave afterwards."""
    sock = connect(port, timeout=timeout)
    sock.sendall(handshake_request(port, path))
    head, _ = read_head(sock, timeout=timeout)
    assert head.startswith(b'HTTP/1.1 101 '), head
    return sock


def wait_closed(sock: socket.socket, *, timeout: float) -> bool:
    """Whether the server closes the connection within `timeout` (what it sends meanwhile is read)."""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True
    return False


class H2Websocket:
    """A websocket over an HTTP/2 extended CONNECT stream, with prior knowledge."""

    def __init__(
        self,
        port: int,
        path: str,
        *,
        subprotocols: tuple[str, ...] = (),
        extensions: str | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        self.timeout = timeout
        self.sock = connect(port, timeout=timeout)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())
        self.parser = FrameParser()
        self.frames: list[tuple[int, bytes]] = []
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.body = b''
        self.ended = False
        self.settings_seen = False
        deadline = time.monotonic() + timeout
        while not self.settings_seen:
            self._pump(deadline)
        self.connect_protocol = self.conn.remote_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL, 0)
        self.stream_id = self.conn.get_next_available_stream_id()
        if not self.connect_protocol:
            return
        headers = [
            (b':method', b'CONNECT'),
            (b':protocol', b'websocket'),
            (b':scheme', b'http'),
            (b':path', path.encode()),
            (b':authority', f'{HOST}:{port}'.encode()),
            (b'sec-websocket-version', b'13'),
        ]
        if subprotocols:
            headers.append((b'sec-websocket-protocol', ', '.join(subprotocols).encode()))
        if extensions is not None:
            headers.append((b'sec-websocket-extensions', extensions.encode()))
        self.conn.send_headers(self.stream_id, headers)
        self.sock.sendall(self.conn.data_to_send())
        while not self.status:
            self._pump(deadline)

    def _pump(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError('timed out on the HTTP/2 connection')
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError('server closed the HTTP/2 connection')
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                self.settings_seen = True
            elif isinstance(event, h2.events.ResponseReceived) and event.stream_id == self.stream_id:
                self.headers = dict(event.headers)
                self.status = int(self.headers[b':status'])
            elif isinstance(event, h2.events.DataReceived) and event.stream_id == self.stream_id:
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if self.status == 200:
                    self.frames += self.parser.feed(event.data)
                else:
                    self.body += event.data
            elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset) and event.stream_id == self.stream_id:
                self.ended = True
        outgoing = self.conn.data_to_send()
        if outgoing:
            self.sock.sendall(outgoing)

    def send(self, opcode: int, payload: bytes, *, rsv1: bool = False) -> None:
        data = frame(opcode, payload, rsv1=rsv1)
        step = self.conn.max_outbound_frame_size
        for start in range(0, len(data), step):
            self.conn.send_data(self.stream_id, data[start : start + step])
        self.sock.sendall(self.conn.data_to_send())

    def recv(self, *, timeout: float | None = None) -> tuple[int, bytes]:
        """The next frame other than a ping (pings are answered)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            while self.frames:
                opcode, payload = self.frames.pop(0)
                if opcode == PING:
                    self.send(PONG, payload)
                    continue
                return opcode, payload
            if self.ended:
                raise AssertionError('stream ended without another frame')
            self._pump(deadline)

    def wait_body(self, *, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.ended:
            self._pump(deadline)
        return self.body

    def close(self) -> None:
        try:
            self.conn.close_connection()
            self.sock.sendall(self.conn.data_to_send())
        except Exception:
            pass
        self.sock.close()

    def __enter__(self) -> H2Websocket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
