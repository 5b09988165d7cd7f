"""The WSGI environ (PEP 3333), as the application sees it: every key, its type and its value."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests._http import H2Client, RawConnection, request_bytes
from tests.conftest import Server, run_server

SERVER_APP = 'tests.apps.wsgi_app:app'
SERVER_INTERFACE = 'wsgi'
# Set in the server's process environment: none of it may leak into the environ.
SERVER_ENV = {'WSGI_TEST_PROCESS_MARKER': 'from os.environ', 'PATH_INFO': '/from-os-environ'}

REQUIRED_STR_KEYS = {
    'REQUEST_METHOD',
    'SCRIPT_NAME',
    'PATH_INFO',
    'QUERY_STRING',
    'SERVER_NAME',
    'SERVER_PORT',
    'SERVER_PROTOCOL',
    'REMOTE_ADDR',
    'REMOTE_PORT',
    'wsgi.url_scheme',
}


def raw_environ(
    server: Server,
    target: str,
    *,
    method: str = 'GET',
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    version: str = 'HTTP/1.1',
    raw: bytes | None = None,
) -> tuple[dict, int]:
    """The environ of one request sent byte for byte; also returns the client's local port."""
    with RawConnection(server.port) as conn:
        wire = raw or request_bytes(
            method, target, headers=[*(headers or []), ('Connection', 'close')], body=body, version=version
        )
        conn.send(wire)
        response = conn.read_response(method=method)
        assert response.status == 200, response
        return json.loads(response.body), conn.local_port


def test_every_required_key_with_its_type(server: Server, client: httpx.Client) -> None:
    environ = client.get('/environ').json()
    types = environ['__types__']
    for key in REQUIRED_STR_KEYS:
        assert types[key] == 'str', key
    assert environ['wsgi.version'] == [1, 0]
    assert types['wsgi.version'] == 'tuple'
    assert environ['wsgi.url_scheme'] == 'http'
    assert environ['wsgi.multithread'] is True
    assert environ['wsgi.multiprocess'] is False
    assert environ['wsgi.run_once'] is False
    assert environ['wsgi.input_terminated'] is True
    assert environ['SCRIPT_NAME'] == ''
    assert environ['REQUEST_METHOD'] == 'GET'
    assert environ['PATH_INFO'] == '/environ'
    assert environ['QUERY_STRING'] == ''
    assert environ['__input__'] == ['__iter__', 'read', 'readline', 'readlines']
    assert environ['__errors__'] == ['flush', 'write', 'writelines']
    assert environ['__file_wrapper_callable__'] is True


def test_nothing_of_the_process_environment(server: Server, client: httpx.Client) -> None:
    environ = client.get('/environ').json()
    assert 'WSGI_TEST_PROCESS_MARKER' not in environ
    assert environ['PATH_INFO'] == '/environ'
    assert 'HOME' not in environ
    assert 'PATH' not in environ
    # Only CGI names, HTTP_* and wsgi.* keys.
    cgi = REQUIRED_STR_KEYS | {'CONTENT_TYPE', 'CONTENT_LENGTH'}
    for key in environ:
        assert key in cgi or key.startswith(('HTTP_', 'wsgi.', '__')), key


def test_addresses(server: Server) -> None:
    environ, local_port = raw_environ(server, '/environ')
    assert environ['REMOTE_ADDR'] == '127.0.0.1'
    assert environ['REMOTE_PORT'] == str(local_port)
    assert environ['SERVER_NAME'] == '127.0.0.1'
    assert environ['SERVER_PORT'] == str(server.port)


@pytest.mark.parametrize(('version', 'expected'), [('HTTP/1.0', 'HTTP/1.0'), ('HTTP/1.1', 'HTTP/1.1')])
def test_server_protocol_http1(server: Server, version: str, expected: str) -> None:
    environ, _ = raw_environ(server, '/environ', version=version)
    assert environ['SERVER_PROTOCOL'] == expected


def test_server_protocol_http2(server: Server) -> None:
    with H2Client(server.port) as h2:
        stream_id = h2.request('GET', '/environ?h2=1', headers=[('x-h2', 'yes')])
        response = h2.wait([stream_id])[stream_id]
    assert response.status == 200
    environ = json.loads(response.body)
    assert environ['SERVER_PROTOCOL'] == 'HTTP/2'
    assert environ['QUERY_STRING'] == 'h2=1'
    assert environ['HTTP_X_H2'] == 'yes'
    # The :authority pseudo-header stands in for Host.
    assert environ['HTTP_HOST'] == f'127.0.0.1:{server.port}'


def test_query_string_is_raw(server: Server) -> None:
    environ, _ = raw_environ(server, '/environ?a=1&b=%20x&c=%E2%82%AC&flag')
    assert environ['QUERY_STRING'] == 'a=1&b=%20x&c=%E2%82%AC&flag'


def test_path_info_is_decoded_then_latin1(server: Server) -> None:
    environ, _ = raw_environ(server, '/environ/caf%C3%A9/a%20b/%2F')
    # The UTF-8 bytes arrive one character each; frameworks re-encode as latin-1.
    assert environ['PATH_INFO'] == '/environ/caf\u00c3\u00a9/a b//'
    assert environ['__path_utf8__'] == '/environ/café/a b//'


def test_malformed_escapes_are_kept(server: Server) -> None:
    environ, _ = raw_environ(server, '/environ/100%25/%zz')
    assert environ['PATH_INFO'] == '/environ/100%/%zz'


