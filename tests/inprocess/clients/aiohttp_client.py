"""aiohttp: ``rais_app`` (a sub-app) and ``rais_response`` via aiohttp's ``TestClient``.

aiohttp's test client serves the app on a loopback socket in the test's loop; it is
still the framework's own test client, with per-test apps.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import rais.aiohttp

from .base import (
    CHAT_PATH,
    HELPER_PATH,
    Client,
    Response,
    headers_of,
)


class AiohttpClient(Client):
    name = "aiohttp"

    @classmethod
    def request_types(cls) -> tuple[type, ...]:
        return (web.Request,)

    async def start(self) -> None:
        handler, options = self.helper_args()

        async def helper(request: web.Request) -> web.StreamResponse:
            return await rais.aiohttp.rais_response(request, handler, **options)

        app = web.Application()
        app.add_subapp(CHAT_PATH, rais.aiohttp.rais_app(**self.endpoint_options))
        app.router.add_route("*", HELPER_PATH, helper)
        self.http: TestClient[Any, Any] = TestClient(TestServer(app))
        await self.http.start_server()

    async def close(self) -> None:
        await self.http.close()

    async def request(
        self, method: str, path: str, content: bytes | None, headers: list[tuple[str, str]]
    ) -> Response:
        # No Content-Type unless the test sent one (aiohttp would add octet-stream).
        async with self.http.request(
            method, path, data=content, headers=headers, skip_auto_headers=["Content-Type"]
        ) as answer:
            body = await answer.read()
            return Response(answer.status, headers_of(answer.headers.items()), body)
