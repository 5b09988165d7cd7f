"""`--reload` with `--reload-paths` and `--reload-ignore-dirs`: a file changed under a watched
path restarts the workers; one under an ignored directory, or outside the watched paths, does
not (tests/test_reload.py covers the other ignore options and files that are not Python).

The first change is repeated until a reload shows the watcher is live. Absence is then checked
by order, not by waiting: the watcher reports changes in the order they happened, and the
master logs each changed path (`Modified: PATH`), so
once a change made after the ignored ones has been reported, any ignored change that slipped
through would have been logged already.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests._http import get
from tests.conftest import READY_TIMEOUT, Server, run_server

RELOADING = r'^\[INFO\] Changes detected, reloading workers$'
CHANGED = re.compile(r'^\[INFO\] (?:Added|Modified|Deleted): (.+)$')


def touch(path: Path, generation: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'GENERATION = {generation}\n', encoding='utf-8')


def reload_after_changing(server: Server, path: Path) -> int:
    """Change `path` (again every half second: the watcher may not be watching yet) until the
    workers reload; the log mark where that reload starts."""
    mark = server.mark()
    deadline = time.monotonic() + READY_TIMEOUT
    generation = 1
    touch(path, generation)
    while not server.saw(RELOADING, timeout=0.5, start=mark):
        if time.monotonic() > deadline:
            raise server.fail(f'no reload after changing {path}')
        generation += 1
        touch(path, generation)
    return mark


def test_reload_paths_and_ignored_dirs(tmp_path: Path) -> None:
    first, second, outside = tmp_path / 'first', tmp_path / 'second', tmp_path / 'outside'
    warm_up, watched = first / 'warm_up.py', second / 'pkg' / 'module.py'
    ignored = [
        first / 'generated' / 'module.py',  # in an ignored directory
        second / 'pkg' / 'generated' / 'deep.py',  # ignored at any depth
        outside / 'module.py',  # not under a watched path
    ]
    # Every file exists before the watcher starts: a file created in a directory made a moment
    # earlier may come before the watch on that directory, and go unseen whatever the options.
    for path in (warm_up, watched, *ignored):
        touch(path, 0)
    args = (
        '--reload',
        *('--reload-paths', str(first)),
        *('--reload-paths', str(second)),
        *('--reload-ignore-dirs', 'generated'),
        *('--log-level', 'debug'),
    )
    with run_server(*args) as server:
        [old_pid] = server.worker_pids()
        # A change under the first watched path: the watcher is live once this reloads.
        mark = reload_after_changing(server, warm_up)
        server.wait_for_workers(1, start=mark)
        [_, middle_pid] = server.worker_pids()
        assert middle_pid != old_pid
        for path in ignored:
            touch(path, 1)
        # Under the second watched path, changed after the ignored ones.
        mark = reload_after_changing(server, watched)
        server.wait_for_workers(1, start=mark)
        [_, _, new_pid] = server.worker_pids()
        assert new_pid != middle_pid
        assert get(server.port, '/pid').body == str(new_pid).encode()
        changed = {match.group(1) for line in server.lines() if (match := CHANGED.match(line))}
    assert str(watched) in changed
    assert not changed & {str(path) for path in ignored}, changed
