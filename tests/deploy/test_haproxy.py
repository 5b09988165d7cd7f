"""A deployment, tested: HAProxy (Debian's package) on loopback in front of three granian
instances, as docs/deploying.md configures it. HAProxy speaks HTTP/1.1 to two instances and h2c
to the third (`proto h2`), sends PROXY protocol v2 (`send-proxy-v2`) and checks each instance's
readiness path every 200 ms; the instances run with `--proxy-protocol`, `--ready-path` and
`--shutdown-delay`. Clients connect from 127.0.0.2, HAProxy from 127.0.0.1.

HAProxy has two frontends on the same instances: `web` retries a request whose connection
failed or that got no answer (as deployments do), `strict` never retries, so that what the
server itself does is seen without HAProxy making up for it.

* A rolling restart under load (each instance SIGTERMed, then a new one started on its port,
  one at a time) loses no request, through either frontend: readiness fails first, HAProxy
  takes the instance out, and only then does it stop accepting.
* A SIGKILLed instance is routed around within the check interval; the requests that fail
  meanwhile are counted against a bound derived from it.
* Every answer carries the client's address (127.0.0.2), not HAProxy's.

HAProxy is installed by `make test` when missing; without it these tests are skipped.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, Server, free_port, granian_command, server_env

CHECK_INTERVAL = 0.2  # HAProxy `inter`, seconds
FALL = 1  # failed checks before HAProxy takes a backend out
SHUTDOWN_DELAY = 1.0  # well above CHECK_INTERVAL * FALL: HAProxy sees the 503 before the drain
THREADS = 2  # per frontend
CLIENT_ADDRESS = '127.0.0.2'
BACKENDS = (('app1', ''), ('app2', 'proto h2'), ('app3', ''))
STATE_TIMEOUT = 15.0

HAPROXY_CONFIG = """\
global
    stats socket {stats} mode 600 level admin
    maxconn 1000

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter {inter}ms fall {fall} rise 1 send-proxy-v2

frontend web
    bind 127.0.0.1:{front}
    default_backend app

frontend strict
    bind 127.0.0.1:{strict}
    default_backend app_strict

backend app
    # A request whose connection failed, or that got no answer at all, is tried again on
    # another instance: an instance killed mid-request costs the client nothing.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
{servers}

