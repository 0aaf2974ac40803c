"""Django in one file: the RAIS view in a URLconf, CORS from django-cors-headers.

Run:   OPENAI_API_KEY=sk-... python examples/django_app.py runserver 8000
Prod:  uvicorn examples.django_app:application --host 0.0.0.0 --port 8000            (ASGI)
       gunicorn examples.django_app:wsgi_application -k gthread --threads 64       (WSGI)

In a project, the same line goes in urls.py: ``path("api/chat", rais_view(provider="openai"))``,
with ``"corsheaders"`` in INSTALLED_APPS and its middleware first.
"""

import os
import sys

from django.conf import settings

settings.configure(
    DEBUG=os.environ.get("DJANGO_DEBUG") == "1",
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "rais-example-not-secret"),
    ALLOWED_HOSTS=["127.0.0.1", "localhost", "[::1]"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["corsheaders"],
    MIDDLEWARE=[
        "corsheaders.middleware.CorsMiddleware",
        "django.middleware.common.CommonMiddleware",
    ],
    CORS_ALLOW_ALL_ORIGINS=True,  # browsers call from another origin; list yours in production
    LOGGING={
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"console": {"class": "logging.StreamHandler"}},
        "loggers": {"rais": {"handlers": ["console"], "level": "INFO"}},
    },
)

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import path  # noqa: E402

from rais.django import rais_view  # noqa: E402

try:
    from examples.weather_tools import calculate, get_weather
except ImportError:  # run as a script: python examples/django_app.py runserver
    from weather_tools import calculate, get_weather  # type: ignore[no-redef]

# protocol="auto": useAIChat (RAIS v1), the AI SDK's useChat and AG-UI clients, one URL.
# Two tools the model may call (rais runs them and streams calls and results to the UI).
chat = rais_view(provider="openai", protocol="auto", tools=[get_weather, calculate])
urlpatterns = [
    path("api/chat", chat),
    path("api/chat/<str:chat_id>/stream", chat.resume),  # the AI SDK's resume (with resume=)
]

application = get_asgi_application()
wsgi_application = get_wsgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
