"""Litestar on granian: `granian --interface asgi examples.litestar_app:app`."""

from litestar import Litestar, get


@get('/')
async def index() -> dict[str, str]:
    return {'framework': 'litestar', 'hello': 'world'}


app = Litestar(route_handlers=[index])
