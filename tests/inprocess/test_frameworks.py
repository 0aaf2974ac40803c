"""What only one framework has: Flask's request context in a sync ``configure`` and its
``call_on_close`` hooks, Django-under-WSGI's refusal of chunked bodies it cannot read."""

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
