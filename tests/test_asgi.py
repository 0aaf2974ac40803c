"""rais.asgi, the documented way in for ASGI frameworks rais has no adapter for."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from rais import ChatEndpoint
from rais.asgi import ASGIReply, send_reply


async def words(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
    yield "Hello"
    yield " world"


ENDPOINT = ChatEndpoint(handler=words)


async def answer(scope: Any, receive: Any) -> Any:
    """What an adapter does: the request, as its framework sees it, to the core."""

    async def body() -> AsyncIterator[bytes]:
        while True:
            message = await receive()
            yield message.get("body", b"")
            if not message.get("more_body"):
                return

    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    return await ENDPOINT.handle(
        scope["method"], body(), headers, request=scope, http_version=scope["http_version"]
    )


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send_reply(await answer(scope, receive), receive, send)


async def app_returning_an_asgi_app(scope: Any, receive: Any, send: Any) -> None:
    await ASGIReply(await answer(scope, receive))(scope, receive, send)


def events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


async def test_a_raw_asgi_app_streams_with_the_core() -> None:
    for served in (app, app_returning_an_asgi_app):
        transport = httpx.ASGITransport(app=served)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.post(
                "/chat", json={"messages": [{"role": "user", "content": "hi"}]}
            )
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert events(response.text) == [
            {"type": "text", "text": "Hello"},
            {"type": "text", "text": " world"},
            {"type": "done"},
        ]


async def test_a_raw_asgi_app_gets_the_core_json_errors() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        wrong_method = await client.get("/chat")
        not_json = await client.post(
            "/chat", content=b"{", headers={"content-type": "application/json"}
        )
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST, OPTIONS"
    assert not_json.status_code == 400
    assert not_json.json()["error"]["type"]


async def test_a_resumable_tail_whose_reader_stops_reading_is_ended() -> None:
    """A stream rais does not write itself (a resumable tail) gets the send timeout too: the
    write that waits for a client that stopped reading is cut, and the stream closed."""
    import asyncio

    from rais._reply import Reply

    closed = asyncio.Event()

    async def tail() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"data: {}\n\n"
                await asyncio.sleep(0)
        finally:
            closed.set()

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        if len(sent) >= 4:  # the client's window is full: this write never completes
            await asyncio.Event().wait()
        sent.append(message)

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client never sends anything more
        return {}

    reply = Reply(200, [("Content-Type", "text/event-stream")], stream=tail(), send_timeout=0.3)
    await asyncio.wait_for(send_reply(reply, receive, send), 20.0)
    assert closed.is_set()
    assert [m["type"] for m in sent] == ["http.response.start", *["http.response.body"] * 3]
