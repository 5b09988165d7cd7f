"""Settings of the minimal Django project served by the WSGI tests (see django_wsgi.py): no
database, no installed apps, just URL routing and the common middleware."""

from __future__ import annotations

SECRET_KEY = 'granian-tests-only'
DEBUG = False
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
ROOT_URLCONF = 'tests.apps.django_urls'
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ['django.middleware.common.CommonMiddleware']
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
# Tracebacks of views that raise go to the server's stderr, not to an email.
LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'stderr': {'class': 'logging.StreamHandler'}},
    'loggers': {'django.request': {'handlers': ['stderr'], 'level': 'ERROR', 'propagate': False}},
}
