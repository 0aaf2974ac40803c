"""FastAPI and Starlette: the one-liner and ``rais_response`` over ``httpx.ASGITransport``."""

from __future__ import annotations

from typing import Any

import fastapi
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

import rais.fastapi
import rais.starlette

from .base import CHAT_PATH, HELPER_PATH, METHODS
from .httpx_base import ASGIClient


class FastAPIClient(ASGIClient):
    name = "fastapi"

    @classmethod
    def request_types(cls) -> tuple[type, ...]:
        return (fastapi.Request,)

    def app(self) -> Any:
        app = fastapi.FastAPI()
        app.include_router(rais.fastapi.rais_router(CHAT_PATH, **self.endpoint_options))
        handler, options = self.helper_args()

        @app.api_route(HELPER_PATH, methods=METHODS)
        async def helper(request: fastapi.Request) -> fastapi.Response:
            return await rais.fastapi.rais_response(request, handler, **options)

        return app


class StarletteClient(ASGIClient):
    name = "starlette"

    @classmethod
    def request_types(cls) -> tuple[type, ...]:
        return (Request,)

    def app(self) -> Any:
        handler, options = self.helper_args()

        async def helper(request: Request) -> Any:
            return await rais.starlette.rais_response(request, handler, **options)

        chat = rais.starlette.rais_endpoint(**self.endpoint_options)
        return Starlette(
            routes=[
                Route(CHAT_PATH, chat),
                Route(CHAT_PATH + "/{chat_id}/stream", chat.resume),
                Route(HELPER_PATH, helper, methods=METHODS),
            ]
        )
