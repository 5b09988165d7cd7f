"""A plain WSGI (PEP 3333) application with one route per behaviour the end-to-end tests observe.

Routes that take `id=X` keep a record of what happened to that request (chunks sent, whether the
response iterable was closed, how reading the body ended) in this worker's memory;
`GET /record?id=X` reads it, waiting server-side with `until=STATE&timeout=T` so tests need no
polling loops. Records are per worker process, so tests that use them run a single worker.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], None]]
App = Callable[[Environ, StartResponse], Iterable[bytes]]

# Bounds every wait inside the app, so a server that never delivers leaves a record saying so.
APP_WAIT = 30.0

_RECORDS: dict[str, dict[str, Any]] = {}
_CHANGED = threading.Condition()
_LOCAL = threading.local()


def _record(record_id: str | None) -> dict[str, Any]:
    if record_id is None:
        return {}
    with _CHANGED:
        return _RECORDS.setdefault(
            record_id, {'state': 'new', 'sent': 0, 'body_bytes': 0, 'closed': False, 'error': None}
        )


def _update(record: dict[str, Any], **changes: Any) -> None:
    with _CHANGED:
        record.update(changes)
        _CHANGED.notify_all()


def _query(environ: Environ) -> dict[str, str]:
    return dict(parse_qsl(environ.get('QUERY_STRING', ''), keep_blank_values=True))


def respond(
    start_response: StartResponse,
    status: str,
    body: bytes = b'',
    *,
    content_type: str = 'text/plain; charset=utf-8',
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(status, [('Content-Type', content_type), *(headers or [])])
    return [body]


def respond_json(start_response: StartResponse, data: Any, status: str = '200 OK') -> list[bytes]:
    return respond(start_response, status, json.dumps(data).encode(), content_type='application/json')


def hello(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    return respond(start_response, '200 OK', b'Hello, world!')


def environ_view(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Every key: strings and flags as they are, tuples as lists, objects by type name; plus the
    type of every value and what the stream objects can do."""
    data: dict[str, Any] = {}
    for key, value in environ.items():
        if isinstance(value, str | bool | int) or value is None:
            data[key] = value
        elif isinstance(value, tuple):
            data[key] = list(value)
        else:
            data[key] = f'<{type(value).__name__}>'
    data['__types__'] = {key: type(value).__name__ for key, value in environ.items()}
    data['__input__'] = sorted(
        name for name in ('read', 'readline', 'readlines', '__iter__') if hasattr(environ['wsgi.input'], name)
    )
    data['__errors__'] = sorted(
        name for name in ('write', 'writelines', 'flush') if hasattr(environ['wsgi.errors'], name)
    )
    data['__file_wrapper_callable__'] = callable(environ['wsgi.file_wrapper'])
    data['__path_utf8__'] = environ['PATH_INFO'].encode('latin-1').decode('utf-8', errors='replace')
    return respond_json(start_response, data)


def echo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The request body read back in one of the ways `wsgi.input` offers (`mode`)."""
    query = _query(environ)
    mode = query.get('mode', 'read')
    stream = environ['wsgi.input']
    pieces: list[bytes]
    if mode == 'read':
        pieces = [stream.read()]
    elif mode == 'read-n':
        size = int(query.get('n', '7'))
        pieces = []
        while chunk := stream.read(size):
            # Every read but the last returns exactly `size` bytes.
            pieces.append(chunk)
        sizes = [len(piece) for piece in pieces]
        if any(length != size for length in sizes[:-1]):
            return respond(start_response, '500 Internal Server Error', f'short read: {sizes}'.encode())
    elif mode == 'readline':
        pieces = []
        while line := stream.readline():
            pieces.append(line)
    elif mode == 'readline-size':
        size = int(query.get('n', '4'))
        pieces = []
        while line := stream.readline(size):
            pieces.append(line)
    elif mode == 'readlines':
        pieces = stream.readlines()
    elif mode == 'readlines-hint':
        pieces = stream.readlines(int(query.get('n', '1')))
        pieces.append(b'|')
        pieces.append(stream.read())
    elif mode == 'iter':
        pieces = list(stream)
    else:
        return respond(start_response, '400 Bad Request', b'unknown mode')
    return respond(
        start_response,
        '200 OK',
        b''.join(pieces),
        content_type='application/octet-stream',
        headers=[('X-Pieces', str(len(pieces)))],
    )


def body_info(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    stream = environ['wsgi.input']
    digest = hashlib.sha256()
    length = 0
    while chunk := stream.read(65536):
        digest.update(chunk)
        length += len(chunk)
    return respond_json(start_response, {'length': length, 'sha256': digest.hexdigest()})


def write_view(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The imperative write() callable, alone or followed by an iterable."""
    mode = _query(environ).get('mode', 'mixed')
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    write(b'written ')
    write(bytearray(b'then '))
    if mode == 'only':
        return []
    return [b'returned', b' list']