def test_method(server: Server) -> None:
    environ, _ = raw_environ(server, '/environ', method='PATCH', body=b'{}')
    assert environ['REQUEST_METHOD'] == 'PATCH'
    environ, _ = raw_environ(server, '/environ', method='PURGE')
    assert environ['REQUEST_METHOD'] == 'PURGE'


def test_content_type_and_length(server: Server) -> None:
    environ, _ = raw_environ(
        server, '/environ', method='POST', headers=[('Content-Type', 'application/json')], body=b'{"a": 1}'
    )
    assert environ['CONTENT_TYPE'] == 'application/json'
    assert environ['CONTENT_LENGTH'] == '8'
    assert 'HTTP_CONTENT_TYPE' not in environ
    assert 'HTTP_CONTENT_LENGTH' not in environ


def test_content_keys_absent_without_a_body(server: Server) -> None:
    environ, _ = raw_environ(server, '/environ')
    assert 'CONTENT_TYPE' not in environ
    assert 'CONTENT_LENGTH' not in environ


def test_chunked_request_has_no_content_length(server: Server) -> None:
    wire = (
        b'POST /environ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
        b'3\r\nabc\r\n0\r\n\r\n'
    )
    environ, _ = raw_environ(server, '/environ', method='POST', raw=wire)
    assert 'CONTENT_LENGTH' not in environ
    assert environ['HTTP_TRANSFER_ENCODING'] == 'chunked'


def test_headers_become_http_keys(server: Server) -> None:
    environ, _ = raw_environ(
        server,
        '/environ',
        headers=[('X-Custom-Header', 'v1'), ('Accept-Language', 'en'), ('X-Empty', '')],
    )
    assert environ['HTTP_X_CUSTOM_HEADER'] == 'v1'
    assert environ['HTTP_ACCEPT_LANGUAGE'] == 'en'
    assert environ['HTTP_X_EMPTY'] == ''
    assert environ['HTTP_HOST'] == '127.0.0.1'
    assert environ['HTTP_CONNECTION'] == 'close'


def test_repeated_headers_join_with_a_comma(server: Server) -> None:
    environ, _ = raw_environ(
        server, '/environ', headers=[('X-Multi', 'a'), ('Accept', 'text/html'), ('X-Multi', 'b, c')]
    )
    assert environ['HTTP_X_MULTI'] == 'a,b, c'
    assert environ['HTTP_ACCEPT'] == 'text/html'


def test_repeated_cookie_headers_join_with_a_semicolon(server: Server) -> None:
    environ, _ = raw_environ(server, '/environ', headers=[('Cookie', 'a=1'), ('Cookie', 'b=2; c=3')])
    assert environ['HTTP_COOKIE'] == 'a=1; b=2; c=3'


def test_split_cookies_over_http2_join_with_a_semicolon(server: Server) -> None:
    with H2Client(server.port) as h2:
        stream_id = h2.request('GET', '/environ', headers=[('cookie', 'a=1'), ('cookie', 'b=2')])
        response = h2.wait([stream_id])[stream_id]
    assert json.loads(response.body)['HTTP_COOKIE'] == 'a=1; b=2'


def test_header_names_with_underscores_are_dropped(server: Server) -> None:
    environ, _ = raw_environ(server, '/environ', headers=[('X-Real-IP', '10.0.0.1'), ('X_Real_IP', '6.6.6.6')])
    assert environ['HTTP_X_REAL_IP'] == '10.0.0.1'


def test_header_values_are_latin1(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(b'GET /environ HTTP/1.1\r\nHost: x\r\nX-Bytes: caf\xc3\xa9 \xff\r\nConnection: close\r\n\r\n')
        response = conn.read_response()
    assert json.loads(response.body)['HTTP_X_BYTES'] == 'caf\u00c3\u00a9 \u00ff'


def test_each_request_gets_a_fresh_environ(server: Server) -> None:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', '/environ?first=1', headers=[('X-Only-First', 'yes')]))
        first = json.loads(conn.read_response().body)
        conn.send(request_bytes('GET', '/environ?second=1', headers=[('Connection', 'close')]))
        second = json.loads(conn.read_response().body)
    assert first['HTTP_X_ONLY_FIRST'] == 'yes'
    assert 'HTTP_X_ONLY_FIRST' not in second
    assert second['QUERY_STRING'] == 'second=1'


# '.' and '..' are dot segments, which the client resolves before sending (RFC 3986 §5.2.4).
_segment = st.text(
    st.characters(min_codepoint=1, max_codepoint=0x10FFFF, exclude_categories=('Cs',)), max_size=12
).filter(lambda segment: segment not in ('.', '..'))


@given(segment=_segment)
def test_any_percent_encoded_path_round_trips(server: Server, segment: str) -> None:
    with httpx.Client(base_url=server.url, timeout=10.0) as http:
        response = http.get('/environ/' + quote(segment, safe=''))
    assert response.status_code == 200
    assert response.json()['__path_utf8__'] == '/environ/' + segment


@pytest.fixture(scope='module')
def two_workers() -> Iterator[Server]:
    with run_server(app=SERVER_APP, interface=SERVER_INTERFACE, workers=2) as running:
        yield running


def test_multiprocess_with_more_than_one_worker(two_workers: Server) -> None:
    with two_workers.client() as http:
        assert http.get('/environ').json()['wsgi.multiprocess'] is True
