"""Prometheus metrics (`--metrics`): the master's exporter, per-worker counters that move by
exactly what was served, for each interface, and the flags around them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from granian.server import ConfigError, Granian
from prometheus_client.parser import text_string_to_metric_families

from tests._http import RawConnection, request_bytes
from tests.conftest import Server, free_port, run_cli, run_server

APPS = {
    'asgi': 'tests.apps.metrics_app:asgi',
    'rsgi': 'tests.apps.metrics_app:rsgi',
    'wsgi': 'tests.apps.metrics_app:wsgi',
}
WORKERS = 2
# The metric families the exporter writes, as the parser names them.
FAMILIES = {
    'granian_workers_spawns': 'counter',
    'granian_workers_respawns_for_err': 'counter',
    'granian_workers_respawns_for_lifetime': 'counter',
    'granian_workers_respawns_for_rss': 'counter',
    'granian_worker_lifetime': 'counter',
    'granian_connections_active': 'gauge',
    'granian_connections_handled': 'counter',
    'granian_connections_err': 'counter',
    'granian_requests_handled': 'counter',
    'granian_static_requests_handled': 'counter',
    'granian_static_requests_err': 'counter',
    'granian_blocking_threads': 'gauge',
    'granian_request_body_bytes': 'counter',
    'granian_response_body_bytes': 'counter',
    'granian_responses': 'counter',
    'granian_request_duration_seconds': 'histogram',
}
PER_WORKER = set(FAMILIES) - {name for name in FAMILIES if name.startswith('granian_workers_')} - {'granian_responses'}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Exporter:
    def __init__(self, server: Server, port: int) -> None:
        self.server = server
        self.port = port

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}/metrics'

    def scrape(self, client: httpx.Client | None = None) -> Samples:
        response = (client or httpx).get(self.url, timeout=5)
        assert response.status_code == 200
        assert response.headers['content-type'].startswith('text/plain; version=0.0.4')
        return parse(response.text)


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over every sample carrying `labels` (over all workers, say)."""
    wanted = set(labels.items())
    return sum(
        value for (sample, sample_labels), value in samples.items() if sample == name and wanted <= set(sample_labels)
    )


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


@pytest.fixture(scope='module', params=sorted(APPS))
def exporter(request: pytest.FixtureRequest) -> Iterator[Exporter]:
    port = free_port()
    interface = request.param
    with run_server(
        '--metrics', '--metrics-port', str(port), app=APPS[interface], interface=interface, workers=WORKERS
    ) as server:
        assert server.saw(f'Metrics at: http://127.0.0.1:{port}/metrics', timeout=5)
        yield Exporter(server, port)


def wait_for_value(exporter: Exporter, name: str, expected: float, timeout: float = 5.0) -> Samples:
    """Scrape until `name` (summed) is `expected`: a closed connection ends on the server a moment
    after the client closed it."""
    deadline = time.monotonic() + timeout
    while True:
        samples = exporter.scrape()
        if total(samples, name) == expected or time.monotonic() > deadline:
            return samples
        time.sleep(0.02)


def test_exposes_every_family_for_every_worker(exporter: Exporter) -> None:
    response = httpx.get(exporter.url, timeout=5)
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    assert {name: family.type for name, family in families.items()} == FAMILIES
    for name in PER_WORKER:
        workers = {sample.labels.get('worker') for sample in families[name].samples}
        assert workers == {'1', '2'}, name
    for name in FAMILIES:
        assert f'# HELP {name}' in response.text
    samples = parse(response.text)
    assert total(samples, 'granian_workers_spawns_total') == WORKERS
    assert total(samples, 'granian_blocking_threads') >= WORKERS


