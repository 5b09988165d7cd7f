"""HTTP/3 across a worker's life: a shutdown lets an in-flight request finish, and a SIGHUP
rolling restart loses no request of clients that keep requesting through it."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from dataclasses import dataclass, field

from tests.conftest import run_server
from tests.http3._h3 import H3_REQUEST_REJECTED, Client, RequestFailed, connect
from tests.http3.conftest import APP, h3_args
from tests.ops._tls import Certs


def test_shutdown_lets_an_in_flight_request_finish(certs: Certs) -> None:
    with run_server(*h3_args(certs, '--graceful-timeout', '10'), app=f'{APP}:asgi', interface='asginl') as server:

        async def main() -> None:
            async with connect(server.port, certs.ca) as client:
                _, response = client.start('GET', '/slow?ms=1500')
                mark = server.mark()
                await asyncio.to_thread(server.wait_for, 'h3_app: slow started', start=0)
                server.proc.send_signal(signal.SIGTERM)
                await asyncio.to_thread(server.wait_for, 'Shutting down granian', start=mark)
                done = await asyncio.wait_for(response, 10)
                assert (done.status, done.body) == (200, b'slow done')

        asyncio.run(main())
        assert server.wait_exit() == 0


@dataclass
class Tally:
    done: int = 0
    retried: int = 0
    lost: list[str] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)


async def request_loop(port: int, certs: Certs, stop: asyncio.Event, tally: Tally) -> None:
    """GET /info again and again over one connection, moving to a new connection when the server
    rejects a request unprocessed (RFC 9114 §4.1.1: after its GOAWAY) or closes the connection
    before the request got an answer, and retrying that request there."""
    client: Client | None = None
    context = None
    try:
        while not stop.is_set():
            if client is None:
                context = connect(port, certs.ca)
                try:
                    client = await context.__aenter__()
                except Exception as exc:
                    tally.lost.append(f'connect: {exc!r}')
                    context = None
                    continue
            try:
                response = await client.request('GET', '/info', timeout=10)
            except RequestFailed as failed:
                unprocessed = failed.reason == 'closed' or failed.code == H3_REQUEST_REJECTED
                if not unprocessed:
                    tally.lost.append(str(failed))
                tally.retried += 1
                await context.__aexit__(None, None, None)
                client = context = None
                continue
            except TimeoutError:
                tally.lost.append('no answer within 10s')
                continue
            if response.status != 200:
                tally.lost.append(f'status {response.status}')
                continue
            tally.done += 1
            tally.pids.add(json.loads(response.body)['pid'])
            if client.terminated is not None:
                await context.__aexit__(None, None, None)
                client = context = None
    finally:
        if context is not None:
            await context.__aexit__(None, None, None)


def test_sighup_rolling_restart_loses_no_request(certs: Certs) -> None:
    args = h3_args(certs, '--graceful-timeout', '5')
    with run_server(*args, app=f'{APP}:asgi', interface='asginl', workers=2) as server:
        old = set(server.worker_pids())
        tally = Tally()

        async def main() -> None:
            stop = asyncio.Event()
            loops = [asyncio.create_task(request_loop(server.port, certs, stop, tally)) for _ in range(4)]
            try:
                while tally.done < 20:
                    await asyncio.sleep(0.05)
                mark = server.mark()
                server.proc.send_signal(signal.SIGHUP)
                await asyncio.to_thread(server.wait_for, r'Stopped worker-\d', 60, start=mark, count=2)
                served = tally.done
                deadline = time.monotonic() + 10
                while tally.done < served + 20 and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
            finally:
                stop.set()
                await asyncio.gather(*loops)

        asyncio.run(main())
        new = set(server.worker_pids()) - old
        assert len(new) == 2, server.log_text
        assert tally.lost == [], (tally, server.log_text)
        # Requests were served by the old workers and by the new ones.
        assert tally.pids & old and tally.pids & new, tally
        print(f'rolling restart: {tally.done} requests, {tally.retried} retried unprocessed, 0 lost')
        assert server.stop() == 0
