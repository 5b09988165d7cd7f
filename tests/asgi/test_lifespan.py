"""ASGI lifespan: startup before serving, state copied into request scopes, shutdown on exit."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Server, module_server, run_server


@pytest.fixture(scope='module')
def lifespan_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp('lifespan') / 'events.log'


@pytest.fixture(scope='module')
def server(request: pytest.FixtureRequest, lifespan_log: Path) -> Iterator[Server]:
    with module_server(request, env={'LIFESPAN_LOG': str(lifespan_log)}) as running:
        yield running


def read_events(path: Path) -> list[tuple[str, int]]:
    if not path.exists():
        return []
    return [(event, int(pid)) for event, pid in (line.split() for line in path.read_text().splitlines())]


def test_startup_completed_before_the_first_request(server: Server, client: httpx.Client) -> None:
    # The very first request of the module already sees what startup stored.
    data = client.get('/state').json()
    assert data['present'] is True
    assert data['started'] is True
    assert data['startup_pid'] == data['pid']


def test_startup_ran_once_in_the_worker(server: Server, client: httpx.Client, lifespan_log: Path) -> None:
    worker_pid = client.get('/state').json()['pid']
    assert read_events(lifespan_log) == [('startup', worker_pid)]


def test_state_is_a_shallow_copy_per_request(server: Server, client: httpx.Client) -> None:
    first = client.get('/state').json()
    second = client.get('/state').json()
    # Each request set state['scratch'] on its own copy: no later request sees it.
    assert first['scratch_before'] is None
    assert second['scratch_before'] is None
    # The nested counter object is shared, so increments accumulate across requests.
    assert second['requests'] == first['requests'] + 1


def test_shutdown_runs_on_sigterm(tmp_path: Path) -> None:
    events = tmp_path / 'events.log'
    with run_server(env={'LIFESPAN_LOG': str(events)}) as server:
        with server.client() as http:
            worker_pid = int(http.get('/pid').text)
        assert server.stop(signal.SIGTERM) == 0
    assert read_events(events) == [('startup', worker_pid), ('shutdown', worker_pid)]


def test_asginl_skips_lifespan(tmp_path: Path) -> None:
    events = tmp_path / 'events.log'
    with run_server(interface='asginl', env={'LIFESPAN_LOG': str(events)}) as server:
        with server.client() as http:
            response = http.get('/state')
        assert response.status_code == 200
        assert response.json() == {'present': False}
        assert server.stop(signal.SIGTERM) == 0
    assert read_events(events) == []
