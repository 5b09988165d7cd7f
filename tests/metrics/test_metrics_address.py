"""`--metrics-address`: the exporter listens on the address given, and only there."""

from __future__ import annotations

import re

import httpx
import pytest

from tests._kernel import listeners
from tests.conftest import run_server

# Linux routes all of 127.0.0.0/8 to the loopback interface: a second local address to bind.
OTHER_LOOPBACK = '127.0.0.2'


def test_exporter_listens_on_the_metrics_address() -> None:
    with run_server('--metrics', '--metrics-port', '0', '--metrics-address', OTHER_LOOPBACK) as server:
        match = server.wait_for(rf'Metrics at: http://{re.escape(OTHER_LOOPBACK)}:(\d+)/metrics')[0]
        port = int(match.group(1))
        assert port != 0
        # The kernel's view: one socket listens on that port, bound to that address.
        assert [listener.address for listener in listeners(port)] == [OTHER_LOOPBACK]
        response = httpx.get(f'http://{OTHER_LOOPBACK}:{port}/metrics', timeout=5.0)
        assert response.status_code == 200
        assert '# TYPE granian_workers_spawns counter' in response.text
        with pytest.raises(httpx.ConnectError):
            httpx.get(f'http://127.0.0.1:{port}/metrics', timeout=5.0)
