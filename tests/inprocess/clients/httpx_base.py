"""A client over an httpx transport (ASGI in the test's loop, or WSGI in a worker thread)."""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from typing import Any

import httpx

from .base import Client, Response, headers_of


class ASGIClient(Client):
    """Runs the app through ``httpx.ASGITransport``, on the test's own event loop."""

    @abstractmethod
    def app(self) -> Any:
        """The ASGI app built from ``self.endpoint_options``."""

    async def start(self) -> None:
        transport = httpx.ASGITransport(app=self.app())
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async def close(self) -> None:
        await self.http.aclose()

    async def request(
        self, method: str, path: str, content: bytes | None, headers: list[tuple[str, str]]
    ) -> Response:
        answer = await self.http.request(method, path, content=content, headers=headers)
        return Response(answer.status_code, answer.headers, answer.content)


class WSGIClient(Client):
    """Runs the app through ``httpx.WSGITransport`` in a worker thread, as a WSGI server
    would: the request thread has no event loop, so a sync ``configure`` runs in it."""

    wsgi = True

    @abstractmethod
    def app(self) -> Any:
        """The WSGI app built from ``self.endpoint_options``."""

    async def start(self) -> None:
        transport = httpx.WSGITransport(app=self.app())
        self.http = httpx.Client(transport=transport, base_url="http://testserver")

    async def close(self) -> None:
        self.http.close()

    async def request(
        self, method: str, path: str, content: bytes | None, headers: list[tuple[str, str]]
    ) -> Response:
        def send() -> Response:
            answer = self.http.request(method, path, content=content, headers=headers)
            return Response(
                answer.status_code, headers_of(answer.headers.multi_items()), answer.content
            )

        return await asyncio.to_thread(send)
