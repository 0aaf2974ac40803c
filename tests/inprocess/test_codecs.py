"""The AI SDK's UI message stream and AG-UI, on every framework's test client.

Each stream is checked chunk by chunk against the protocol's rules: the AI SDK's chunk
keys as its strict schema lists them, and AG-UI's events by the official
``ag-ui-protocol`` models, re-encoded by its own encoder to the very same bytes.
(The official JavaScript clients read the same streams over real sockets in
tests/test_js_clients.py.)
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from ag_ui.core import Event as AgUiEvent
from ag_ui.encoder import EventEncoder
from pydantic import TypeAdapter

from tests.fakes.upstreams import RETRY_AFTER_SECONDS
from tests.inprocess.clients import HELPER_PATH, Client, Response
from tests.inprocess.conftest import MakeClient
from tests.inprocess.helpers import Finished, ask, unique

pytestmark = pytest.mark.timeout(60)

#: The keys each chunk type may carry, as the ``ai`` package's strict 6.x schema lists them
#: (``uiMessageChunkSchema``; optional keys rais never sends are left out).
AI_SDK_KEYS = {
    "start": {"type", "messageId", "messageMetadata"},
    "text-start": {"type", "id"},
    "text-delta": {"type", "id", "delta"},
    "text-end": {"type", "id"},
    "reasoning-start": {"type", "id"},
    "reasoning-delta": {"type", "id", "delta"},
    "reasoning-end": {"type", "id"},
    "start-step": {"type"},
    "finish-step": {"type"},
    "tool-input-start": {"type", "toolCallId", "toolName"},
    "tool-input-delta": {"type", "toolCallId", "inputTextDelta"},
    "tool-input-available": {"type", "toolCallId", "toolName", "input"},
    "tool-output-available": {"type", "toolCallId", "output"},
    "tool-output-error": {"type", "toolCallId", "errorText"},
    "finish": {"type", "finishReason", "messageMetadata"},
    "error": {"type", "errorText"},
}
AG_UI_EVENT: TypeAdapter[Any] = TypeAdapter(AgUiEvent)


def ui_request(text: str, **extra: Any) -> dict[str, Any]:
    """The body ``DefaultChatTransport`` posts for a new user message."""
    return {
        "id": "chat-" + uuid.uuid4().hex[:8],
        "messages": [
            {"id": "m1", "role": "user", "parts": [{"type": "text", "text": text}]},
        ],
        "trigger": "submit-message",
        **extra,
    }


def run_input(text: str, **extra: Any) -> dict[str, Any]:
    """The ``RunAgentInput`` ``HttpAgent`` posts."""
    return {
        "threadId": "thread-" + uuid.uuid4().hex[:8],
        "runId": "run-" + uuid.uuid4().hex[:8],
        "state": {},
        "messages": [{"id": "u1", "role": "user", "content": text}],
        "tools": [],
        "context": [],
        "forwardedProps": {},
        **extra,
    }


def ai_sdk_chunks(received: Response) -> list[dict[str, Any]]:
    """The chunks of a well-formed UI message stream (asserted), ``[DONE]`` last."""
    assert received.status == 200, received.body
    assert received.headers["content-type"].split(";")[0] == "text/event-stream"
    assert received.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert received.headers["cache-control"] == "no-cache"
    assert received.data[-1] == "[DONE]" and received.data.count("[DONE]") == 1, received.data
    assert set(received.ids) == {None}, "no id: lines on the AI SDK stream"
    assert b"\r" not in received.body
    chunks = received.events
    for chunk in chunks:
        allowed = AI_SDK_KEYS.get(chunk["type"])
        assert allowed is not None, chunk
        assert set(chunk) <= allowed, chunk
    for raw in received.data[:-1]:  # compact JSON, as the AI SDK's own server writes it
        compact = json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"))
        assert raw == compact.encode("utf-8", "backslashreplace").decode()
    assert chunks[0]["type"] == "start" and chunks[0]["messageId"]
    assert chunks[-1]["type"] in ("finish", "error")
    return chunks


def ai_sdk_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["delta"] for c in chunks if c["type"] == "text-delta")


def ag_ui_events(received: Response) -> list[dict[str, Any]]:
    """The events, each valid by the official models and encoded exactly as its encoder does."""
    assert received.status == 200, received.body
    assert received.headers["content-type"].split(";")[0] == "text/event-stream"
    assert b"\r" not in received.body
    encoder = EventEncoder()
    frames = received.body.decode().replace(": ping\n\n", "").split("\n\n")
    assert frames[-1] == ""
    for frame, event in zip(frames[:-1], received.events, strict=True):
        model = AG_UI_EVENT.validate_python(event)
        assert encoder.encode(model) == frame + "\n\n"
    return received.events


async def test_ai_sdk_stream(make_client: MakeClient) -> None:
    client = await make_client(protocol="ai-sdk")
    received = await client.post(json=ui_request(unique("[count:5]")))
    chunks = ai_sdk_chunks(received)
    assert [c["type"] for c in chunks] == [
        "start",
        "start-step",
        "text-start",
        *["text-delta"] * 5,
        "text-end",
        "finish-step",
        "finish",
    ]
    assert ai_sdk_text(chunks) == "".join(f"t{i} " for i in range(5))
    parts = {c["id"] for c in chunks if c["type"].startswith("text-")}
    assert len(parts) == 1
    finish = chunks[-1]
    assert finish["finishReason"] == "stop"
    usage = finish["messageMetadata"]["usage"]  # from the fake's usage chunk
    assert usage["outputTokens"] == 5 and usage["inputTokens"] > 0
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


async def test_ai_sdk_error_mid_stream(make_client: MakeClient) -> None:
    client = await make_client(protocol="ai-sdk")
    chunks = ai_sdk_chunks(await client.post(json=ui_request(unique("[fault:error_mid]"))))
    types = [c["type"] for c in chunks]
    assert types[:3] == ["start", "start-step", "text-start"]
    assert types[-2:] == ["text-end", "error"], types
    assert "finish" not in types
    assert chunks[-1]["errorText"] and "sk-" not in chunks[-1]["errorText"]


async def test_ai_sdk_request_shapes(make_client: MakeClient, client_class: type[Client]) -> None:
    """Text parts make the content (a blank line between them); messages without text and
    non-text parts are not sent; the chat id and the body's fields are the extra fields."""
    finished = Finished()
    seen: list[Any] = []

    def handler(chat: Any) -> list[str]:
        seen.append((chat.messages, chat.extra, chat.protocol))
        return ["ok"]

    client = await make_client(
        protocol="ai-sdk", handler=handler, on_finish=finished, client_system=True
    )
    body = {
        "id": "chat-42",
        "trigger": "submit-message",
        "tag": "shapes",
        "messages": [
            {"id": "s", "role": "system", "parts": [{"type": "text", "text": "be brief"}]},
            {
                "id": "a",
                "role": "assistant",
                "parts": [
                    {"type": "step-start"},
                    {"type": "reasoning", "text": "hidden"},
                    {"type": "text", "text": "first"},
                    {"type": "text", "text": "second"},
                ],
            },
            {"id": "t", "role": "assistant", "parts": [{"type": "tool-x", "toolCallId": "1"}]},
            {
                "id": "u",
                "role": "user",
                "parts": [
                    {"type": "file", "mediaType": "image/png", "url": "data:,"},
                    {"type": "text", "text": "hi"},
                ],
            },
        ],
    }
    chunks = ai_sdk_chunks(await client.post(json=body))
    assert ai_sdk_text(chunks) == "ok"
    messages, extra, protocol = seen[0]
    assert messages == [
        {"role": "system", "content": "be brief"},
        {"role": "assistant", "content": "first\n\nsecond"},
        {"role": "user", "content": "hi"},
    ]
    assert extra == {"id": "chat-42", "trigger": "submit-message", "tag": "shapes"}
    assert protocol == "ai-sdk"
    result = await finished.one("shapes")
    assert result.outcome == "done" and result.text == "ok"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"id": "c", "trigger": "submit-message", "messages": []}, 422),
        ({"id": "c", "messages": [{"id": "m", "role": "user", "content": "no parts"}]}, 422),
        ({"id": "c", "messages": [{"id": "m", "role": "tool", "parts": []}]}, 422),
        ({"id": "c", "messages": [{"id": "m", "role": "user", "parts": [{"type": "file"}]}]}, 422),
        ({"id": "c", "messages": [{"id": "m", "role": "user", "parts": [{"type": "text"}]}]}, 422),
    ],
)
async def test_ai_sdk_bad_requests_get_json_errors(
    make_client: MakeClient, body: dict[str, Any], status: int
) -> None:
    client = await make_client(protocol="ai-sdk")
    received = await client.post(json=body)
    assert received.status == status, received.body
    assert received.headers["content-type"].startswith("application/json")
    assert received.json()["error"]["message"]


