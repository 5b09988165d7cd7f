"""A small Flask application: JSON, path parameters, request bodies, uploads, streaming, files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from flask import Flask, Response, jsonify, request, send_file, stream_with_context

app = Flask(__name__)


@app.get('/')
def index() -> Response:
    return jsonify(framework='flask', protocol=request.environ['SERVER_PROTOCOL'])


@app.get('/items/<int:item_id>')
def item(item_id: int) -> Response:
    return jsonify(item_id=item_id, q=request.args.get('q'))


@app.get('/hello/<name>')
def hello(name: str) -> Response:
    return jsonify(name=name)


@app.post('/echo')
def echo() -> Response:
    return jsonify(received=request.get_json())


@app.post('/upload')
def upload() -> Response:
    upload = request.files['file']
    data = upload.read()
    return jsonify(
        field=request.form['field'],
        filename=upload.filename,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


@app.get('/stream')
def stream() -> Response:
    count = int(request.args.get('n', '3'))

    @stream_with_context
    def chunks() -> Iterator[bytes]:
        for index in range(count):
            yield f'chunk {index};'.encode()

    return Response(chunks(), mimetype='text/plain')


@app.get('/file')
def file() -> Response:
    return send_file(request.args['path'], mimetype='application/octet-stream')


@app.get('/cookie')
def cookie() -> Response:
    response = jsonify(seen=request.cookies.get('flavour'))
    response.set_cookie('flavour', 'oatmeal')
    return response


@app.get('/error')
def error() -> Response:
    raise RuntimeError('boom from flask')
