"""`--access-log`: one line per request, formatted by the native layer in front of every interface.

Each interface gets a server logging every atom (`ATOMS`), so each field is checked as it was
sent; the default format, JSON lines and the absence of lines without the flag have their own
servers. A line is found by a unique `x-tag` request header logged through `%(header{x-tag})s`.
"""

from __future__ import annotations

import json
import re
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._http import H2Client, RawConnection, app_record, request_bytes
from tests.conftest import Server, run_server
from tests.ops._tls import make_certs
from tests.websocket._ws import open_raw

APPS = {
    'asgi': 'tests.apps.asgi_app:app',
    'rsgi': 'tests.apps.rsgi_app:app',
    'wsgi': 'tests.apps.wsgi_app:app',
}

# Every atom, `|`-separated, behind a prefix no other line has.
ATOMS = (
    'AL|%(addr)s|%(time)s|%(dt_ms).3f|%(status)d|%(path)s|%(query_string)s|%(method)s|%(scheme)s|'
    '%(protocol)s|%(bytes_sent)d|%(header{X-Tag})s|%(response_header{Content-Type})s|%(header{x-absent})s'
)
FIELDS = (
    'addr',
    'time',
    'dt_ms',
    'status',
    'path',
    'query_string',
    'method',
    'scheme',
    'protocol',
    'bytes_sent',
    'tag',
    'content_type',
    'absent',
)
TIME = re.compile(r'\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}')


@pytest.fixture(scope='module', params=sorted(APPS))
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    interface = request.param
    with run_server('--access-log', '--access-log-fmt', ATOMS, app=APPS[interface], interface=interface) as running:
        yield running
        assert running.stop() == 0


def interface_of(server: Server) -> str:
    interface = server.option('--interface')
    assert interface is not None
    return interface


def new_tag() -> str:
    return uuid.uuid4().hex


def fields_for(server: Server, tag: str, *, start: int) -> dict[str, str]:
    """The access line tagged `tag`, split into its atoms."""
    match = server.wait_for(rf'^AL\|.*\|{tag}\|', start=start)[0]
    values = match.string.split('|')[1:]
    assert len(values) == len(FIELDS), match.string
    return dict(zip(FIELDS, values, strict=True))


