"""rais.client speaking the AI SDK's UI message stream and AG-UI, against real servers on loopback.

A rais endpoint with ``protocol="auto"`` answers all three protocols; small handwritten
routes send streams that break a protocol (or only its strictest reading) on purpose.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from rais import Chat, Usage
from rais.client import (
    AsyncRaisClient,
    RaisClient,
    RaisClientError,
    RaisHTTPError,
    RaisStreamError,
    request_body,
)
from rais.starlette import rais_endpoint
from tests.asgi_thread import serve_in_thread

NEW = ["ai-sdk", "ag-ui"]
DEADLINE = 20.0
UI_HEADERS = {
    "Cache-Control": "no-cache",
    "x-vercel-ai-ui-message-stream": "v1",
}


class Recorder:
    """What the endpoint's handler saw, and whether a long answer was stopped."""

    def __init__(self) -> None:
        self.chats: list[tuple[list[dict[str, Any]], dict[str, Any], str]] = []
        self.stopped = threading.Event()

    async def handler(self, chat: Chat) -> AsyncIterator[Any]:
        self.chats.append((chat.messages, dict(chat.extra), chat.protocol))
        prompt = chat.messages[-1]["content"]
        if prompt == "fail":
            yield "partial "
            yield {"type": "error", "error": "the model broke"}
            return
        if prompt == "long":
            try:
                for i in range(1000):
                    await asyncio.sleep(0.02)
                    yield f"n{i} "
            finally:
                self.stopped.set()
            return
        for i in range(3):
            await asyncio.sleep(0.01)
            yield f"w{i} "
        yield Usage(10, 3)


def sse(*chunks: Any) -> bytes:
    """Frames for each chunk (a dict as compact JSON, a string as it is)."""
    return b"".join(
        b"data: "
        + (chunk if isinstance(chunk, str) else json.dumps(chunk, separators=(",", ":"))).encode()
        + b"\n\n"
        for chunk in chunks
    )


START = {"type": "start", "messageId": "msg-1"}
RUN = {"type": "RUN_STARTED", "threadId": "t", "runId": "r"}
OPEN = {"type": "TEXT_MESSAGE_START", "messageId": "m", "role": "assistant"}