async def test_ai_sdk_refused_upstream_keeps_its_status(make_client: MakeClient) -> None:
    client = await make_client(protocol="ai-sdk")
    received = await client.post(json=ui_request(unique("[fault:429]")))
    assert received.status == 429, received.body
    assert received.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert received.json()["error"]["type"] == "upstream_error"


async def test_ag_ui_stream(make_client: MakeClient) -> None:
    client = await make_client(protocol="ag-ui")
    body = run_input(unique("[count:4]"))
    events = ag_ui_events(await client.post(json=body))
    assert [e["type"] for e in events] == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        *["TEXT_MESSAGE_CONTENT"] * 4,
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    for event in (events[0], events[-1]):
        assert (event["threadId"], event["runId"]) == (body["threadId"], body["runId"])
    message_ids = {e["messageId"] for e in events if "messageId" in e}
    assert len(message_ids) == 1 and "u1" not in message_ids
    assert events[1]["role"] == "assistant"
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "".join(f"t{i} " for i in range(4))


async def test_ag_ui_error_mid_stream(make_client: MakeClient) -> None:
    client = await make_client(protocol="ag-ui")
    events = ag_ui_events(await client.post(json=run_input(unique("[fault:error_mid]"))))
    types = [e["type"] for e in events]
    assert types[0] == "RUN_STARTED" and types[-1] == "RUN_ERROR"
    assert "RUN_FINISHED" not in types
    assert events[-1]["message"] and "sk-" not in events[-1]["message"]