def send(server: Server, method: str, target: str, tag: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One request on a new connection; (status, response body)."""
    with RawConnection(server.port) as conn:
        conn.send(request_bytes(method, target, body=body, headers=[('Connection', 'close'), ('X-Tag', tag)]))
        response = conn.read_response(method=method)
        return response.status, response.body


def test_every_atom(server: Server) -> None:
    mark, tag = server.mark(), new_tag()
    status, body = send(server, 'GET', f'/?n={tag}', tag)
    assert status == 200
    fields = fields_for(server, tag, start=mark)
    assert fields['addr'] == '127.0.0.1'
    assert TIME.fullmatch(fields['time']), fields
    assert 0 <= float(fields['dt_ms']) < 10_000
    assert fields['status'] == '200'
    assert fields['path'] == '/'
    assert fields['query_string'] == f'n={tag}'
    assert fields['method'] == 'GET'
    assert fields['scheme'] == 'http'
    assert fields['protocol'] == 'HTTP/1.1'
    assert fields['bytes_sent'] == str(len(body))
    assert fields['content_type'].startswith('text/plain')
    assert fields['absent'] == '-'


@pytest.mark.parametrize(('method', 'body'), [('POST', b'data' * 1000), ('DELETE', None)])
def test_method_path_and_bytes_of_a_bigger_body(server: Server, method: str, body: bytes | None) -> None:
    mark, tag = server.mark(), new_tag()
    status, received = send(server, method, '/echo', tag, body=body)
    fields = fields_for(server, tag, start=mark)
    assert (fields['method'], fields['path'], fields['query_string']) == (method, '/echo', '')
    assert fields['status'] == str(status)
    assert fields['bytes_sent'] == str(len(received))


def test_status_of_a_missing_route(server: Server) -> None:
    mark, tag = server.mark(), new_tag()
    status, _ = send(server, 'GET', '/nowhere', tag)
    assert status == 404
    assert fields_for(server, tag, start=mark)['status'] == '404'


def test_application_exception_is_logged_with_its_traceback(server: Server) -> None:
    mark, tag = server.mark(), new_tag()
    status, _ = send(server, 'GET', '/raise', tag)
    assert status == 500
    assert fields_for(server, tag, start=mark)['status'] == '500'
    server.wait_for(r'Traceback \(most recent call last\)', start=mark)


def test_http2(server: Server) -> None:
    mark, tag = server.mark(), new_tag()
    with H2Client(server.port) as client:
        stream = client.request('GET', f'/?h2={tag}', headers=[('x-tag', tag)])
        response = client.wait([stream])[stream]
    assert response.status == 200
    fields = fields_for(server, tag, start=mark)
    assert fields['protocol'] == 'HTTP/2'
    assert fields['query_string'] == f'h2={tag}'
    assert fields['bytes_sent'] == str(len(response.body))


def test_one_line_per_request_on_a_kept_alive_connection(server: Server) -> None:
    mark, tag = server.mark(), new_tag()
    with RawConnection(server.port) as conn:
        for index in range(3):
            conn.send(request_bytes('GET', f'/?n={index}', headers=[('X-Tag', tag)]))
            assert conn.read_response().status == 200
    server.wait_for(rf'^AL\|.*\|{tag}\|', start=mark, count=3)
    lines = [line for line in server.lines(mark) if f'|{tag}|' in line]
    assert [line.split('|')[6] for line in lines] == ['n=0', 'n=1', 'n=2']


def test_websocket_upgrade_is_logged(server: Server) -> None:
    mark = server.mark()
    if interface_of(server) == 'wsgi':
        # No websockets in WSGI: the upgrade request is answered, and logged, as plain HTTP.
        status, _ = send(server, 'GET', f'/ws/echo?ws={mark}', 'ws')
        expected, protocol = str(status), 'HTTP/1.1'
    else:
        sock = open_raw(server.port, f'/ws/echo?ws={mark}')
        sock.close()
        expected, protocol = '101', 'HTTP/1.1'
    match = server.wait_for(rf'^AL\|.*\|/ws/echo\|ws={mark}\|', start=mark)[0]
    values = match.string.split('|')
    assert values[4] == expected
    assert values[9] == protocol


def test_default_format_is_granians() -> None:
    with run_server('--access-log') as quiet:
        mark = quiet.mark()
        with RawConnection(quiet.port) as conn:
            conn.send(request_bytes('GET', '/?x=1', headers=[('Connection', 'close')]))
            assert conn.read_response().status == 200
        quiet.wait_for(
            r'^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}\] 127\.0\.0\.1 - "GET / HTTP/1\.1" 200 \d+\.\d{3}$',
            start=mark,
        )


def test_json_lines() -> None:
    tag = new_tag()
    args = ('--access-log', '--access-log-json', '--access-log-fmt', '%(header{x-tag})s %(response_header{X-None})s')
    with run_server(*args) as logging_server:
        mark = logging_server.mark()
        with RawConnection(logging_server.port) as conn:
            conn.send(
                request_bytes('POST', '/echo?q=1', body=b'hello', headers=[('X-Tag', tag), ('Connection', 'close')])
            )
            response = conn.read_response(method='POST')
        line = logging_server.wait_for(rf'^\{{.*"{tag}"', start=mark)[0].string
    record = json.loads(line)
    assert record['addr'] == '127.0.0.1'
    assert TIME.fullmatch(record['time'])
    assert isinstance(record['dt_ms'], float) and record['dt_ms'] >= 0
    assert record['status'] == response.status == 200
    assert record['path'] == '/echo'
    assert record['query_string'] == 'q=1'
    assert record['method'] == 'POST'
    assert record['scheme'] == 'http'
    assert record['protocol'] == 'HTTP/1.1'
    assert record['bytes_sent'] == len(response.body) == 5
    assert record['request_headers'] == {'x-tag': tag}
    assert record['response_headers'] == {'x-none': None}


def test_tls_scheme_over_http2(tmp_path: Path) -> None:
    certs = make_certs(tmp_path)
    tls = ('--ssl-certificate', str(certs.cert), '--ssl-keyfile', str(certs.key))
    args = ('--access-log', '--access-log-fmt', 'TLS %(scheme)s %(protocol)s %(status)d %(path)s')
    with run_server(*tls, *args) as secure:
        mark = secure.mark()
        with certs.client(secure.port, http2=True) as client:
            assert client.get('/?tls=1').status_code == 200
        secure.wait_for(r'^TLS https HTTP/2 200 /$', start=mark)


def test_static_files_are_logged(tmp_path: Path) -> None:
    (tmp_path / 'hello.txt').write_bytes(b'static hello')
    args = ('--access-log', '--access-log-fmt', 'SF %(path)s %(status)d %(bytes_sent)d')
    with run_server(*args, '--static-path-mount', str(tmp_path)) as static:
        mark = static.mark()
        with RawConnection(static.port) as conn:
            conn.send(request_bytes('GET', '/static/hello.txt', headers=[('Connection', 'close')]))
            assert conn.read_response().body == b'static hello'
        static.wait_for(r'^SF /static/hello\.txt 200 12$', start=mark)


def test_a_request_drained_at_shutdown_is_logged_before_exit() -> None:
    with run_server('--access-log', '--access-log-fmt', 'SD %(path)s %(status)d %(bytes_sent)d') as stopping:
        record_id = new_tag()
        with RawConnection(stopping.port) as conn:
            conn.send(request_bytes('GET', f'/slow?s=0.5&id={record_id}', headers=[('Connection', 'close')]))
            app_record(stopping.port, record_id, until='sleeping')
            stopping.proc.send_signal(signal.SIGTERM)
            assert conn.read_response().status == 200
        assert stopping.wait_exit() == 0
        assert any(line == 'SD /slow 200 9' for line in stopping.lines()), stopping.lines()


def test_no_access_log_without_the_flag() -> None:
    with run_server('--access-log-fmt', 'AL|%(path)s') as quiet:
        with RawConnection(quiet.port) as conn:
            conn.send(request_bytes('GET', '/?quiet=1', headers=[('Connection', 'close')]))
            assert conn.read_response().status == 200
        # Absence can only be observed for a while; a line would be written right away.
        assert not quiet.saw(r'^AL\|', timeout=1.0)
