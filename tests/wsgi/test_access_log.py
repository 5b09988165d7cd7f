"""`--access-log` with a WSGI application: the line is written once the body is sent, so the
duration covers the application and `bytes_sent` counts streamed and file-wrapped bodies."""

from __future__ import annotations

from pathlib import Path

from tests._http import RawConnection, request_bytes
from tests.conftest import Server

SERVER_APP = 'tests.apps.wsgi_app:app'
SERVER_INTERFACE = 'wsgi'
SERVER_ARGS = ('--access-log', '--access-log-fmt', 'WL %(query_string)s %(status)d %(bytes_sent)d %(dt_ms).3f')


def get(server: Server, target: str) -> bytes:
    with RawConnection(server.port) as conn:
        conn.send(request_bytes('GET', target, headers=[('Connection', 'close')]))
        response = conn.read_response()
        assert response.status == 200
        return response.body


def line_for(server: Server, query: str, start: int) -> list[str]:
    line = server.wait_for(rf'^WL {query} ', start=start)[0].string
    return line.split(' ')


def test_duration_covers_the_application(server: Server) -> None:
    mark = server.mark()
    get(server, '/sleep?seconds=0.3')
    _, _, status, _, dt_ms = line_for(server, r'seconds=0\.3', mark)
    assert status == '200'
    assert float(dt_ms) >= 300


def test_streamed_body_is_counted(server: Server) -> None:
    mark = server.mark()
    body = get(server, '/stream?n=3&size=10')
    _, _, _, sent, _ = line_for(server, 'n=3&size=10', mark)
    assert int(sent) == len(body) == 30


def test_file_wrapper_body_is_counted(server: Server, tmp_path: Path) -> None:
    path = tmp_path / 'data.bin'
    path.write_bytes(b'x' * 20_000)
    mark = server.mark()
    body = get(server, f'/file?path={path}&offset=500')
    _, _, _, sent, _ = line_for(server, 'path=.*&offset=500', mark)
    assert int(sent) == len(body) == 19_500
