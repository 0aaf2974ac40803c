from django.urls import path

from rais.django import rais_view, rais_websocket

urlpatterns = [
    path("api/chat", rais_view(provider="openai")),
]

# Served by asgi.py through Channels' router (WSGI has no WebSocket).
websocket_urlpatterns = [
    path("api/chat/ws", rais_websocket(provider="openai")),
]