def test_counters_move_by_exactly_what_was_served(exporter: Exporter) -> None:
    before = exporter.scrape()
    base = f'http://127.0.0.1:{exporter.server.port}'
    with httpx.Client(base_url=base, timeout=5) as client:
        for _ in range(3):
            assert client.post('/reply?status=200&size=10', content=b'1234567').status_code == 200
        for _ in range(2):
            assert client.get('/nowhere').status_code == 404
        assert client.post('/reply?status=500&size=3', content=b'ab').status_code == 500
        streamed = client.post('/stream?size=100', content=iter([b'abc', b'defgh']))
        assert streamed.status_code == 200
        assert len(streamed.content) == 100
    after = exporter.scrape()
    assert delta(before, after, 'granian_requests_handled_total') == 7
    assert delta(before, after, 'granian_responses_total', code='200') == 4
    assert delta(before, after, 'granian_responses_total', code='404') == 2
    assert delta(before, after, 'granian_responses_total', code='500') == 1
    assert delta(before, after, 'granian_request_body_bytes_total') == 3 * 7 + 2 + 8
    assert delta(before, after, 'granian_response_body_bytes_total') == 3 * 10 + 2 * len(b'missing') + 3 + 100
    assert delta(before, after, 'granian_request_duration_seconds_count') == 7
    assert delta(before, after, 'granian_request_duration_seconds_bucket', le='+Inf') == 7
    assert delta(before, after, 'granian_request_duration_seconds_sum') > 0


def test_open_connections_are_active(exporter: Exporter) -> None:
    before = wait_for_value(exporter, 'granian_connections_active', 0)
    assert total(before, 'granian_connections_active') == 0
    with RawConnection(exporter.server.port) as conn:
        conn.send(request_bytes('GET', '/reply?size=1'))
        assert conn.read_response().status == 200
        during = exporter.scrape()
        assert total(during, 'granian_connections_active') == 1
        assert delta(before, during, 'granian_connections_handled_total') == 1
    after = wait_for_value(exporter, 'granian_connections_active', 0)
    assert total(after, 'granian_connections_active') == 0
    assert delta(before, after, 'granian_connections_err_total') == 0


def test_metrics_are_not_served_on_the_application_port(exporter: Exporter) -> None:
    response = httpx.get(f'http://127.0.0.1:{exporter.server.port}/metrics', timeout=5)
    assert response.status_code == 404
    assert response.content == b'missing'


def test_the_exporter_serves_only_its_path(exporter: Exporter) -> None:
    assert httpx.get(f'http://127.0.0.1:{exporter.port}/', timeout=5).status_code == 404
    assert httpx.get(f'http://127.0.0.1:{exporter.port}/metricsx', timeout=5).status_code == 404
    assert httpx.post(exporter.url, timeout=5).status_code == 405
    assert httpx.get(f'{exporter.url}?name=x', timeout=5).status_code == 200


def test_scraping_in_a_tight_loop_while_serving(exporter: Exporter) -> None:
    requests = 200
    before = exporter.scrape()
    stop = threading.Event()
    seen: list[float] = []
    errors: list[BaseException] = []

    def scrape_loop() -> None:
        try:
            with httpx.Client(timeout=5) as client:
                while not stop.is_set():
                    seen.append(total(exporter.scrape(client), 'granian_requests_handled_total'))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    scraper = threading.Thread(target=scrape_loop)
    scraper.start()
    try:
        with httpx.Client(base_url=f'http://127.0.0.1:{exporter.server.port}', timeout=5) as client:
            statuses = [client.post('/reply?size=64', content=b'z' * 32).status_code for _ in range(requests)]
    finally:
        stop.set()
        scraper.join(timeout=10)
    assert not errors
    assert statuses == [200] * requests
    assert len(seen) > 1
    assert seen == sorted(seen)
    after = exporter.scrape()
    assert delta(before, after, 'granian_requests_handled_total') == requests
    assert delta(before, after, 'granian_request_body_bytes_total') == requests * 32
    assert delta(before, after, 'granian_response_body_bytes_total') == requests * 64


