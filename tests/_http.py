"""Raw-socket HTTP clients for the end-to-end tests.

httpx hides exactly what the protocol tests look at (framing, interim responses, pipelining,
what happens to a connection after an error), so these speak bytes. Every read is bounded by a
deadline and every buffer by a size cap: a misbehaving server fails a test, it never hangs one.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import socket
import time
from collections.abc import Iterable, Sequence

import h2.config
import h2.connection
import h2.events
import hpack
import hyperframe.frame

HOST = '127.0.0.1'
TIMEOUT = 5.0
MAX_READ = 64 * 1024 * 1024

H2_PREFACE = b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'

# Statuses whose responses never carry a body (RFC 9110 §6.4.1), whatever their headers say.
_BODYLESS_STATUSES = frozenset({204, 304})


class IncompleteResponse(Exception):
    """The connection ended, or the deadline passed, before a whole response arrived."""

    def __init__(self, message: str, data: bytes) -> None:
        super().__init__(f'{message}; received {len(data)} bytes: {data[:300]!r}')
        self.data = data


@dataclasses.dataclass
class Response:
    """One parsed HTTP/1.x response."""

    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    chunked: bool = False

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]


def _parse_head(head: bytes) -> tuple[str, int, str, list[tuple[str, str]]]:
    lines = head.decode('latin-1').split('\r\n')
    version, _, rest = lines[0].partition(' ')
    code, _, reason = rest.partition(' ')
    if not version.startswith('HTTP/') or not code.isdigit():
        raise ValueError(f'not an HTTP/1.x status line: {lines[0]!r}')
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(':')
        if not sep:
            raise ValueError(f'malformed header line: {line!r}')
        headers.append((name.strip().lower(), value.strip()))
    return version, int(code), reason, headers


def _parse_chunked(buffer: bytes, start: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at `start`; (body, end offset) or None if incomplete."""
    body = bytearray()
    position = start
    while True:
        line_end = buffer.find(b'\r\n', position)
        if line_end < 0:
            return None
        size_text = buffer[position:line_end].split(b';', 1)[0].strip()
        size = int(size_text, 16)
        position = line_end + 2
        if size == 0:
            # Trailer section: header lines up to an empty line.
            while True:
                line_end = buffer.find(b'\r\n', position)
                if line_end < 0:
                    return None
                empty = line_end == position
                position = line_end + 2
                if empty:
                    return bytes(body), position
        if len(buffer) < position + size + 2:
            return None
        body += buffer[position : position + size]
        if buffer[position + size : position + size + 2] != b'\r\n':
            raise ValueError('chunk data not followed by CRLF')
        position += size + 2


def parse_response(buffer: bytes, *, method: str = 'GET', closed: bool = False) -> tuple[Response, int] | None:
    """Parse the first response in `buffer`: (response, bytes consumed), or None while incomplete.

    `closed` says the peer has closed, which ends a body delimited by the connection.
    """
    head_end = buffer.find(b'\r\n\r\n')
    if head_end < 0:
        return None
    version, status, reason, headers = _parse_head(buffer[:head_end])
    body_start = head_end + 4
    values = {name: value for name, value in headers}
    if method == 'HEAD' or status < 200 or status in _BODYLESS_STATUSES:
        return Response(version, status, reason, headers, b''), body_start
    if 'chunked' in values.get('transfer-encoding', '').lower():
        parsed = _parse_chunked(buffer, body_start)
        if parsed is None:
            return None
        body, end = parsed
        return Response(version, status, reason, headers, body, chunked=True), end
    if 'content-length' in values:
        length = int(values['content-length'])
        if len(buffer) < body_start + length:
            return None
        return Response(version, status, reason, headers, buffer[body_start : body_start + length]), body_start + length
    # RFC 9112 §6.3: no framing headers, so the body runs until the connection closes.
    if not closed:
        return None
    return Response(version, status, reason, headers, buffer[body_start:]), len(buffer)


def parse_responses(data: bytes, methods: Sequence[str] = ()) -> list[Response]:
    """Every complete response in `data`, which was read until the connection closed."""
    responses = []
    offset = 0
    while offset < len(data):
        method = methods[len(responses)] if len(responses) < len(methods) else 'GET'
        parsed = parse_response(data[offset:], method=method, closed=True)
        if parsed is None:
            break
        response, consumed = parsed
        responses.append(response)
        offset += consumed
    return responses


