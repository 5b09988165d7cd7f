"""URL routes of the minimal Django project."""

from __future__ import annotations

from django.urls import path

from tests.apps import django_views as views

urlpatterns = [
    path('', views.index),
    path('items/<int:item_id>', views.item),
    path('hello/<str:name>', views.hello),
    path('echo', views.echo),
    path('upload', views.upload),
    path('stream', views.stream),
    path('file', views.file),
    path('cookie', views.cookie),
    path('error', views.error),
]
