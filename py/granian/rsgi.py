"""Names for RSGI applications (RSGI spec 1.6, HTTP and websockets): the exceptions the protocol
raises and the types to annotate with.

```python
from granian.rsgi import HTTPProtocol, ProtocolClosed, Scope, WebsocketMessageType

async def app(scope: Scope, protocol: HTTPProtocol) -> None:
    if scope.proto == 'ws':
        transport = await protocol.accept()
        while (message := await transport.receive()).kind != WebsocketMessageType.close:
            await transport.send_str(f'echo: {message.data!r}')
        return
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
    RSGIWebsocketMessage,
    RSGIWebsocketProtocol,
    RSGIWebsocketTransport,
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
    'RSGIWebsocketMessage',
    'RSGIWebsocketProtocol',
    'RSGIWebsocketTransport',
    'Scope',
    'WebsocketMessage',
    'WebsocketMessageType',
    'WebsocketProtocol',
    'WebsocketTransport',
]

# The short names Granian's `granian.rsgi` exports.
Headers = RSGIHeaders
HTTPProtocol = RSGIHTTPProtocol
HTTPStreamTransport = RSGIHTTPStreamTransport
ProtocolError = RSGIProtocolError
ProtocolClosed = RSGIProtocolClosed
Scope = RSGIHTTPScope
WebsocketProtocol = RSGIWebsocketProtocol
WebsocketTransport = RSGIWebsocketTransport

# The headers are a read-only mapping; let `isinstance(scope.headers, Mapping)` say so.
Mapping.register(RSGIHeaders)


class WebsocketMessageType(IntEnum):
    """The `kind` of an RSGI websocket message: compare `message.kind` with these."""

    close = 0
    bytes = 1
    string = 2


class WebsocketMessage:
    """The shape of an RSGI websocket message, for annotations (the server returns
    `RSGIWebsocketMessage` objects)."""

    kind: WebsocketMessageType
    data: bytes | str | None
