"""The README quickstarts: every command in its `<!-- quickstarts -->` block starts and serves its
framework's example app (with `--port 0` added, so that tests can run side by side)."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.conftest import REPO_ROOT, Server, server_env

BLOCK = re.compile(r'<!-- quickstarts -->\n```sh\n(.*?)```\n<!-- /quickstarts -->', re.DOTALL)


def quickstarts() -> list[list[str]]:
    block = BLOCK.search((REPO_ROOT / 'README.md').read_text(encoding='utf-8'))
    assert block is not None, 'README.md lost its quickstarts block'
    commands = []
    for line in block.group(1).splitlines():
        command = shlex.split(line.split('#', 1)[0])
        assert command[0] == 'granian', line
        commands.append(command)
    return commands


@pytest.mark.parametrize('command', quickstarts(), ids=lambda command: command[-1])
def test_quickstart_serves(command: list[str]) -> None:
    import sys

    argv = [sys.executable, '-m', 'granian', '--host', '127.0.0.1', '--port', '0', *command[1:]]
    server = Server(argv, env=server_env(), cwd=REPO_ROOT)
    try:
        server.wait_ready(1)
        with server.client() as http:
            response = http.get('/')
            assert response.status_code == 200, response.text
            framework = response.json()['framework']
            assert framework in command[-1] or framework in ' '.join(command)
            if '--static-path-mount' in command:
                static = http.get('/static/site.css')
                assert static.status_code == 200
                assert static.text.startswith('body {')
        assert server.stop() == 0
    finally:
        server.kill()
