"""Django under ASGI and under WSGI: ``rais_view`` and ``rais_response`` in one URLconf.

Django's settings are process-wide, so they are configured once (no apps, no
middleware, no database) and each client swaps the URLconf's patterns for its test.
"""

from __future__ import annotations

from typing import Any

import django
from django.conf import settings

from .base import CHAT_PATH, HELPER_PATH, helper_handler, response_options
from .httpx_base import ASGIClient, WSGIClient

URLCONF = "tests.inprocess.clients.django_urls"


def _setup() -> None:
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="rais-inprocess-tests",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=URLCONF,
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
            DATABASES={},
            USE_TZ=True,
        )
        django.setup()
    # A URLconf from another test module would route nothing here: say so loudly.
    assert settings.ROOT_URLCONF == URLCONF, settings.ROOT_URLCONF


def _route(options: dict[str, Any]) -> None:
    from django.http import HttpRequest, HttpResponseBase
    from django.urls import clear_url_caches, path

    import rais.django

    from . import django_urls

    handler, helper_options = helper_handler(options), response_options(options)

    async def helper(request: HttpRequest) -> HttpResponseBase:
        return await rais.django.rais_response(request, handler, **helper_options)

    chat: Any = rais.django.rais_view(**options)
    django_urls.urlpatterns[:] = [
        path(CHAT_PATH.lstrip("/"), chat),
        path(CHAT_PATH.lstrip("/") + "/<str:chat_id>/stream", chat.resume),
        path(HELPER_PATH.lstrip("/"), helper),
    ]
    clear_url_caches()


class DjangoASGIClient(ASGIClient):
    name = "django-asgi"

    @classmethod
    def request_types(cls) -> tuple[type, ...]:
        _setup()
        from django.http import HttpRequest

        return (HttpRequest,)

    def app(self) -> Any:
        _setup()
        from django.core.asgi import get_asgi_application

        _route(self.endpoint_options)
        return get_asgi_application()


class DjangoWSGIClient(WSGIClient):
    name = "django-wsgi"

    @classmethod
    def request_types(cls) -> tuple[type, ...]:
        return DjangoASGIClient.request_types()

    def app(self) -> Any:
        _setup()
        from django.core.wsgi import get_wsgi_application

        _route(self.endpoint_options)
        return get_wsgi_application()
