"""Flask on granian, built by an application factory:
`granian --interface wsgi --factory examples.flask_app:create_app`."""

from flask import Flask


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get('/')
    def index() -> dict[str, str]:
        return {'framework': 'flask', 'hello': 'world'}

    return app
