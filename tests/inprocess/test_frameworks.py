"""What only one framework has: Flask's request context in a sync ``configure`` and its
``call_on_close`` hooks, Django-under-WSGI's refusal of chunked bodies it cannot read, the
Starlette response (FastAPI's too) that a route may add headers to."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest

from rais import Chat
from tests.inprocess.clients import CHAT_PATH, selected_clients
from tests.inprocess.helpers import Finished, ask, wait_until

pytestmark = pytest.mark.timeout(60)

_SELECTED = {cls.name for cls in selected_clients()}


def only(client: str) -> pytest.MarkDecorator:
    """Run when ``client``'s framework is selected (``RAIS_FRAMEWORKS`` in a matrix cell)."""
    return pytest.mark.skipif(
        client not in _SELECTED, reason=f"RAIS_FRAMEWORKS does not select {client}"
    )


@only("flask")
async def test_flask_sync_configure_runs_in_the_request_context(
    openai_options: dict[str, Any],
) -> None:
    import flask

    from tests.inprocess.clients.flask_client import FlaskClient

    seen: list[tuple[bool, str | None]] = []

    def configure(chat: Chat) -> dict[str, Any]:
        seen.append((flask.has_request_context(), flask.request.headers.get("X-User")))
        flask.g.user = flask.request.headers.get("X-User")
        chat.state["user"] = flask.g.user
        return {}

    finished = Finished()
    client = FlaskClient(
        {**openai_options, "heartbeat": None, "configure": configure, "on_finish": finished}
    )
    await client.start()
    try:
        received = await client.post(json=ask("[count:2]", tag="flask-g"), headers={"X-User": "7"})
    finally:
        await client.close()
    assert received.types == ["text", "text", "done"], received.body
    assert seen == [(True, "7")]
    result = await finished.one("flask-g")
    assert result.chat is not None and result.chat.state == {"user": "7"}


@only("flask")
async def test_flask_call_on_close_hooks_of_a_rais_response_run(
    openai_options: dict[str, Any],
) -> None:
    """A concurrency slot released in ``call_on_close`` must be released (issue 10)."""
    import flask

    import rais.flask

    closed: list[str] = []
    finished = Finished()
    app = flask.Flask(__name__)

    @app.post(CHAT_PATH)
    def chat() -> Any:
        slot = flask.request.headers["X-Slot"]
        response = rais.flask.rais_response(
            lambda chat: chat.stream(), on_finish=finished, heartbeat=None, **openai_options
        )
        response.call_on_close(lambda: closed.append(slot))
        return response

    http = app.test_client()

    def post(slot: str) -> Any:
        body = json.dumps(ask("[count:2]", tag=slot))
        headers = {"Content-Type": "application/json", "X-Slot": slot}
        return http.post(CHAT_PATH, data=body, headers=headers, buffered=True)

    for slot in ("a", "b"):
        answer = await asyncio.to_thread(post, slot)
        assert answer.status_code == 200, answer.data
        assert answer.data.endswith(b'data: {"type":"done"}\n\n'), answer.data
        await finished.one(slot)
    await wait_until(lambda: len(closed) >= 2, "both call_on_close hooks")
    assert closed == ["a", "b"]


@only("django-wsgi")
async def test_django_wsgi_chunked_body_is_411_json(openai_options: dict[str, Any]) -> None:
    """Django under WSGI reads no chunked body (the server did not de-chunk it)."""
    from tests.inprocess.clients.django_client import DjangoWSGIClient

    client = DjangoWSGIClient({**openai_options, "heartbeat": None})
    await client.start()

    def chunks() -> Iterator[bytes]:
        yield json.dumps(ask("[count:1]")).encode()

    def send() -> Any:
        headers = {"Content-Type": "application/json"}
        return client.http.post(CHAT_PATH, content=chunks(), headers=headers)

    try:
        answer = await asyncio.to_thread(send)
    finally:
        await client.close()
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert answer.status_code == 411, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["error"]["type"] == "length_required"


@pytest.mark.parametrize(
    "framework",
    [
        pytest.param("fastapi", marks=only("fastapi")),
        pytest.param("starlette", marks=only("starlette")),
    ],
)
async def test_headers_added_to_a_rais_response_are_sent(
    framework: str, openai_options: dict[str, Any]
) -> None:
    """A hand-written route may add to the response ``rais_response`` gave it (a request
    id, a cookie): those reach the client with the SSE headers."""
    import httpx
    from starlette.requests import Request
    from starlette.responses import Response

    async def route(request: Request) -> Response:
        response = await module.rais_response(
            request, lambda chat: chat.stream(), heartbeat=None, **openai_options
        )
        response.headers["X-Request-Id"] = "r-1"
        response.set_cookie("seen", "1")
        return response

    if framework == "fastapi":
        import fastapi

        import rais.fastapi as module

        route.__annotations__["request"] = Request  # this module's annotations are strings
        app: Any = fastapi.FastAPI()
        app.post(CHAT_PATH)(route)
    else:
        from starlette.applications import Starlette
        from starlette.routing import Route

        import rais.starlette as module  # type: ignore[no-redef]

        app = Starlette(routes=[Route(CHAT_PATH, route, methods=["POST"])])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.post(CHAT_PATH, json=ask("[count:2]"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/event-stream"
    assert answer.headers["x-request-id"] == "r-1"
    assert answer.headers["set-cookie"].startswith("seen=1")
    assert answer.text.endswith('data: {"type":"done"}\n\n'), answer.text
