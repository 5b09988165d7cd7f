"""FastAPI on granian: `granian --interface asgi examples.fastapi_app:app`."""

from fastapi import FastAPI

app = FastAPI()


@app.get('/')
async def index() -> dict[str, str]:
    return {'framework': 'fastapi', 'hello': 'world'}


@app.get('/items/{item_id}')
async def item(item_id: int, q: str | None = None) -> dict[str, object]:
    return {'item_id': item_id, 'q': q}
