"""A minimal Django project served by granian (see the README quickstarts): no database, one
view, and static files served by granian itself (`--static-path-mount examples/django/static`)."""

SECRET_KEY = 'change-me: a quickstart, not a deployment'
DEBUG = False
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
ROOT_URLCONF = 'mysite.urls'
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ['django.middleware.common.CommonMiddleware']
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
# Served by granian before Django sees the request: no Django view is involved.
STATIC_URL = '/static/'
