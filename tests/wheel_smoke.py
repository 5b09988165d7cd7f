"""Serve one request from an installed granian (`make test-wheel` runs this with the Python of a
fresh virtualenv that holds only the wheel): starts `python -m granian` on a free port, fetches
`/` and stops the server. Standard library only, as the virtualenv has nothing else."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / 'examples'


def main() -> int:
    command = [sys.executable, '-m', 'granian', '--interface', 'asgi', '--port', '0', 'hello_asgi:app']
    proc = subprocess.Popen(command, cwd=EXAMPLES, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        port = None
        for line in proc.stdout:
            sys.stdout.write(line)
            found = re.search(r'Listening at: http://127\.0\.0\.1:(\d+)', line)
            if found:
                port = int(found.group(1))
            if port is not None and 'Started worker-1' in line:
                break
        if port is None:
            print('the server did not start', file=sys.stderr)
            return 1
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/wheel', timeout=10) as response:
            body = json.load(response)
        assert response.status == 200 and body['path'] == '/wheel', body
        print(f'served {body} from {sys.prefix}')
        return 0
    finally:
        proc.terminate()
        proc.wait(20)


if __name__ == '__main__':
    sys.exit(main())
