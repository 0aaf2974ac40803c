"""One in-process client per framework; :data:`CLIENTS` is what the conftest runs every test on."""

from __future__ import annotations

from .aiohttp_client import AiohttpClient
from .base import CHAT_PATH, HELPER_PATH, Client, Response
from .django_client import DjangoASGIClient, DjangoWSGIClient
from .flask_client import FlaskClient
from .litestar_client import LitestarClient
from .quart_client import QuartClient
from .starlette_clients import FastAPIClient, StarletteClient

__all__ = ["CHAT_PATH", "CLIENTS", "HELPER_PATH", "Client", "Response"]

#: Adding a framework: one client class here.
CLIENTS: list[type[Client]] = [
    FastAPIClient,
    StarletteClient,
    DjangoASGIClient,
    DjangoWSGIClient,
    FlaskClient,
    QuartClient,
    LitestarClient,
    AiohttpClient,
]
