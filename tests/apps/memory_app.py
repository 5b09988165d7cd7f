"""An RSGI application that imports `decimal`: its C part, `_decimal`, is a shared library on most
builds of Python, so `/proc/PID/maps` shows which processes imported the application
(tests/test_memory.py)."""

from __future__ import annotations

import decimal
from typing import Any


async def app(scope: Any, protocol: Any) -> None:
    protocol.response_str(200, [('content-type', 'text/plain')], str(decimal.Decimal('0.1') * 3))