def test_env_vars_turn_metrics_on() -> None:
    port = free_port()
    env = {'GRANIAN_METRICS_ENABLED': 'true', 'GRANIAN_METRICS_PORT': str(port), 'GRANIAN_METRICS_ADDRESS': '127.0.0.1'}
    with run_server(app=APPS['asgi'], env=env) as server:
        assert server.saw(f'Metrics at: http://127.0.0.1:{port}/metrics', timeout=5)
        samples = Exporter(server, port).scrape()
        assert total(samples, 'granian_workers_spawns_total') == 1


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = run_cli(
            '--interface', 'asgi', '--port', '0', '--metrics', '--metrics-port', str(port), APPS['asgi']
        )
    assert code != 0
    assert f'cannot serve metrics on 127.0.0.1:{port}' in output


@pytest.mark.parametrize(
    ('flag', 'value'),
    [('--metrics-scrape-interval', '0'), ('--metrics-scrape-interval', '61'), ('--metrics-port', '65536')],
)
def test_bad_flag_values_are_usage_errors(flag: str, value: str) -> None:
    code, output = run_cli('--metrics', flag, value, APPS['asgi'])
    assert code == 2
    assert flag in output


def test_keywords_are_validated() -> None:
    options = Granian(APPS['asgi']).options
    assert (options.metrics_enabled, options.metrics_address, options.metrics_port) == (False, '127.0.0.1', 9090)
    assert options.metrics_scrape_interval == 15
    assert Granian(APPS['asgi'], metrics_enabled=True, metrics_scrape_interval=30).options.metrics_scrape_interval == 30
    for keyword, value in [
        ('metrics_enabled', 'yes'),
        ('metrics_port', -1),
        ('metrics_scrape_interval', 0.5),
        ('metrics_address', ''),
    ]:
        with pytest.raises(ConfigError) as raised:
            Granian(APPS['asgi'], **{keyword: value})  # type: ignore[arg-type]
        assert raised.value.option == keyword


def test_static_files_are_counted_apart(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp('static')
    (root / 'file.txt').write_bytes(b'0123456789')
    port = free_port()
    args = ('--metrics', '--metrics-port', str(port), '--static-path-mount', str(root))
    with run_server(*args, app=APPS['asgi']) as server:
        exporter = Exporter(server, port)
        before = exporter.scrape()
        with httpx.Client(base_url=f'http://127.0.0.1:{server.port}', timeout=5) as client:
            assert client.get('/static/file.txt').content == b'0123456789'
            assert client.get('/static/file.txt').status_code == 200
            assert client.get('/static/missing.txt').status_code == 404
            assert client.get('/reply?size=5').status_code == 200
        after = exporter.scrape()
    assert delta(before, after, 'granian_static_requests_handled_total') == 2
    assert delta(before, after, 'granian_static_requests_err_total') == 1
    assert delta(before, after, 'granian_requests_handled_total') == 4
    assert delta(before, after, 'granian_responses_total', code='200') == 3
    assert delta(before, after, 'granian_response_body_bytes_total') >= 2 * 10 + 5


def test_counters_survive_a_worker_replacement() -> None:
    port = free_port()
    with run_server('--metrics', '--metrics-port', str(port), '--workers-lifetime', '1', app=APPS['asgi']) as server:
        exporter = Exporter(server, port)
        with httpx.Client(base_url=f'http://127.0.0.1:{server.port}', timeout=5) as client:
            for _ in range(5):
                assert client.get('/reply?size=2').status_code == 200
        served = total(exporter.scrape(), 'granian_requests_handled_total')
        assert served >= 5
        # A replacement counts once the successor serves and the old worker has stopped.
        assert server.saw('Stopped worker-1', timeout=10)
        samples = exporter.scrape()
        assert total(samples, 'granian_workers_respawns_for_lifetime_total') >= 1
        assert total(samples, 'granian_workers_spawns_total') >= 2
        # Nothing was served since: the old worker's counts moved to its worker number, once.
        assert total(samples, 'granian_requests_handled_total') == served
        assert total(samples, 'granian_response_body_bytes_total') == 2 * served
