"""The app behind ``rais serve``: the RAIS endpoint, CORS and the built-in chat page.

A plain Starlette app built from :mod:`rais.starlette`, so what ``rais serve`` runs
is exactly what a Starlette user gets. Imported only by the CLI (and by users who
want the page), never by ``import rais``.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ._codecs import ProtocolName
from ._endpoint import resume_path
from .starlette import rais_endpoint

__all__ = ["STATIC_DIR", "ServeSettings", "create_app", "create_app_from_env"]

#: The chat page's files, shipped as package data (no build step, no CDN).
STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Where the CLI hands its settings to worker processes (uvicorn imports the app by name).
SETTINGS_VARIABLE = "RAIS_SERVE_SETTINGS"


@dataclass(frozen=True)
class ServeSettings:
    """What ``rais serve`` was asked to serve; JSON-serialisable for worker processes."""

    provider: str = "offline"
    model: str | None = None
    system: str | None = None
    base_url: str | None = None
    allow_origins: Sequence[str] = field(default_factory=lambda: ("*",))
    path: str = "/api/chat"
    #: ``auto``: one URL answers ``useAIChat`` (RAIS v1), ``useChat`` and AG-UI clients.
    protocol: ProtocolName = "auto"
    #: Resumable streams (``True``/``"memory://"`` or a ``redis://`` URL), for the AI SDK's
    #: resume and RAIS reconnects; off by default.
    resume: str | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["allow_origins"] = list(self.allow_origins)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        data = json.loads(text)
        data["allow_origins"] = tuple(data.get("allow_origins") or ("*",))
        return cls(**data)


def create_app(settings: ServeSettings | None = None) -> Starlette:
    """The chat page at ``/``, its assets at ``/static``, the endpoint at ``settings.path``."""
    settings = settings or ServeSettings()
    chat = rais_endpoint(
        provider=settings.provider,
        model=settings.model,
        system=settings.system,
        base_url=settings.base_url,
        protocol=settings.protocol,
        resume=settings.resume,
    )
    page = _render_page(settings)

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    return Starlette(
        routes=[
            Route("/", index, methods=["GET", "HEAD"]),
            Route(settings.path, chat, methods=["POST", "OPTIONS"]),
            Route(resume_path(settings.path, "{chat_id}"), chat.resume, methods=["GET", "OPTIONS"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.allow_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["*"],
                max_age=600,
            )
        ],
    )


def create_app_from_env() -> Starlette:
    """Factory for uvicorn workers: the settings come from :data:`SETTINGS_VARIABLE`."""
    text = os.environ.get(SETTINGS_VARIABLE)
    return create_app(ServeSettings.from_json(text) if text else None)


def _render_page(settings: ServeSettings) -> str:
    """The page with this server's endpoint and provider filled in (escaped; never a key or URL)."""
    template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    return template.replace("{{endpoint}}", html.escape(settings.path)).replace(
        "{{provider}}", html.escape(settings.provider)
    )
