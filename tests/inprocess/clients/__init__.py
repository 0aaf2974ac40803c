"""One in-process client per framework; :func:`selected_clients` is what the conftest runs
every test on. Adding a framework: one client class, and one line in :data:`CLIENTS`."""

from __future__ import annotations

import importlib
import os

from .base import CHAT_PATH, HELPER_PATH, Client, Response

__all__ = ["CHAT_PATH", "CLIENTS", "HELPER_PATH", "Client", "Response", "selected_clients"]

#: framework (as named in noxfile.py and tests/servers.py) -> its clients, "module:Class".
CLIENTS: dict[str, list[str]] = {
    "fastapi": ["starlette_clients:FastAPIClient"],
    "starlette": ["starlette_clients:StarletteClient"],
    "django": ["django_client:DjangoASGIClient", "django_client:DjangoWSGIClient"],
    "flask": ["flask_client:FlaskClient"],
    "quart": ["quart_client:QuartClient"],
    "litestar": ["litestar_client:LitestarClient"],
    "aiohttp": ["aiohttp_client:AiohttpClient"],
}


def selected_clients() -> list[type[Client]]:
    """Every client, or those of the frameworks named in ``RAIS_FRAMEWORKS`` (a matrix cell
    installs only its frameworks). Only those are imported: a missing one fails loudly."""
    wanted = {name.strip() for name in os.environ.get("RAIS_FRAMEWORKS", "").split(",")} - {""}
    unknown = wanted - set(CLIENTS)
    if unknown:
        raise ValueError(f"RAIS_FRAMEWORKS names frameworks without a client: {sorted(unknown)}")
    classes: list[type[Client]] = []
    for framework, paths in CLIENTS.items():
        if wanted and framework not in wanted:
            continue
        for path in paths:
            module, _, name = path.partition(":")
            classes.append(getattr(importlib.import_module(f"{__name__}.{module}"), name))
    return classes
