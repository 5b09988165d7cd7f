"""Fixtures for the HTTP/3 tests: certificates generated once per run, and the flags that serve
HTTP/3 with them."""

from __future__ import annotations

import pytest

from tests.ops._tls import Certs, make_certs

APP = 'tests.apps.h3_app'


@pytest.fixture(scope='session')
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp('h3certs'))


def h3_args(certs: Certs, *extra: str) -> tuple[str, ...]:
    """`--http3` with the test certificate."""
    return ('--http3', '--ssl-certificate', str(certs.cert), '--ssl-keyfile', str(certs.key), *extra)
