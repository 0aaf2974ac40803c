"""Django settings for the rais integration: an API project with django-cors-headers."""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "rais-integration-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["corsheaders"]
MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "integrations.django_project.urls"
CORS_ALLOW_ALL_ORIGINS = True
USE_TZ = True
DATABASES: dict[str, dict[str, str]] = {}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"rais": {"handlers": ["console"], "level": "INFO"}},
}
