"""The WSGI entry point of the minimal Django project (settings in django_settings.py)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'tests.apps.django_settings')

application = get_wsgi_application()