def request_bytes(
    method: str = 'GET',
    target: str = '/',
    *,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | None = None,
    version: str = 'HTTP/1.1',
) -> bytes:
    """Serialise a request; adds Host, and Content-Length when a body is given."""
    lines = [f'{method} {target} {version}', 'Host: 127.0.0.1']
    lines += [f'{name}: {value}' for name, value in headers]
    if body is not None:
        lines.append(f'Content-Length: {len(body)}')
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + (body or b'')


def chunked(parts: Iterable[bytes]) -> bytes:
    """Encode `parts` as a chunked body (empty parts skipped: a zero chunk ends the body)."""
    out = bytearray()
    for part in parts:
        if part:
            out += f'{len(part):x}\r\n'.encode() + part + b'\r\n'
    return bytes(out + b'0\r\n\r\n')


def connect(port: int, *, timeout: float, receive_buffer: int | None = None) -> socket.socket:
    """A TCP connection to the server; `receive_buffer` fixes the client's kernel receive buffer."""
    if receive_buffer is None:
        return socket.create_connection((HOST, port), timeout=timeout)
    # Set before connecting, the buffer is fixed (no autotuning), which bounds what the kernel
    # takes in for a client that stops reading.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(timeout)
    sock.connect((HOST, port))
    return sock


class RawConnection:
    """One client TCP connection with a read buffer, so pipelined responses parse one by one."""

    def __init__(self, port: int, *, timeout: float = TIMEOUT, receive_buffer: int | None = None) -> None:
        self.timeout = timeout
        self.sock = connect(port, timeout=timeout, receive_buffer=receive_buffer)
        self.buffer = b''
        self.closed = False

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def local_port(self) -> int:
        return self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def try_send(self, data: bytes) -> bool:
        """Send, tolerating a server that already closed (it may reject before reading all)."""
        try:
            self.sock.sendall(data)
        except OSError as exc:
            if exc.errno in (errno.EPIPE, errno.ECONNRESET, errno.ECONNABORTED):
                return False
            raise
        return True

    def _recv(self, deadline: float) -> bool:
        """Read once into the buffer; False once the peer has closed or the deadline passed."""
        if self.closed:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except ConnectionResetError:
            # A reset after the server replied still leaves the reply in our buffer.
            data = b''
        if not data:
            self.closed = True
            return False
        if len(self.buffer) + len(data) > MAX_READ:
            raise IncompleteResponse('response exceeds the read cap', self.buffer)
        self.buffer += data
        return True

    def read_response(self, *, method: str = 'GET', timeout: float | None = None) -> Response:
        """The next response (interim 1xx ones included), waiting at most `timeout` seconds."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            parsed = parse_response(self.buffer, method=method, closed=self.closed)
            if parsed is not None:
                response, consumed = parsed
                self.buffer = self.buffer[consumed:]
                return response
            if self.closed:
                raise IncompleteResponse('connection closed mid-response', self.buffer)
            if not self._recv(deadline) and not self.closed:
                raise IncompleteResponse('timed out waiting for a response', self.buffer)

    def read_head(self, *, timeout: float | None = None) -> Response:
        """The next response head; its body stays buffered for read_chunk/read_exactly."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while b'\r\n\r\n' not in self.buffer:
            if not self._recv(deadline):
                raise IncompleteResponse('no complete response head', self.buffer)
        head, _, self.buffer = self.buffer.partition(b'\r\n\r\n')
        version, status, reason, headers = _parse_head(head)
        return Response(version, status, reason, headers, b'')

    def read_chunk(self, *, timeout: float | None = None) -> bytes:
        """One chunk of a chunked body; b'' for the last chunk (its trailers consumed)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            line_end = self.buffer.find(b'\r\n')
            if line_end >= 0:
                size = int(self.buffer[:line_end].split(b';', 1)[0].strip(), 16)
                if size == 0:
                    parsed = _parse_chunked(self.buffer, 0)
                    if parsed is not None:
                        self.buffer = self.buffer[parsed[1] :]
                        return b''
                elif len(self.buffer) >= line_end + 2 + size + 2:
                    data = self.buffer[line_end + 2 : line_end + 2 + size]
                    self.buffer = self.buffer[line_end + 2 + size + 2 :]
                    return data
            if not self._recv(deadline):
                raise IncompleteResponse('no complete chunk', self.buffer)

    def read_exactly(self, size: int, *, timeout: float | None = None) -> bytes:
        """`size` more bytes (after what the buffer holds), or IncompleteResponse."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self.buffer) < size:
            if not self._recv(deadline):
                raise IncompleteResponse(f'wanted {size} bytes', self.buffer)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_until_close(self, *, timeout: float | None = None) -> bytes:
        """Everything until the peer closes; IncompleteResponse if it is still open at the deadline."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self._recv(deadline):
            pass
        if not self.closed:
            raise IncompleteResponse('connection still open at the deadline', self.buffer)
        data, self.buffer = self.buffer, b''
        return data

    def wait_closed(self, *, timeout: float | None = None) -> bool:
        """Whether the peer closes within `timeout` (bytes received meanwhile are kept)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self._recv(deadline):
            pass
        return self.closed


