"""One attacked server per interface, shared by the attacks of this directory: each attack
leaves it serving normally, which it checks before it returns."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attacks._support import attacked_server
from tests.conftest import Server


@pytest.fixture(scope='package', params=['asgi', 'rsgi', 'wsgi'])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    with attacked_server(request.param) as running:
        yield running