async def test_ag_ui_request_shapes(make_client: MakeClient) -> None:
    seen: list[Any] = []

    def handler(chat: Any) -> list[str]:
        seen.append((chat.messages, chat.extra))
        return ["ok"]

    client = await make_client(protocol="ag-ui", handler=handler, client_system=True)
    body = run_input("x", forwardedProps={"model": "small"})
    body["messages"] = [
        {"id": "d", "role": "developer", "content": "be brief"},
        {"id": "a", "role": "assistant", "toolCalls": [{"id": "c", "type": "function"}]},
        {"id": "r", "role": "reasoning", "content": "hidden"},
        {
            "id": "u",
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "binary", "mimeType": "image/png", "data": "AA=="},
            ],
        },
    ]
    events = ag_ui_events(await client.post(json=body))
    assert events[-1]["type"] == "RUN_FINISHED"
    messages, extra = seen[0]
    assert messages == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "look"},
    ]
    assert extra["forwardedProps"] == {"model": "small"}
    assert extra["threadId"] == body["threadId"]


@pytest.mark.parametrize(
    "change",
    [
        {"runId": None},
        {"threadId": 3},
        {"messages": []},
        {"messages": [{"id": "m", "role": "robot", "content": "x"}]},
        {"messages": [{"id": "m", "role": "user", "content": {"text": "x"}}]},
    ],
)
async def test_ag_ui_bad_requests_get_json_errors(
    make_client: MakeClient, change: dict[str, Any]
) -> None:
    client = await make_client(protocol="ag-ui")
    received = await client.post(json={**run_input("x"), **change})
    assert received.status == 422, received.body
    assert received.json()["error"]["message"]


async def test_auto_answers_each_protocol_in_its_own(make_client: MakeClient) -> None:
    """One endpoint, ``protocol="auto"``: each body is answered in its own protocol, on
    the one-liner and on the hand-written view."""
    finished = Finished()
    client = await make_client(protocol="auto", on_finish=finished)
    for path in (None, HELPER_PATH):
        post = client.post if path is None else lambda json, p=path: client.post(p, json=json)
        rais = await post(json=ask(unique("[count:2]"), tag=f"rais-{path}"))
        assert rais.types == ["text", "text", "done"]
        assert rais.ids == ["1", "2", "3"]
        ai = ai_sdk_chunks(await post(json=ui_request(unique("[count:2]"), tag=f"ai-{path}")))
        assert ai_sdk_text(ai) == "t0 t1 "
        ag = ag_ui_events(await post(json=run_input(unique("[count:2]"), tag=f"ag-{path}")))
        assert ag[-1]["type"] == "RUN_FINISHED"
        for name, protocol in (("rais", "rais"), ("ai", "ai-sdk"), ("ag", "ag-ui")):
            result = await finished.one(f"{name}-{path}")
            assert result.chat.protocol == protocol
            assert (result.outcome, result.text) == ("done", "t0 t1 ")