def exchange(port: int, data: bytes, *, timeout: float = TIMEOUT) -> bytes:
    """Send `data` on a new connection and return everything read until the server closes."""
    with RawConnection(port, timeout=timeout) as conn:
        conn.try_send(data)
        return conn.read_until_close(timeout=timeout)


def get(port: int, target: str = '/', *, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """One GET on a fresh connection."""
    with RawConnection(port) as conn:
        conn.send(request_bytes('GET', target, headers=[*headers, ('Connection', 'close')]))
        return conn.read_response()


def assert_serves(port: int) -> None:
    """A normal request on a new connection gets 200: the server survived whatever came before."""
    response = get(port, '/')
    assert response.status == 200, response
    assert response.body == b'Hello, world!'


def app_record(port: int, record_id: str, *, until: str | None = None, timeout: float = 5.0, **params: str) -> dict:
    """The test app's record `record_id` (see tests/apps/asgi_app.py), once in state `until`."""
    query = f'id={record_id}'
    if until is not None:
        query += f'&until={until}&timeout={timeout}'
    query += ''.join(f'&{key}={value}' for key, value in params.items())
    with RawConnection(port, timeout=timeout + TIMEOUT) as conn:
        conn.send(request_bytes('GET', f'/record?{query}', headers=[('Connection', 'close')]))
        response = conn.read_response()
    assert response.status == 200, response
    return json.loads(response.body)


@dataclasses.dataclass
class H2Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes = b''
    ended: bool = False
    reset: int | None = None
    trailers: list[tuple[bytes, bytes]] = dataclasses.field(default_factory=list)
    # The header lists of the informational (1xx) responses before this one.
    informational: list[list[tuple[bytes, bytes]]] = dataclasses.field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key == name), None)


