"""The Django integration's URLs plus the reliability endpoints (see ``__init__``)."""

from django.urls import path

from integrations.django_project.urls import urlpatterns as integration_urls
from integrations.django_project.urls import websocket_urlpatterns
from rais.django import rais_view
from tests.reliability.apps import CRASH, CRASH_PATH, LONG, LONG_PATH, OWNED, OWNED_PATH

urlpatterns = [
    *integration_urls,
    path(CRASH_PATH.lstrip("/"), rais_view(**CRASH)),
    path(LONG_PATH.lstrip("/"), rais_view(**LONG)),
    path(OWNED_PATH.lstrip("/"), rais_view(**OWNED)),
]

__all__ = ["urlpatterns", "websocket_urlpatterns"]
