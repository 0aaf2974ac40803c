"""Quart: ``rais_blueprint`` and ``rais_response`` through ``app.test_client()``."""

from __future__ import annotations

from typing import cast

import quart
from quart.testing.connections import TestHTTPConnection
from werkzeug.datastructures import Headers

import rais.quart

from .base import (
    CHAT_PATH,
    HELPER_PATH,
    METHODS,
    Client,
    Response,
    headers_of,
)


class QuartClient(Client):
    name = "quart"

    @classmethod
    def request_types(cls) -> tuple[type, ...]:
        return (quart.Request,)

    async def start(self) -> None:
        app = quart.Quart(__name__)
        app.register_blueprint(rais.quart.rais_blueprint(CHAT_PATH, **self.endpoint_options))
        handler, options = self.helper_args()

        @app.route(HELPER_PATH, methods=METHODS, provide_automatic_options=False)
        async def helper() -> quart.Response:
            return await rais.quart.rais_response(handler, **options)

        self.app = app
        self.http = app.test_client()

    async def close(self) -> None:
        pass

    async def request(
        self, method: str, path: str, content: bytes | None, headers: list[tuple[str, str]]
    ) -> Response:
        # The raw ASGI connection: open() would rebuild the response from the collected
        # body and give it a Content-Length the app never sent.
        sent = Headers(headers)
        if content is not None:
            sent["Content-Length"] = str(len(content))
        async with self.http.request(path, method=method, headers=sent) as connection:
            await connection.send(content or b"")
            await connection.send_complete()
        raw = cast("TestHTTPConnection", connection)
        received = headers_of((raw.headers or Headers()).items())
        return Response(raw.status_code or 0, received, bytes(raw.response_data))