class H2Client:
    """HTTP/2 with prior knowledge over one socket, driven by the `h2` state machine."""

    def __init__(
        self,
        port: int,
        *,
        timeout: float = TIMEOUT,
        receive_buffer: int | None = None,
        upgrade: tuple[str, str, bytes] | None = None,
    ) -> None:
        """Connect with prior knowledge, or with `upgrade=(method, path, body)` through an HTTP/1.1
        `Upgrade: h2c` request, whose response comes on stream 1 (`upgrade_head` holds the
        HTTP/1.1 response head; when it is not a 101, the connection stays HTTP/1.1)."""
        self.port = port
        self.timeout = timeout
        self.sock = connect(port, timeout=timeout, receive_buffer=receive_buffer)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.responses: dict[int, H2Response] = {}
        self._interim: dict[int, list[list[tuple[bytes, bytes]]]] = {}
        self.completed: list[int] = []
        self.terminated: h2.events.ConnectionTerminated | None = None
        if upgrade is None:
            self.conn.initiate_connection()
            self.sock.sendall(self.conn.data_to_send())
            self.upgrade_head = b''
        else:
            self.upgrade_head = self._upgrade(*upgrade)

    def _upgrade(self, method: str, path: str, body: bytes) -> bytes:
        settings = self.conn.initiate_upgrade_connection().decode()
        head = (
            f'{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n'
            f'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: {settings}\r\n'
        )
        if body or method == 'POST':
            head += f'Content-Length: {len(body)}\r\n'
        self.sock.sendall(head.encode() + b'\r\n' + body)
        received = b''
        while b'\r\n\r\n' not in received:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise IncompleteResponse('no response to the upgrade request', received)
            received += chunk
        response_head, _, rest = received.partition(b'\r\n\r\n')
        if response_head.startswith(b'HTTP/1.1 101 '):
            # The client's preface (SETTINGS) goes out once the server has switched.
            self.sock.sendall(self.conn.data_to_send())
            for event in self.conn.receive_data(rest):
                self._handle(event)
            outgoing = self.conn.data_to_send()
            if outgoing:
                self.sock.sendall(outgoing)
        return response_head

    def __enter__(self) -> H2Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.conn.close_connection()
            self.sock.sendall(self.conn.data_to_send())
        except OSError:
            pass
        self.sock.close()

    def request(self, method: str, path: str, *, body: bytes = b'', headers: Sequence[tuple[str, str]] = ()) -> int:
        """Open a stream; `body` must fit the initial flow-control window (64 KiB)."""
        stream_id = self.conn.get_next_available_stream_id()
        request_headers = [
            (b':method', method.encode()),
            (b':path', path.encode()),
            (b':scheme', b'http'),
            (b':authority', f'{HOST}:{self.port}'.encode()),
            *((name.lower().encode(), value.encode()) for name, value in headers),
        ]
        if body:
            request_headers.append((b'content-length', str(len(body)).encode()))
        self.conn.send_headers(stream_id, request_headers, end_stream=not body)
        if body:
            self.conn.send_data(stream_id, body, end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        return stream_id

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.InformationalResponseReceived):
            self._interim.setdefault(event.stream_id, []).append(list(event.headers))
        elif isinstance(event, h2.events.ResponseReceived):
            headers = list(event.headers)
            status = int(dict(headers)[b':status'])
            informational = self._interim.pop(event.stream_id, [])
            self.responses[event.stream_id] = H2Response(status, headers, informational=informational)
        elif isinstance(event, h2.events.TrailersReceived):
            self.responses[event.stream_id].trailers = list(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            self.responses[event.stream_id].body += event.data
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self.responses[event.stream_id].ended = True
            self.completed.append(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            response = self.responses.setdefault(event.stream_id, H2Response(0, []))
            response.reset = event.error_code
            self.completed.append(event.stream_id)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.terminated = event

    def wait(self, stream_ids: Iterable[int], *, timeout: float | None = None) -> dict[int, H2Response]:
        """Read until every stream in `stream_ids` has ended (or was reset)."""
        wanted = set(stream_ids)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not wanted <= set(self.completed):
            if self.terminated is not None:
                raise AssertionError(f'connection terminated: {self.terminated}')
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f'streams {sorted(wanted - set(self.completed))} still open at the deadline')
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise AssertionError('server closed the HTTP/2 connection')
            for event in self.conn.receive_data(data):
                self._handle(event)
            outgoing = self.conn.data_to_send()
            if outgoing:
                self.sock.sendall(outgoing)
        return {stream_id: self.responses[stream_id] for stream_id in wanted}

    def wait_past_goaway(self, stream_id: int, *, timeout: float | None = None) -> tuple[H2Response, int | None]:
        """Read one stream's response frame by frame, through a graceful GOAWAY.

        The `h2` state machine treats any GOAWAY as the end of the connection and then refuses
        the frames a graceful shutdown still sends (PING, the open streams' DATA); this reader
        decodes them itself and acknowledges PINGs, as a real client does. Returns the response
        and the last stream id of the first GOAWAY seen (None without one).
        """
        decoder = hpack.Decoder()
        response = H2Response(0, [])
        goaway: int | None = None
        buffer = b''
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not response.ended:
            while len(buffer) >= 9:
                frame, length = hyperframe.frame.Frame.parse_frame_header(memoryview(buffer[:9]))
                if len(buffer) < 9 + length:
                    break
                frame.parse_body(memoryview(buffer[9 : 9 + length]))
                buffer = buffer[9 + length :]
                if isinstance(frame, hyperframe.frame.GoAwayFrame) and goaway is None:
                    goaway = frame.last_stream_id
                elif isinstance(frame, hyperframe.frame.PingFrame) and 'ACK' not in frame.flags:
                    ack = hyperframe.frame.PingFrame(0, frame.opaque_data)
                    ack.flags.add('ACK')
                    self.sock.sendall(ack.serialize())
                elif frame.stream_id == stream_id and isinstance(frame, hyperframe.frame.HeadersFrame):
                    response.headers = [(bytes(k), bytes(v)) for k, v in decoder.decode(frame.data, raw=True)]
                    response.status = int(dict(response.headers)[b':status'])
                    response.ended = 'END_STREAM' in frame.flags
                elif frame.stream_id == stream_id and isinstance(frame, hyperframe.frame.DataFrame):
                    response.body += frame.data
                    response.ended = 'END_STREAM' in frame.flags
                elif frame.stream_id == stream_id and isinstance(frame, hyperframe.frame.RstStreamFrame):
                    response.reset = frame.error_code
                    return response, goaway
            if response.ended:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f'stream {stream_id} still open at the deadline')
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError('server closed the HTTP/2 connection')
            buffer += data
        return response, goaway
