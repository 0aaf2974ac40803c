"""Litestar: ``rais_router`` and ``rais_response`` through ``litestar.testing.AsyncTestClient``."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, route
from litestar.testing import AsyncTestClient

import rais.litestar

from .base import CHAT_PATH, HELPER_PATH, Client, Response

# Litestar answers HEAD itself (a handler of its own, without a body).
_METHODS: Any = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class LitestarClient(Client):
    name = "litestar"

    @classmethod
    def request_types(cls) -> tuple[type, ...]:
        return (Request,)

    async def start(self) -> None:
        handler, options = self.helper_args()

        @route(HELPER_PATH, http_method=_METHODS)
        async def helper(request: Request[Any, Any, Any]) -> Any:
            return await rais.litestar.rais_response(request, handler, **options)

        app = Litestar(
            route_handlers=[rais.litestar.rais_router(CHAT_PATH, **self.endpoint_options), helper],
            logging_config=None,  # its default reconfigures the process's logging (and caplog)
        )
        self.http = AsyncTestClient(app=app)
        await self.http.__aenter__()

    async def close(self) -> None:
        await self.http.__aexit__(None, None, None)

    async def request(
        self, method: str, path: str, content: bytes | None, headers: list[tuple[str, str]]
    ) -> Response:
        answer = await self.http.request(method, path, content=content, headers=headers)
        return Response(answer.status_code, answer.headers, answer.content)
