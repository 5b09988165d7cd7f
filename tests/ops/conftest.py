"""Fixtures for the operations tests: certificates generated once per run."""

from __future__ import annotations

import pytest

from tests.ops._tls import Certs, make_certs


@pytest.fixture(scope='session')
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp('certs'))