backend app_strict
    retries 0
{servers}
"""
PROXIES = ('app', 'app_strict')


def find_haproxy() -> str | None:
    return shutil.which('haproxy') or next(
        (path for path in ('/usr/sbin/haproxy', '/usr/local/sbin/haproxy') if os.access(path, os.X_OK)), None
    )


@dataclass
class Load:
    """Client threads sending GET / through HAProxy until stopped, recording every outcome."""

    url: str
    succeeded: int = 0
    failures: list[tuple[float, str]] = field(default_factory=list)
    clients: set[str] = field(default_factory=set)
    versions: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _run(self) -> None:
        transport = httpx.HTTPTransport(local_address=CLIENT_ADDRESS)
        with httpx.Client(transport=transport, base_url=self.url, timeout=10.0) as client:
            while not self._stop.is_set():
                try:
                    response = client.get('/')
                    error = None if response.status_code == 200 else f'status {response.status_code}'
                except httpx.HTTPError as exc:
                    response, error = None, f'{type(exc).__name__}: {exc}'
                with self._lock:
                    if error is not None or response is None:
                        self.failures.append((time.monotonic(), error or 'no response'))
                        continue
                    seen = response.json()
                    self.succeeded += 1
                    self.clients.add(seen['client'][0])
                    self.versions.add(seen['http_version'])

    def __enter__(self) -> Load:
        self._threads = [threading.Thread(target=self._run, name=f'load-{n}') for n in range(THREADS)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30.0)

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return self.succeeded, len(self.failures)


class Cluster:
    """HAProxy and its three granian instances, each on a port of its own."""

    def __init__(self, haproxy: str, root: Path) -> None:
        self.root = root
        self.front = free_port()
        self.strict = free_port()
        self.ports = {name: free_port() for name, _ in BACKENDS}
        self.instances: dict[str, Server] = {}
        self.stats = root / 'haproxy.sock'
        servers = '\n'.join(
            f'    server {name} 127.0.0.1:{self.ports[name]} check {extra}'.rstrip() for name, extra in BACKENDS
        )
        config = root / 'haproxy.cfg'
        config.write_text(
            HAPROXY_CONFIG.format(
                stats=self.stats,
                front=self.front,
                strict=self.strict,
                inter=int(CHECK_INTERVAL * 1000),
                fall=FALL,
                servers=servers,
            )
        )
        for name, _ in BACKENDS:
            self.start(name)
        self.haproxy_log = open(root / 'haproxy.log', 'wb')  # closed in close()
        self.haproxy = subprocess.Popen(
            [haproxy, '-db', '-f', str(config)], stdout=self.haproxy_log, stderr=subprocess.STDOUT
        )
        for name, _ in BACKENDS:
            self.wait_state(name, 'UP')

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.front}'

    @property
    def strict_url(self) -> str:
        return f'http://127.0.0.1:{self.strict}'

    def start(self, name: str) -> Server:
        command = granian_command(
            '--proxy-protocol',
            '--health-path',
            '/healthz',
            '--ready-path',
            '/readyz',
            '--shutdown-delay',
            str(SHUTDOWN_DELAY),
            app='tests.apps.deploy_app:app',
            port=self.ports[name],
            workers=1,
        )
        server = Server(command, env=server_env(), cwd=REPO_ROOT)
        self.instances[name] = server
        server.wait_ready(1)
        return server

    def states(self) -> dict[str, set[str]]:
        """Each instance's status in the HAProxy backends (`UP`, `DOWN`; `UP 1/2` while rising)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5.0)
            sock.connect(str(self.stats))
            sock.sendall(b'show stat\n')
            data = b''
            while chunk := sock.recv(65536):
                data += chunk
        states: dict[str, set[str]] = {}
        for row in csv.DictReader(io.StringIO(data.decode().lstrip('# '))):
            if row['pxname'] in PROXIES and row['svname'] in self.ports:
                states.setdefault(row['svname'], set()).add(row['status'].split(' ')[0])
        return states

    def wait_state(self, name: str, state: str, *, timeout: float = STATE_TIMEOUT) -> float:
        """Wait until HAProxy reports instance `name` in `state` in both backends; returns when
        it did. The deadline fails the test with HAProxy's log."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError):
                if self.states().get(name) == {state}:
                    return time.monotonic()
            if time.monotonic() > deadline or self.haproxy.poll() is not None:
                log = (self.root / 'haproxy.log').read_text(errors='replace')
                raise AssertionError(f'{name} not {state} after {timeout}s: {self.states_or_none()}\n{log}')
            time.sleep(CHECK_INTERVAL / 4)

    def states_or_none(self) -> dict[str, set[str]] | None:
        try:
            return self.states()
        except OSError:
            return None

    def close(self) -> None:
        if self.haproxy.poll() is None:
            self.haproxy.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.haproxy.wait(5.0)
        if self.haproxy.poll() is None:
            self.haproxy.kill()
            self.haproxy.wait(5.0)
        self.haproxy_log.close()
        for server in self.instances.values():
            if server.proc.poll() is None:
                with contextlib.suppress(AssertionError):
                    server.stop()
            server.kill()


@pytest.fixture(scope='module')
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    haproxy = find_haproxy()
    if haproxy is None:
        pytest.skip('haproxy is not installed (make test installs it: apt-get install -y haproxy)')
    try:
        socket.create_connection((CLIENT_ADDRESS, 9), timeout=0.5).close()
    except ConnectionRefusedError:
        pass
    except OSError as exc:
        pytest.skip(f'no loopback address {CLIENT_ADDRESS} to connect from: {exc}')
    running = Cluster(haproxy, tmp_path_factory.mktemp('deploy'))
    try:
        yield running
    finally:
        running.close()


def under_load(cluster: Cluster, action: Callable[[Load], None]) -> tuple[Load, Load]:
    """Run `action` while clients send requests through both frontends; a short tail of load
    follows it. The two loads: through `web`, and through `strict`."""
    with Load(cluster.url) as load, Load(cluster.strict_url) as strict:
        for each in (load, strict):
            wait_for_requests(each, 50)
        action(load)
        for each in (load, strict):
            wait_for_requests(each, each.snapshot()[0] + 50)
    return load, strict


def wait_for_requests(load: Load, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while load.snapshot()[0] < count:
        assert time.monotonic() < deadline, f'only {load.snapshot()[0]} requests succeeded of {count}'
        time.sleep(0.01)


def test_a_rolling_restart_loses_no_request(cluster: Cluster) -> None:
    timings: list[str] = []

    def restart_each(load: Load) -> None:
        for name, _ in BACKENDS:
            old = cluster.instances[name]
            signalled = time.monotonic()
            old.proc.send_signal(signal.SIGTERM)
            old.wait_for('Received SIGTERM: not ready from now on')
            # HAProxy learns from the readiness path while the instance still serves...
            down = cluster.wait_state(name, 'DOWN', timeout=SHUTDOWN_DELAY * 3)
            assert old.proc.poll() is None, 'the instance stopped before HAProxy took it out'
            assert old.wait_exit() == 0
            stopped = time.monotonic()
            old.kill()  # what is left of it: its log pipe
            # ...and a new instance on the same port is taken back in.
            cluster.start(name)
            up = cluster.wait_state(name, 'UP')
            timings.append(
                f'{name}: out after {down - signalled:.2f}s, stopped after {stopped - signalled:.2f}s, '
                f'back in {up - stopped:.2f}s later'
            )

    started = time.monotonic()
    loads = under_load(cluster, restart_each)
    elapsed = time.monotonic() - started
    print(f'\nrolling restart of {len(BACKENDS)} instances in {elapsed:.1f}s, {THREADS} client threads per frontend:')
    for frontend, load in zip(('web', 'strict'), loads, strict=True):
        print(f'  {frontend}: {load.succeeded} requests succeeded, {len(load.failures)} failed')
    print('  ' + '\n  '.join(timings))
    for load in loads:
        assert load.failures == []
        assert load.clients == {CLIENT_ADDRESS}, 'the app saw HAProxy, not the client'
        # Answers came over HTTP/1.1 and over h2c.
        assert load.versions == {'1.1', '2'}


def test_a_killed_instance_is_routed_around(cluster: Cluster) -> None:
    name = 'app2'
    result: dict[str, float] = {}

    def kill(load: Load) -> None:
        # The request rate through HAProxy, measured before the kill.
        before, began = load.snapshot()[0], time.monotonic()
        wait_for_requests(load, before + 300)
        result['rate'] = (load.snapshot()[0] - before) / (time.monotonic() - began)
        victim = cluster.instances[name]
        result['killed'] = time.monotonic()
        os.killpg(victim.proc.pid, signal.SIGKILL)
        result['down'] = cluster.wait_state(name, 'DOWN', timeout=5.0)
        victim.kill()
        # Load keeps flowing through the two others.
        wait_for_requests(load, load.snapshot()[0] + 300)

    load, strict = under_load(cluster, kill)
    detection = result['down'] - result['killed']
    # Until HAProxy takes it out (FALL failed checks, one interval each, plus the interval
    # under way), every third request goes to the dead instance and, without retries, fails
    # (refused), as do those it was serving when killed (one per client thread at most).
    # Refused requests take no time, so the clients go half again as fast meanwhile: a third
    # of 1.5 times the rate.
    window = CHECK_INTERVAL * (FALL + 1)
    bound = math.ceil(result['rate'] * 1.5 * window / len(BACKENDS)) + THREADS
    print(
        f'\nSIGKILL of one instance of {len(BACKENDS)} at {result["rate"]:.0f} requests/s per frontend: HAProxy took '
        f'it out after {detection:.2f}s; failed requests: {len(load.failures)} with retries, '
        f'{len(strict.failures)} without (bound {bound}); succeeded: {load.succeeded} and {strict.succeeded}'
    )
    assert detection <= window + 1.0
    assert load.failures == []
    assert len(strict.failures) <= bound, strict.failures[:10]
    late = [when - result['killed'] for when, _ in strict.failures if when - result['killed'] > detection + 0.5]
    assert late == [], 'requests failed after HAProxy took the instance out'
    for each in (load, strict):
        assert each.clients == {CLIENT_ADDRESS}
    # Back to three for whatever runs next.
    cluster.start(name)
    cluster.wait_state(name, 'UP')
