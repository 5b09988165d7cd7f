from django.http import HttpRequest, JsonResponse
from django.urls import path


def index(request: HttpRequest) -> JsonResponse:
    return JsonResponse({'framework': 'django', 'hello': 'world'})


urlpatterns = [path('', index)]
