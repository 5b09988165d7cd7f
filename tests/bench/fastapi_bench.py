"""The real-framework cell of tests/bench/frameworks.py: a FastAPI JSON endpoint and a plain
Starlette route, as users write them."""

from fastapi import FastAPI
from starlette.responses import PlainTextResponse

app = FastAPI()


@app.get('/json')
async def json_route() -> dict[str, str]:
    return {'message': 'Hello, World!'}


@app.get('/plain', response_class=PlainTextResponse)
async def plain_route() -> str:
    return 'Hello, World!'