#: Handwritten streams: name -> the body. Each breaks a rule, or only a strict one.
STREAMS = {
    "ai-delta-outside-part": sse(START, {"type": "text-delta", "id": "t1", "delta": "x"}),
    "ai-unknown-type": sse(START, {"type": "text", "text": "x"}),
    "ai-not-json": sse(START, "hello"),
    "ai-missing-field": sse(START, {"type": "text-start", "id": "t1"}, {"type": "text-delta"}),
    "ai-bad-finish-reason": sse(START, {"type": "finish", "finishReason": "tired"}, "[DONE]"),
    # Only the strict schema and order are broken: clients read these.
    "ai-lenient": sse(
        {"type": "text-start", "id": "t1"},
        {"type": "text-delta", "id": "t1", "delta": "Hi", "note": "extra key"},
        {"type": "reasoning-start", "id": "r1"},
        {"type": "data-weather", "data": {"sky": "blue"}},
        {"type": "finish", "messageMetadata": {"usage": {"inputTokens": 4, "outputTokens": 1}}},
        "[DONE]",
    ),
    "ai-abort": sse(START, {"type": "abort", "reason": "stopped by the user"}),
    "ag-content-without-start": sse(
        RUN, {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": "x"}
    ),
    "ag-unknown-type": sse(RUN, {"type": "TEXT", "text": "x"}),
    "ag-missing-field": sse(RUN, OPEN, {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m"}),
    "ag-content-after-end": sse(
        RUN,
        OPEN,
        {"type": "TEXT_MESSAGE_END", "messageId": "m"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": "late"},
    ),
    "ag-usage": sse(
        RUN,
        OPEN,
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": "Hi"},
        {"type": "TEXT_MESSAGE_END", "messageId": "m"},
        {"type": "STATE_SNAPSHOT", "snapshot": {"step": 2}},
        {
            "type": "RUN_FINISHED",
            "threadId": "t",
            "runId": "r",
            "usage": [
                {"provider": "a", "inputTokens": 5, "outputTokens": 2, "totalTokens": 7},
                {"provider": "b", "inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
            ],
        },
    ),
    "ag-error": sse(RUN, {"type": "RUN_ERROR", "message": "no model today"}),
}


async def handwritten(request: Request) -> Response:
    body = STREAMS[request.path_params["name"]]

    async def paced() -> AsyncIterator[bytes]:
        for frame in body.split(b"\n\n")[:-1]:
            await asyncio.sleep(0.005)
            yield frame + b"\n\n"

    return StreamingResponse(paced(), headers=UI_HEADERS, media_type="text/event-stream")


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()
    app = Starlette(
        routes=[
            Route(
                "/chat",
                rais_endpoint(handler=recorder.handler, protocol="auto", client_system=True),
                methods=["POST"],
            ),
            Route("/raw/{name}", handwritten, methods=["POST"]),
        ]
    )
    with serve_in_thread(app) as base:
        yield base, recorder


def chat_url(server: tuple[str, Recorder]) -> str:
    return server[0] + "/chat"


# -- against rais's own endpoint -------------------------------------------------------------


@pytest.mark.parametrize("protocol", NEW)
def test_sync_events_text_and_usage(server: tuple[str, Recorder], protocol: str) -> None:
    with RaisClient(chat_url(server), protocol=protocol) as client:
        with client.stream("hi") as stream:
            events = list(stream)
        assert client.complete("again") == "w0 w1 w2 "
        assert list(client.text("and again")) == ["w0 ", "w1 ", "w2 "]
    assert events[:-1] == [{"type": "text", "text": f"w{i} "} for i in range(3)]
    assert events[-1]["type"] == "done"
    if protocol == "ai-sdk":  # the AI SDK carries usage in finish's message metadata
        assert events[-1]["usage"] == {
            "prompt_tokens": 10,
            "completion_tokens": 3,
            "total_tokens": 13,
        }
        assert stream.usage == Usage(10, 3, 13)
    else:  # rais's AG-UI stream does not report usage
        assert events[-1] == {"type": "done"} and stream.usage is None


@pytest.mark.parametrize("protocol", NEW)
async def test_async_events_and_complete(server: tuple[str, Recorder], protocol: str) -> None:
    async with AsyncRaisClient(chat_url(server), protocol=protocol) as client:
        events = [event async for event in client.events("hi")]
        assert await client.complete("again") == "w0 w1 w2 "
    assert [event["type"] for event in events] == ["text"] * 3 + ["done"]


@pytest.mark.parametrize("protocol", NEW)
def test_the_server_gets_the_same_messages_and_extra_fields(
    server: tuple[str, Recorder], protocol: str
) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    _, recorder = server
    recorder.chats.clear()
    with RaisClient(chat_url(server), protocol=protocol) as client:
        assert client.complete(messages, tag="shapes") == "w0 w1 w2 "
    seen, extra, spoken = recorder.chats[-1]
    assert seen == messages
    assert spoken == protocol
    assert extra["tag"] == "shapes"
    if protocol == "ai-sdk":
        assert extra["trigger"] == "submit-message" and extra["id"].startswith("chat-")
    else:
        assert {"threadId", "runId", "state", "tools", "context", "forwardedProps"} <= set(extra)


@pytest.mark.parametrize("protocol", NEW)
async def test_an_error_mid_stream_is_an_error_event_and_raises_in_text(
    server: tuple[str, Recorder], protocol: str
) -> None:
    async with AsyncRaisClient(chat_url(server), protocol=protocol) as client:
        events = [event async for event in client.events("fail")]
        chunks: list[str] = []
        with pytest.raises(RaisStreamError, match="the model broke"):
            async for chunk in client.text("fail"):
                chunks.append(chunk)
    assert events == [
        {"type": "text", "text": "partial "},
        {"type": "error", "error": "the model broke"},
    ]
    assert chunks == ["partial "]


@pytest.mark.parametrize("protocol", NEW)
def test_a_bad_request_is_an_http_error_with_the_server_message(
    server: tuple[str, Recorder], protocol: str
) -> None:
    with (
        RaisClient(chat_url(server), protocol=protocol) as client,
        pytest.raises(RaisHTTPError) as caught,
    ):
        client.complete([])
    assert caught.value.status == 422
    assert "messages" in caught.value.message


@pytest.mark.parametrize("protocol", NEW)
def test_leaving_early_stops_the_answer(server: tuple[str, Recorder], protocol: str) -> None:
    _, recorder = server
    recorder.stopped.clear()
    with RaisClient(chat_url(server), protocol=protocol) as client:
        for chunk in client.text("long"):
            assert chunk == "n0 "
            break
    assert recorder.stopped.wait(DEADLINE), "the server kept generating after the client left"


def test_rais_v1_on_the_same_endpoint_is_unchanged(server: tuple[str, Recorder]) -> None:
    with RaisClient(chat_url(server)) as client, client.stream("hi") as stream:
        events = list(stream)
    assert events[-1] == {"type": "done"}
    assert stream.last_event_id == "4" and stream.usage is None


# -- handwritten streams -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ai-delta-outside-part", "'text-delta' for text part 't1', which is not open"),
        ("ai-unknown-type", "unknown AI SDK UI message chunk type 'text'"),
        ("ai-not-json", "not an AI SDK UI message chunk: 'hello'"),
        ("ai-missing-field", "'text-delta' without 'id'"),
        ("ai-bad-finish-reason", "'finish' with an unknown finishReason 'tired'"),
        ("ag-content-without-start", "TEXT_MESSAGE_CONTENT for message 'm', which is not open"),
        ("ag-unknown-type", "unknown AG-UI event type 'TEXT'"),
        ("ag-missing-field", "'TEXT_MESSAGE_CONTENT' without 'delta'"),
        ("ag-content-after-end", "TEXT_MESSAGE_CONTENT for message 'm', which is not open"),
    ],
)
def test_a_chunk_that_breaks_the_protocol_raises(
    server: tuple[str, Recorder], name: str, message: str
) -> None:
    protocol = "ai-sdk" if name.startswith("ai-") else "ag-ui"
    with (
        RaisClient(f"{server[0]}/raw/{name}", protocol=protocol) as client,
        pytest.raises(RaisClientError) as caught,
    ):
        list(client.events("hi"))
    assert type(caught.value) is RaisClientError  # a protocol error, as for RAIS v1
    assert message in str(caught.value)


def test_what_only_the_strict_schema_forbids_is_read(server: tuple[str, Recorder]) -> None:
    """No ``start``, an extra key: newer AI SDK clients read it, and so does this one;
    other chunks (reasoning, data parts) are passed through as they are."""
    with (
        RaisClient(f"{server[0]}/raw/ai-lenient", protocol="ai-sdk") as client,
        client.stream("hi") as stream,
    ):
        events = list(stream)
    assert events == [
        {"type": "text", "text": "Hi"},
        {"type": "data-weather", "data": {"sky": "blue"}},
        {"type": "done", "usage": {"prompt_tokens": 4, "completion_tokens": 1}},
    ]
    assert stream.usage == Usage(4, 1, 5)


def test_an_abort_chunk_ends_the_answer_with_an_error(server: tuple[str, Recorder]) -> None:
    with RaisClient(f"{server[0]}/raw/ai-abort", protocol="ai-sdk") as client:
        events = list(client.events("hi"))
    assert events == [
        {"type": "error", "error": "The server aborted the answer: stopped by the user"}
    ]


def test_ag_ui_usage_and_other_events(server: tuple[str, Recorder]) -> None:
    with (
        RaisClient(f"{server[0]}/raw/ag-usage", protocol="ag-ui") as client,
        client.stream("hi") as stream,
    ):
        events = list(stream)
    assert events == [
        {"type": "text", "text": "Hi"},
        {"type": "STATE_SNAPSHOT", "snapshot": {"step": 2}},
        {
            "type": "done",
            "usage": {"prompt_tokens": 6, "completion_tokens": 3, "total_tokens": 9},
        },
    ]
    assert stream.usage == Usage(6, 3, 9)  # the usage reports of every model, added up


def test_a_run_error_raises_in_complete(server: tuple[str, Recorder]) -> None:
    with (
        RaisClient(f"{server[0]}/raw/ag-error", protocol="ag-ui") as client,
        pytest.raises(RaisStreamError, match="no model today"),
    ):
        client.complete("hi")


# -- the pieces --------------------------------------------------------------------------------


def test_request_bodies() -> None:
    messages = [{"role": "user", "content": "Hi"}]
    assert request_body(messages, "rais", model="m") == {"messages": messages, "model": "m"}
    ui = request_body(messages, "ai-sdk", id="chat-7", protocol="x")
    assert ui == {
        "id": "chat-7",
        "messages": [{"id": "msg-1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}],
        "trigger": "submit-message",
        "protocol": "x",  # protocol is positional: a body field of that name still passes
    }
    kept = {"id": "u9", "role": "user", "parts": [{"type": "text", "text": "as is"}]}
    assert request_body([kept], "ai-sdk")["messages"] == [kept]
    run = request_body("Hi", "ag-ui", threadId="thread-1")
    assert run["threadId"] == "thread-1" and run["runId"].startswith("run-")
    assert run["messages"] == [{"id": "msg-1", "role": "user", "content": "Hi"}]
    assert run["state"] == run["forwardedProps"] == {}
    assert run["tools"] == run["context"] == []
    assert messages == [{"role": "user", "content": "Hi"}]  # the caller's list is not changed
    with pytest.raises(ValueError, match="protocol must be one of"):
        request_body("Hi", "openai")


def test_what_only_rais_v1_has_is_refused_up_front() -> None:
    with pytest.raises(ValueError, match="protocol must be one of"):
        RaisClient("http://127.0.0.1:9/chat", protocol="sse")
    with RaisClient("http://127.0.0.1:9/chat", protocol="ai-sdk") as client:
        with pytest.raises(ValueError, match="last_event_id resumes RAIS v1 streams"):
            client.stream("hi", last_event_id="3")
        with pytest.raises(ValueError, match="the WebSocket transport is RAIS v1's"):
            next(iter(client.websocket_events("hi")))
