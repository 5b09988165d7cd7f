"""Names for RSGI applications (RSGI spec 1.6, HTTP): the exceptions the protocol raises and the
types to annotate with.

```python
from granian.rsgi import HTTPProtocol, ProtocolClosed, Scope

async def app(scope: Scope, protocol: HTTPProtocol) -> None:
    body = await protocol()
    protocol.response_bytes(200, [('content-type', 'application/octet-stream')], body)
```

`RSGIProtocolError` (alias `ProtocolError`): the protocol used out of order, such as a second
response or the body read twice. `RSGIProtocolClosed` (alias `ProtocolClosed`): the client left,
the response is complete, or a stream transport's response has ended. Both are `RuntimeError`s.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

from ._native import (
    RSGIHeaders,
    RSGIHTTPProtocol,
    RSGIHTTPScope,
    RSGIHTTPStreamTransport,
    RSGIProtocolClosed,
    RSGIProtocolError,
)

__all__ = [
    'HTTPProtocol',
    'HTTPStreamTransport',
    'Headers',
    'ProtocolClosed',
    'ProtocolError',
    'RSGIHTTPProtocol',
    'RSGIHTTPScope',
    'RSGIHTTPStreamTransport',
    'RSGIHeaders',
    'RSGIProtocolClosed',
    'RSGIProtocolError',
    'Scope',
    'WebsocketMessage',
    'WebsocketMessageType',
]

# The short names Granian's `granian.rsgi` exports.
Headers = RSGIHeaders
HTTPProtocol = RSGIHTTPProtocol
HTTPStreamTransport = RSGIHTTPStreamTransport
ProtocolError = RSGIProtocolError
ProtocolClosed = RSGIProtocolClosed
Scope = RSGIHTTPScope

# The headers are a read-only mapping; let `isinstance(scope.headers, Mapping)` say so.
Mapping.register(RSGIHeaders)


class WebsocketMessageType(IntEnum):
    """The `kind` of an RSGI websocket message (websockets are not served yet)."""

    close = 0
    bytes = 1
    string = 2


class WebsocketMessage:
    """The shape of an RSGI websocket message, for annotations (websockets are not served yet)."""

    kind: WebsocketMessageType
    data: bytes | str | None
