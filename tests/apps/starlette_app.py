"""A small Starlette application: JSON, path parameters, request bodies, streaming, lifespan state,
a websocket endpoint."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
    # Starlette refuses to start when the server does not support lifespan state.
    yield {'greeting': 'hello from lifespan', 'framework': 'starlette'}


async def index(request: Request) -> Response:
    return JSONResponse({'framework': 'starlette', 'http_version': request.scope['http_version']})


async def item(request: Request) -> Response:
    return JSONResponse({'item_id': request.path_params['item_id'], 'q': request.query_params.get('q')})


async def echo_json(request: Request) -> Response:
    return JSONResponse({'received': await request.json()})


async def upload(request: Request) -> Response:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return PlainTextResponse(str(size))


async def numbers(request: Request) -> Response:
    count = int(request.query_params.get('n', '10'))

    async def lines() -> AsyncIterator[bytes]:
        for index in range(count):
            yield f'line {index}\n'.encode()

    return StreamingResponse(lines(), media_type='text/plain')


async def state(request: Request) -> Response:
    return JSONResponse({'greeting': request.state.greeting, 'framework': request.state.framework})


async def ws_echo(websocket: WebSocket) -> None:
    """Echo text with a prefix; `json` answers with JSON including the lifespan state."""
    await websocket.accept(subprotocol='echo' if 'echo' in websocket.scope['subprotocols'] else None)
    try:
        while True:
            text = await websocket.receive_text()
            if text == 'json':
                await websocket.send_json({'framework': 'starlette', 'greeting': websocket.state.greeting})
            elif text == 'bye':
                await websocket.close(code=4000, reason='bye from starlette')
                return
            else:
                await websocket.send_text(f'starlette: {text}')
    except WebSocketDisconnect:
        pass


app = Starlette(
    routes=[
        Route('/', index),
        Route('/items/{item_id:int}', item),
        Route('/echo-json', echo_json, methods=['POST']),
        Route('/upload', upload, methods=['POST']),
        Route('/stream', numbers),
        Route('/state', state),
        WebSocketRoute('/ws', ws_echo),
    ],
    lifespan=lifespan,
)