async def test_rais_default_is_unchanged_by_other_bodies(make_client: MakeClient) -> None:
    """Without ``protocol=``, an AI SDK body is a RAIS request it does not satisfy: 422."""
    client = await make_client()
    received = await client.post(json=ui_request("hi"))
    assert received.status == 422, received.body


async def test_lone_surrogate_is_escaped_on_every_protocol(make_client: MakeClient) -> None:
    def handler(_messages: Any) -> list[str]:
        return ["a\ud800b"]

    client = await make_client(protocol="auto", handler=handler)
    ai = ai_sdk_chunks(await client.post(json=ui_request("x")))
    assert ai_sdk_text(ai) == "a\ud800b" and ai[-1]["type"] == "finish"
    ag = (await client.post(json=run_input("x"))).events
    assert [e["delta"] for e in ag if e["type"] == "TEXT_MESSAGE_CONTENT"] == ["a\ud800b"]
    assert ag[-1]["type"] == "RUN_FINISHED"


def test_unknown_protocol_fails_at_start_up() -> None:
    from rais import ChatEndpoint

    with pytest.raises(ValueError, match="protocol must be one of"):
        ChatEndpoint(protocol="graphql")  # type: ignore[arg-type]


# ---------------------------------------------------------------- the AI SDK's resume


def user_of(chat: Any) -> str | None:
    user = chat.headers.get("x-user")
    return None if user is None else str(user)


async def test_ai_sdk_resume_replays_the_reply_in_progress_for_its_owner(
    make_client: MakeClient, upstream: Any, client_class: type[Client]
) -> None:
    """``GET {api}/{chatId}/stream`` while a reply is generated: the reply from its ``start``
    (the same message id) then live to its end; afterwards, and for anyone else, 204."""
    if client_class.name == "litestar":
        pytest.skip(
            "Litestar's AsyncTestClient answers one request at a time, so no resume can run "
            "beside its reply; tests/conformance/test_resume.py resumes on Litestar over "
            "real sockets"
        )
    client = await make_client(protocol="ai-sdk", resume=True, owner=user_of)
    ada = {"X-User": "ada"}
    body = ui_request(unique("[count:40][delay:0.02]"))
    resume_path = f"/api/chat/{body['id']}/stream"
    posting = asyncio.ensure_future(client.post(json=body, headers=ada))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    resumed = await client.get(resume_path, headers=ada)
    while resumed.status == 204 and not posting.done():  # not started yet: ask again
        assert loop.time() < deadline, "the reply never became resumable"
        await asyncio.sleep(0.02)
        resumed = await client.get(resume_path, headers=ada)
    first = await posting
    chunks = ai_sdk_chunks(first)
    assert ai_sdk_text(chunks) == "".join(f"t{i} " for i in range(40))
    assert resumed.status == 200, "the reply ended before it could be resumed"
    again = ai_sdk_chunks(resumed)
    assert again[0] == chunks[0]  # the same start: the client rebuilds the same message
    assert ai_sdk_text(again) == ai_sdk_text(chunks)
    assert again[-1]["type"] == "finish"
    paid = len(upstream.requests)
    for headers in (ada, {"X-User": "eve"}, {}):  # ended; another owner; nobody
        gone = await client.get(resume_path, headers=headers)
        assert gone.status == 204, (headers, gone.body)
    unknown = await client.get("/api/chat/no-such-chat/stream", headers=ada)
    assert unknown.status == 204
    assert len(upstream.requests) == paid  # a resume is never a second paid answer
    refused = await client.post(resume_path, json=body, headers=ada)
    assert refused.status == 405 and refused.headers["allow"] == "GET, OPTIONS"


async def test_ai_sdk_resume_without_a_store_is_204(make_client: MakeClient) -> None:
    client = await make_client(protocol="ai-sdk")
    assert (await client.get("/api/chat/some-chat/stream")).status == 204
