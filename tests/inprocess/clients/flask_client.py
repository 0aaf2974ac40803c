"""Flask: ``rais_blueprint`` and ``rais_response`` through ``app.test_client()``.

The test client runs in a worker thread, as a WSGI server's request thread would (no
event loop there, so a sync ``configure`` runs in the request context).
"""

from __future__ import annotations

import asyncio

import flask

import rais.flask

from .base import (
    CHAT_PATH,
    HELPER_PATH,
    METHODS,
    Client,
    Response,
    headers_of,
)


class FlaskClient(Client):
    name = "flask"
    wsgi = True

    @classmethod
    def request_types(cls) -> tuple[type, ...]:
        return (flask.Request,)

    async def start(self) -> None:
        app = flask.Flask(__name__)
        app.register_blueprint(rais.flask.rais_blueprint(CHAT_PATH, **self.endpoint_options))
        handler, options = self.helper_args()

        @app.route(HELPER_PATH, methods=METHODS, provide_automatic_options=False)
        def helper() -> flask.Response:
            return rais.flask.rais_response(handler, **options)

        self.app = app
        self.http = app.test_client()

    async def close(self) -> None:
        pass

    async def request(
        self, method: str, path: str, content: bytes | None, headers: list[tuple[str, str]]
    ) -> Response:
        def send() -> Response:
            # buffered: read the whole body and close the response (call_on_close runs).
            answer = self.http.open(
                path, method=method, data=content, headers=headers, buffered=True
            )
            return Response(answer.status_code, headers_of(answer.headers.items()), answer.data)

        return await asyncio.to_thread(send)
