"""Views of the minimal Django project; the same routes as the Flask app in flask_app.py."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return JsonResponse({'framework': 'django', 'protocol': request.META['SERVER_PROTOCOL']})


@require_GET
def item(request: HttpRequest, item_id: int) -> HttpResponse:
    return JsonResponse({'item_id': item_id, 'q': request.GET.get('q')})


@require_GET
def hello(request: HttpRequest, name: str) -> HttpResponse:
    return JsonResponse({'name': name})


@csrf_exempt
@require_POST
def echo(request: HttpRequest) -> HttpResponse:
    return JsonResponse({'received': json.loads(request.body)})


@csrf_exempt
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    upload = request.FILES['file']
    data = upload.read()
    return JsonResponse(
        {
            'field': request.POST['field'],
            'filename': upload.name,
            'size': len(data),
            'sha256': hashlib.sha256(data).hexdigest(),
        }
    )


@require_GET
def stream(request: HttpRequest) -> HttpResponse:
    count = int(request.GET.get('n', '3'))

    def chunks() -> Iterator[bytes]:
        for index in range(count):
            yield f'chunk {index};'.encode()

    return StreamingHttpResponse(chunks(), content_type='text/plain')


@require_GET
def file(request: HttpRequest) -> HttpResponse:
    return FileResponse(open(request.GET['path'], 'rb'), content_type='application/octet-stream')


@require_GET
def cookie(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({'seen': request.COOKIES.get('flavour')})
    response.set_cookie('flavour', 'oatmeal')
    return response


@require_GET
def error(request: HttpRequest) -> HttpResponse:
    raise RuntimeError('boom from django')
