"""Bench twin of integrations/django_project/settings.py (same middleware)."""

SECRET_KEY = "rais-bench-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["corsheaders"]
MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "bench.apps.django_project.urls"
CORS_ALLOW_ALL_ORIGINS = True
USE_TZ = True
DATABASES: dict[str, dict[str, str]] = {}