def exc_info_view(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """`when=before`: an error before any body replaces the head with exc_info. `when=after`: the
    same once the headers went out re-raises the error (recorded under `id`)."""
    query = _query(environ)
    record = _record(query.get('id'))
    if query.get('when', 'before') == 'before':
        start_response('200 OK', [('Content-Type', 'text/plain'), ('X-First', 'yes')])
        try:
            raise ValueError('replaced before the body')
        except ValueError:
            start_response('503 Service Unavailable', [('Content-Type', 'text/plain')], sys.exc_info())
        return [b'replaced by exc_info']

    def body() -> Iterator[bytes]:
        start_response('200 OK', [('Content-Type', 'text/plain')])
        yield b'first chunk'
        try:
            raise ValueError('boom after the headers went out')
        except ValueError:
            try:
                start_response('500 Internal Server Error', [], sys.exc_info())
            except ValueError as reraised:
                _update(record, state='reraised', error=str(reraised))
                raise
            _update(record, state='not reraised')

    return body()


def second_start(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response('200 OK', [])
    try:
        start_response('201 Created', [])
    except Exception as exc:
        return [f'{type(exc).__name__}: {exc}'.encode()]
    return [b'second start_response accepted']


def late_start(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """start_response is called during the first iteration, after an empty chunk."""

    def body() -> Iterator[bytes]:
        yield b''
        start_response('200 OK', [('Content-Type', 'text/plain'), ('X-Late', 'yes')])
        yield b'started '
        yield b'late'

    return body()


def _chunk(index: int, size: int) -> bytes:
    return bytes([97 + index % 26]) * size


def list_view(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    query = _query(environ)
    count = int(query.get('n', '3'))
    size = int(query.get('size', '5'))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    chunks = [_chunk(index, size) for index in range(count)]
    return tuple(chunks) if query.get('type') == 'tuple' else chunks


class Streamer:
    """`n` chunks of `size` bytes (chunk i made of letter i mod 26), with progress and close()
    recorded under `id`; `delay` seconds between chunks."""

    def __init__(self, record: dict[str, Any], count: int, size: int, delay: float) -> None:
        self.record = record
        self.count = count
        self.size = size
        self.delay = delay
        self.index = 0

    def __iter__(self) -> Streamer:
        return self

    def __next__(self) -> bytes:
        if self.index >= self.count:
            _update(self.record, state='exhausted')
            raise StopIteration
        if self.index and self.delay:
            time.sleep(self.delay)
        chunk = _chunk(self.index, self.size)
        self.index += 1
        _update(self.record, sent=self.index, state='streaming')
        return chunk

    def close(self) -> None:
        _update(self.record, closed=True, state='closed', closed_after=self.index)


def stream(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    query = _query(environ)
    record = _record(query.get('id'))
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return Streamer(record, int(query.get('n', '10')), int(query.get('size', '1024')), float(query.get('delay', '0')))


class RecordingFile(io.FileIO):
    """A file whose close() is recorded."""

    def __init__(self, path: str, record: dict[str, Any]) -> None:
        super().__init__(path, 'rb')
        self.record = record

    def close(self) -> None:
        if not self.closed:
            _update(self.record, closed=True, state='closed')
        super().close()


def file_view(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """wsgi.file_wrapper around a real file, from `offset`; `length` sets a Content-Length."""
    query = _query(environ)
    record = _record(query.get('id'))
    handle = RecordingFile(query['path'], record)
    handle.seek(int(query.get('offset', '0')))
    headers = [('Content-Type', 'application/octet-stream')]
    if 'length' in query:
        headers.append(('Content-Length', query['length']))
    start_response('200 OK', headers)
    return environ['wsgi.file_wrapper'](handle, 8192)


def filelike_view(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """wsgi.file_wrapper around an object with no descriptor: iterated with read(blksize)."""
    size = int(_query(environ).get('size', '100000'))
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    start_response('200 OK', [('Content-Type', 'application/octet-stream')])
    return environ['wsgi.file_wrapper'](io.BytesIO(data), 1000)


def raise_error(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    raise RuntimeError('boom from /raise')


def raise_late(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """`partial`, then `n` chunks of `size` bytes, then an exception."""
    query = _query(environ)
    count = int(query.get('n', '0'))
    size = int(query.get('size', '1024'))

    def body() -> Iterator[bytes]:
        start_response('200 OK', [('Content-Type', 'text/plain')])
        yield b'partial'
        for index in range(count):
            yield _chunk(index, size)
        raise RuntimeError('boom after the headers went out')

    return body()


def bad_status(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response(_query(environ)['status'], [('Content-Type', 'text/plain')])
    return [b'unreachable']


def bad_header(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    kind = _query(environ)['kind']
    headers: Any = {
        'name': [('Bad Name', 'value')],
        'value': [('X-Split', 'a\r\nInjected: yes')],
        'not-str': [('X-Bytes', b'value')],
        'not-pair': [('X-Only',)],
        'not-latin1': [('X-Euro', '\u20ac')],
        'not-list': 'X-Header: value',
    }[kind]
    start_response('200 OK', headers)
    return [b'unreachable']


def not_bytes(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return ['text is not bytes']  # type: ignore[list-item]


def no_start(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    return [b'body without start_response'] if _query(environ).get('body') else []


def errors_view(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    errors = environ['wsgi.errors']
    errors.write('wsgi.errors first line\nwsgi.errors second ')
    errors.writelines(['line\n', 'wsgi.errors unterminated'])
    errors.flush()
    return respond(start_response, '200 OK', b'logged')


def disconnect(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Read the body 1 KiB at a time, recording how reading ended."""
    record = _record(_query(environ).get('id'))
    _update(record, state='receiving')
    stream = environ['wsgi.input']
    try:
        while chunk := stream.read(1024):
            _update(record, body_bytes=record['body_bytes'] + len(chunk))
    except OSError as exc:
        _update(record, state='disconnected', error={'type': type(exc).__name__, 'is_oserror': True})
        raise
    _update(record, state='complete')
    return respond(start_response, '200 OK', b'complete')


def record_view(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """`id` selects a record; `set=S` sets its state; `until=S&timeout=T` waits for state S."""
    query = _query(environ)
    record = _record(query['id'])
    if 'set' in query:
        _update(record, state=query['set'])
    until = query.get('until')
    if until is not None:
        with _CHANGED:
            _CHANGED.wait_for(lambda: record['state'] == until, min(float(query.get('timeout', '5')), APP_WAIT))
    with _CHANGED:
        data = {'id': query['id'], **record}
    return respond_json(start_response, data)


def status_view(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    return respond(start_response, _query(environ).get('status', '200 OK'), b'status')


def set_headers(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    return respond(
        start_response,
        '200 OK',
        b'headers',
        headers=[('X-Multi', 'a'), ('X-Multi', 'b'), ('Set-Cookie', 'a=1'), ('Set-Cookie', 'b=2')],
    )


def sleep_view(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    time.sleep(min(float(_query(environ).get('seconds', '0.5')), APP_WAIT))
    return respond(start_response, '200 OK', str(threading.get_ident()).encode())


def thread_view(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The serving thread and how many requests it served: threading.local lasts between requests."""
    _LOCAL.served = getattr(_LOCAL, 'served', 0) + 1
    return respond_json(
        start_response,
        {'thread': threading.get_ident(), 'served': _LOCAL.served, 'name': threading.current_thread().name},
    )


def pid(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    return respond(start_response, '200 OK', str(os.getpid()).encode())


def not_found(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    return respond(start_response, '404 Not Found', b'not found')


ROUTES: dict[str, App] = {
    '/': hello,
    '/environ': environ_view,
    '/echo': echo,
    '/body-info': body_info,
    '/write': write_view,
    '/exc-info': exc_info_view,
    '/second-start': second_start,
    '/late-start': late_start,
    '/list': list_view,
    '/stream': stream,
    '/file': file_view,
    '/filelike': filelike_view,
    '/raise': raise_error,
    '/raise-late': raise_late,
    '/bad-status': bad_status,
    '/bad-header': bad_header,
    '/not-bytes': not_bytes,
    '/no-start': no_start,
    '/errors': errors_view,
    '/disconnect': disconnect,
    '/record': record_view,
    '/status': status_view,
    '/set-headers': set_headers,
    '/sleep': sleep_view,
    '/thread': thread_view,
    '/pid': pid,
}


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    path = environ['PATH_INFO']
    handler = environ_view if path.startswith('/environ/') else ROUTES.get(path, not_found)
    return handler(environ, start_response)
