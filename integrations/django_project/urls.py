from typing import Any

from django.urls import path

from integrations import app_hooks
from rais.django import rais_view, rais_websocket

ui: Any = rais_view(provider="openai", protocol="auto", tools=app_hooks.TOOLS)
ui_resumable: Any = rais_view(
    provider="openai", protocol="auto", tools=app_hooks.TOOLS, resume="memory://"
)
urlpatterns = [
    path("api/chat", rais_view(provider="openai")),
    # The chat UIs' own protocols too (useChat, AG-UI): decided per request by its body.
    path("api/ui", ui),
    path("api/ui/<str:chat_id>/stream", ui.resume),  # the AI SDK's resume
    path("api/ui-resumable", ui_resumable),
    path("api/ui-resumable/<str:chat_id>/stream", ui_resumable.resume),
    # A real app's endpoints (handler, configure, owner, a sync on_finish): see app_hooks.
    path("api/app", rais_view(**app_hooks.options("app", sync=True))),
    path(
        "api/app/resumable",
        rais_view(**app_hooks.options("resumable", sync=True, resume="memory://")),
    ),
    path(
        "api/app/anthropic",
        rais_view(**app_hooks.options("anthropic", sync=True, provider="anthropic")),
    ),
]

# Served by asgi.py through Channels' router (WSGI has no WebSocket).
websocket_urlpatterns = [
    path("api/chat/ws", rais_websocket(provider="openai")),
    path("api/app/ws", rais_websocket(**app_hooks.options("app", sync=True))),
]
