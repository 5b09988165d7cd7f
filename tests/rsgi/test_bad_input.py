"""The hostile HTTP/1.1 inputs of tests/http1/test_bad_input.py, against an RSGI server.

The vectors and their checks are reused, not copied: every `test_*` of that module is collected
here again (new ones included), and the module-level SERVER_* settings below give them an RSGI
application whose `/echo`, `/disconnect` and `/record` routes behave as the ASGI test app's do.
"""

from __future__ import annotations

from tests.http1 import test_bad_input as _vectors

SERVER_ARGS = _vectors.SERVER_ARGS
SERVER_APP = 'tests.apps.rsgi_app:app'
SERVER_INTERFACE = 'rsgi'

globals().update({name: test for name, test in vars(_vectors).items() if name.startswith('test_')})
