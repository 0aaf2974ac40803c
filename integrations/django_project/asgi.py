"""Serve: uvicorn integrations.django_project.asgi:application --host 0.0.0.0 --port 8000

HTTP goes to Django; the RAIS WebSocket is routed by Channels (``websocket_urlpatterns``).
"""

import os

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrations.django_project.settings")
django_app = get_asgi_application()

from integrations.django_project.urls import websocket_urlpatterns  # noqa: E402 (after setup)

application = ProtocolTypeRouter(
    {"http": django_app, "websocket": URLRouter(websocket_urlpatterns)}
)
