"""A small FastAPI application: JSON, path parameters, validated bodies, streaming, lifespan state."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
    yield {'greeting': 'hello from lifespan', 'framework': 'fastapi'}


app = FastAPI(lifespan=lifespan)


class Payload(BaseModel):
    name: str
    count: int


@app.get('/')
async def index(request: Request) -> dict[str, object]:
    return {'framework': 'fastapi', 'http_version': request.scope['http_version']}


@app.get('/items/{item_id}')
async def item(item_id: int, q: str | None = None) -> dict[str, object]:
    return {'item_id': item_id, 'q': q}


@app.post('/echo-json')
async def echo_json(payload: Payload) -> dict[str, object]:
    return {'received': payload.model_dump()}


@app.post('/upload', response_class=PlainTextResponse)
async def upload(request: Request) -> str:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return str(size)


@app.get('/stream')
async def numbers(n: int = 10) -> StreamingResponse:
    async def lines() -> AsyncIterator[bytes]:
        for index in range(n):
            yield f'line {index}\n'.encode()

    return StreamingResponse(lines(), media_type='text/plain')


@app.get('/state')
async def state(request: Request) -> dict[str, object]:
    return {'greeting': request.state.greeting, 'framework': request.state.framework}
