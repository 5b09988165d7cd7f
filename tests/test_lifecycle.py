"""Worker lifecycle in the master: respawn after a crash, crash loops, replacement after a lifetime,
over a memory limit or after a number of requests, SIGHUP rolling restarts under load, and the
bounds on stopping (drain timeout, kill timeout).

Every test runs its own server; each one takes a few seconds.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType

import pytest
from granian._options import SHUTDOWN_MARGIN
from granian._supervisor import CRASH_LOOP_FAILURES

from tests._http import IncompleteResponse, RawConnection, app_record, get, request_bytes
from tests.conftest import SPAWNING_WORKER, Server, run_server

APP = 'tests.apps.lifecycle_app:app'
APP_FILE = Path(__file__).parent / 'apps' / 'lifecycle_app.py'
LINUX = sys.platform.startswith('linux')


def pid_of(server: Server) -> int:
    """The PID of the worker answering a request on a fresh connection."""
    response = get(server.port, '/pid')
    assert response.status == 200, response
    return int(response.body)


def spawned_since(server: Server, mark: int, count: int = 1, timeout: float = 20.0) -> list[int]:
    return [int(match.group(2)) for match in server.wait_for(SPAWNING_WORKER, timeout, start=mark, count=count)]


class LoadLoop:
    """Requests to `/pid` from two threads until the block ends: one opens a fresh connection per
    request, the other keeps one connection alive for as long as the server does.

    `failures` lists every request that did not get a 200. A request on a reused keep-alive
    connection that the server closed before sending anything is sent again on a new connection
    (RFC 9112 §9.3.1 lets a client retry an idempotent request then); those are counted in
    `retries`, not as failures: a connection idle between two requests may be closed at any time.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.ok = 0
        self.retries = 0
        self.failures: list[str] = []
        self.pids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._fresh, name='load-fresh', daemon=True),
            threading.Thread(target=self._keep_alive, name='load-keep-alive', daemon=True),
        ]

    def __enter__(self) -> LoadLoop:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15.0)

    def wait_ok(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.ok < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.ok >= count, f'{self.ok} requests served; failures: {self.failures[:5]}'

    def wait_pid(self, *, avoid: set[int], timeout: float = 10.0) -> int:
        """Wait until a request is answered by a PID not in `avoid`; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                fresh = self.pids - avoid
            if fresh:
                return min(fresh)
            time.sleep(0.01)
        raise AssertionError(f'no request answered by a new worker; pids seen: {sorted(self.pids)}')

    def _record(self, pid: int | None, failure: str | None = None) -> None:
        with self._lock:
            if failure is not None:
                self.failures.append(failure)
            else:
                self.ok += 1
                assert pid is not None
                self.pids.add(pid)

    def _fresh(self) -> None:
        while not self._stop.is_set():
            try:
                response = get(self.port, '/pid')
            except (OSError, IncompleteResponse) as exc:
                self._record(None, f'fresh connection: {exc!r}')
            else:
                if response.status == 200:
                    self._record(int(response.body))
                else:
                    self._record(None, f'fresh connection: status {response.status}')
            time.sleep(0.002)

    def _keep_alive(self) -> None:
        conn: RawConnection | None = None
        try:
            while not self._stop.is_set():
                reused = conn is not None
                try:
                    if conn is None:
                        conn = RawConnection(self.port)
                    conn.send(request_bytes('GET', '/pid'))
                    response = conn.read_response()
                except (OSError, IncompleteResponse) as exc:
                    closed_before_reply = isinstance(exc, ConnectionError) or (
                        isinstance(exc, IncompleteResponse) and not exc.data and conn is not None and conn.closed
                    )
                    if conn is not None:
                        conn.close()
                        conn = None
                    if reused and closed_before_reply:
                        with self._lock:
                            self.retries += 1
                    else:
                        self._record(None, f'keep-alive connection: {exc!r}')
                    continue
                if response.status == 200:
                    self._record(int(response.body))
                else:
                    self._record(None, f'keep-alive connection: status {response.status}')
                if (response.header('connection') or '').lower() == 'close':
                    conn.close()
                    conn = None
                time.sleep(0.002)
        finally:
            if conn is not None:
                conn.close()


def test_crashed_worker_is_respawned() -> None:
    with run_server('--respawn-failed-workers', '--respawn-interval', '0.2', app=APP) as server:
        [first] = server.worker_pids()
        assert pid_of(server) == first
        mark = server.mark()
        os.kill(first, signal.SIGKILL)
        server.wait_for(r'Unexpected exit from worker-1 \(exit code -9\)', start=mark)
        server.wait_for(r'Respawning worker-1', start=mark)
        [second] = spawned_since(server, mark)
        server.wait_for_workers(1, start=mark)
        assert second != first
        for _ in range(5):
            assert pid_of(server) == second
        assert server.proc.poll() is None, 'the master exited'
        assert server.stop() == 0


def test_crash_loop_gives_up_with_exit_1() -> None:
    # Every worker fails its lifespan startup: respawning cannot help.
    with run_server(
        '--respawn-failed-workers', '--respawn-interval', '0', env={'LIFESPAN_FAIL': '1'}, ready=False
    ) as server:
        code = server.wait_exit(timeout=40.0)
        assert code == 1, server.log_text
        assert re.search(r'Workers failed \d+ times within 60s: giving up on this crash loop', server.log_text)
        assert len(server.worker_pids()) == CRASH_LOOP_FAILURES + 1


def test_worker_that_cannot_load_the_app_is_not_respawned() -> None:
    with run_server(
        '--respawn-failed-workers', '--respawn-interval', '0', app='tests.apps.no_such_module:app', ready=False
    ) as server:
        assert server.wait_exit() == 1
        assert 'worker-1 could not start: not respawning it' in server.log_text
        assert len(server.worker_pids()) == 1


def test_workers_lifetime_replaces_workers_while_serving() -> None:
    with run_server('--workers-lifetime', '1', '--workers-lifetime-jitter', '0.5', app=APP) as server:
        [first] = server.worker_pids()
        with LoadLoop(server.port) as load:
            load.wait_ok(5)
            server.wait_for(rf'Replacing worker-1 \(PID: {first}\): lifetime reached', timeout=10.0)
            server.wait_for(rf'Stopped worker-1 \(PID: {first}\)', timeout=10.0)
            second = load.wait_pid(avoid={first})
        assert load.failures == []
        assert first in load.pids
        assert second in server.worker_pids()
        assert server.stop() == 0


@pytest.mark.skipif(not LINUX, reason='memory is read from /proc')
def test_worker_over_max_rss_is_replaced() -> None:
    with run_server('--workers-max-rss', '200', '--rss-sample-interval', '0.2', app=APP) as server:
        [first] = server.worker_pids()
        status = Path(f'/proc/{first}/status').read_text()
        baseline = int(re.search(r'VmRSS:\s+(\d+) kB', status).group(1)) / 1024  # type: ignore[union-attr]
        assert baseline < 200, f'a fresh worker already uses {baseline:.0f} MiB'
        mark = server.mark()
        # Well below the limit: nothing happens.
        assert get(server.port, '/alloc?mb=1').status == 200
        assert not server.saw(r'Replacing worker', 1.0, start=mark)
        response = get(server.port, '/alloc?mb=256')
        assert response.status == 200, response
        server.wait_for(rf'worker-1 \(PID: {first}\) uses \d+ MiB, over the 200 MiB limit', start=mark)
        server.wait_for(rf'Replacing worker-1 \(PID: {first}\): memory over 200 MiB', start=mark)
        [second] = spawned_since(server, mark)
        server.wait_for(rf'Stopped worker-1 \(PID: {first}\)', start=mark)
        assert pid_of(server) == second
        assert server.stop() == 0


@pytest.mark.skipif(not LINUX, reason='memory is read from /proc')
def test_rss_samples_replaces_after_consecutive_readings_only() -> None:
    args = ('--workers-max-rss', '200', '--rss-sample-interval', '0.2')
    with run_server(*args, '--rss-samples', '3', app=APP) as server:
        [first] = server.worker_pids()
        mark = server.mark()
        assert get(server.port, '/alloc?mb=256').status == 200
        over = rf'worker-1 \(PID: {first}\) uses \d+ MiB, over the 200 MiB limit'
        replacing = server.wait_for(rf'Replacing worker-1 \(PID: {first}\): memory over 200 MiB', start=mark)
        lines = server.lines(mark)
        before = lines[: next(index for index, line in enumerate(lines) if replacing[0].group(0) in line)]
        readings = [line for line in before if re.search(over, line)]
        assert [re.search(r'\((\d) of 3 readings\)', line).group(1) for line in readings] == ['1', '2', '3']  # type: ignore[union-attr]
        server.wait_for(rf'Stopped worker-1 \(PID: {first}\)', start=mark)
        assert server.stop() == 0

    # A reading under the limit starts the count again.
    with run_server(*args, '--rss-samples', '1000', '--log-level', 'debug', app=APP) as server:
        assert get(server.port, '/alloc?mb=256').status == 200
        server.wait_for(r'over the 200 MiB limit \(2 of 1000 readings\)')
        assert get(server.port, '/free').status == 200
        mark = server.mark()
        server.wait_for(r'worker-1 \(PID: \d+\) uses \d+ MiB \(limit 200 MiB\)', start=mark)
        mark = server.mark()
        assert get(server.port, '/alloc?mb=256').status == 200
        server.wait_for(r'over the 200 MiB limit \(1 of 1000 readings\)', start=mark)
        assert 'Replacing worker' not in server.log_text
        assert server.stop() == 0


def test_max_requests_replaces_the_worker() -> None:
    with run_server('--max-requests', '20', '--max-requests-jitter', '5', app=APP) as server:
        [first] = server.worker_pids()
        answered = []
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline:
            answered.append(pid_of(server))
            if answered[-1] != first:
                break
            time.sleep(0.01)
        assert answered[-1] != first, 'the worker was not replaced'
        assert 20 <= answered.count(first), answered
        match = server.wait_for(rf'Replacing worker-1 \(PID: {first}\): (\d+) requests served')[0]
        assert 20 <= int(match.group(1)) <= 25
        server.wait_for(rf'Stopped worker-1 \(PID: {first}\)')
        assert server.stop() == 0


def test_sighup_restarts_every_worker_without_failing_a_request() -> None:
    with run_server(app=APP, workers=2) as server:
        old = set(server.worker_pids())
        with LoadLoop(server.port) as load:
            load.wait_ok(20)
            mark = server.mark()
            server.proc.send_signal(signal.SIGHUP)
            server.wait_for(r'Received SIGHUP, restarting workers', start=mark)
            stopped = server.wait_for(r'Stopped worker-\d+ \(PID: (\d+)\)', 20.0, start=mark, count=2)
            new = set(spawned_since(server, mark, count=2))
            load.wait_pid(avoid=old)
            served_before_end = load.ok
            load.wait_ok(served_before_end + 20)
        assert load.failures == [], load.failures[:10]
        # A keep-alive connection to an old worker gets its last answer with `Connection: close`
        # instead of being closed under a request already sent.
        assert load.retries == 0
        assert {int(match.group(1)) for match in stopped} == old
        assert not new & old
        # Only the new workers answer now.
        assert {pid_of(server) for _ in range(10)} <= new
        assert server.proc.poll() is None
        assert server.stop() == 0


def test_sigterm_drains_a_slow_request_and_cuts_a_stuck_one() -> None:
    graceful = 2.0
    with run_server('--graceful-timeout', str(graceful)) as server:
        slow_id, stuck_id = f'slow-{uuid.uuid4()}', f'stuck-{uuid.uuid4()}'
        with RawConnection(server.port, timeout=30.0) as slow, RawConnection(server.port, timeout=30.0) as stuck:
            stuck.send(request_bytes('GET', f'/slow?s=30&id={stuck_id}'))
            slow.send(request_bytes('GET', f'/slow?s=1&id={slow_id}'))
            app_record(server.port, stuck_id, until='sleeping')
            app_record(server.port, slow_id, until='sleeping')
            started = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            response = slow.read_response(timeout=10.0)
            finished = time.monotonic() - started
            with pytest.raises(IncompleteResponse):
                stuck.read_response(timeout=graceful + SHUTDOWN_MARGIN)
            cut = time.monotonic() - started
            code = server.wait_exit(timeout=graceful + SHUTDOWN_MARGIN + 5.0)
            elapsed = time.monotonic() - started
        assert response.status == 200
        assert response.body == b'slept 1.0'
        assert finished < graceful
        # Cut at the drain bound, not before; the whole server gone soon after.
        assert graceful - 0.5 <= cut < graceful + 3.0, cut
        assert code == 0
        assert elapsed < graceful + SHUTDOWN_MARGIN, elapsed


def _wait_blocked(server: Server, timeout: float = 10.0) -> None:
    """Wait until the worker's event loop no longer answers (it runs /block)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with RawConnection(server.port) as conn:
            conn.send(request_bytes('GET', '/pid', headers=[('Connection', 'close')]))
            try:
                conn.read_response(timeout=0.5)
            except IncompleteResponse:
                return
        time.sleep(0.05)
    raise AssertionError('the worker kept answering')


def test_kill_timeout_kills_a_worker_that_does_not_stop() -> None:
    with run_server('--workers-kill-timeout', '1', '--graceful-timeout', '30', app=APP) as server:
        [worker] = server.worker_pids()
        with RawConnection(server.port, timeout=30.0) as conn:
            conn.send(request_bytes('GET', '/block?s=30'))
            _wait_blocked(server)
            mark = server.mark()
            started = time.monotonic()
            code = server.stop(signal.SIGTERM, timeout=20.0)
            elapsed = time.monotonic() - started
        assert code == 0
        assert server.saw(r'Killing worker-1 after it did not stop within 1s', 0.1, start=mark)
        assert elapsed < 5.0, elapsed
        # The master reaped it before exiting.
        with pytest.raises(ProcessLookupError):
            os.kill(worker, 0)


def test_kill_timeout_applies_to_a_replaced_worker() -> None:
    with run_server('--workers-kill-timeout', '1', '--graceful-timeout', '30', app=APP) as server:
        [first] = server.worker_pids()
        with RawConnection(server.port, timeout=30.0) as conn:
            conn.send(request_bytes('GET', '/block?s=30'))
            _wait_blocked(server)
            mark = server.mark()
            server.proc.send_signal(signal.SIGHUP)
            [second] = spawned_since(server, mark)
            server.wait_for(rf'Stopping worker-1 \(PID: {first}\): replaced by PID {second}', start=mark)
            server.wait_for(r'Killing worker-1 after it did not stop within 1s', 10.0, start=mark)
            server.wait_for(rf'Stopped worker-1 \(PID: {first}\)', start=mark)
        assert pid_of(server) == second
        assert server.stop() == 0


BROKEN_APP = 'raise RuntimeError("broken deploy")\n'


def test_replacement_that_cannot_start_leaves_the_old_worker_serving(tmp_path: Path) -> None:
    module = tmp_path / 'deployed_app.py'
    module.write_text(APP_FILE.read_text())
    with run_server(
        '--working-dir',
        str(tmp_path),
        '--respawn-interval',
        '0',
        app='deployed_app:app',
        cwd=tmp_path,
        env={'PYTHONDONTWRITEBYTECODE': '1'},
        workers=2,
    ) as server:
        old = set(server.worker_pids())
        module.write_text(BROKEN_APP)
        mark = server.mark()
        server.proc.send_signal(signal.SIGHUP)
        for worker_id in (1, 2):
            server.wait_for(rf'Giving up replacing worker-{worker_id} \(PID: \d+\); it keeps serving', start=mark)
        assert len(server.wait_for(r'exited before serving \(exit code 3\)', start=mark, count=2)) == 2
        assert {pid_of(server) for _ in range(10)} <= old
        assert server.proc.poll() is None
        assert server.stop() == 0
