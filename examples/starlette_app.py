"""Starlette on granian: `granian --interface asgi examples.starlette_app:app`."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def index(request: Request) -> JSONResponse:
    return JSONResponse({'framework': 'starlette', 'hello': 'world'})


app = Starlette(routes=[Route('/', index)])
