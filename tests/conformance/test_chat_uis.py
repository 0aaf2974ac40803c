"""The AI SDK's UI message stream and AG-UI over real servers and sockets, on every integration.

Each integration serves ``protocol="auto"`` at ``/api/ui``. What needs real sockets is
checked here: tokens flushed one by one, heartbeats while the model is silent, and a
client that leaves cancelling the upstream call. Framing and validation per framework
are the in-process tier's (tests/inprocess/test_codecs.py); the protocols' official
clients read these servers in tests/test_js_clients.py.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from rais._sse_decode import SSEBlockDecoder
from tests.conformance.sse import Received, chat, read_stream
from tests.fakes.upstreams import FakeUpstream
from tests.servers import RunningServer

DEADLINE = 20.0


def ui_url(server: RunningServer) -> str:
    return server.base_url + "/api/ui"


def ai_sdk_body(text: str) -> dict[str, Any]:
    return {
        "id": "chat-" + uuid.uuid4().hex[:8],
        "trigger": "submit-message",
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": text}]}],
    }


def ag_ui_body(text: str) -> dict[str, Any]:
    return {
        "threadId": "thread-1",
        "runId": "run-" + uuid.uuid4().hex[:8],
        "state": {},
        "messages": [{"id": "u1", "role": "user", "content": text}],
        "tools": [],
        "context": [],
        "forwardedProps": {},
    }


BODIES = {"ai-sdk": ai_sdk_body, "ag-ui": ag_ui_body}
#: The event type carrying a token, and its text field, per protocol.
TOKEN = {"ai-sdk": ("text-delta", "delta"), "ag-ui": ("TEXT_MESSAGE_CONTENT", "delta")}
LAST = {"ai-sdk": "finish", "ag-ui": "RUN_FINISHED"}


def tokens(received: Received, protocol: str) -> list[str]:
    kind, field = TOKEN[protocol]
    return [e[field] for e in received.events if e["type"] == kind]


@pytest.mark.parametrize("protocol", ["ai-sdk", "ag-ui"])
def test_tokens_are_flushed_one_by_one(
    server: RunningServer, client: httpx.Client, protocol: str
) -> None:
    # A 500 s answer: a buffering server sends no token before the deadline.
    body = BODIES[protocol]("[count:1000][delay:0.5]")
    deadline = time.monotonic() + DEADLINE
    with client.stream("POST", ui_url(server), json=body) as response:
        assert response.status_code == 200
        received = Received(response.status_code, response.headers)
        decoder = SSEBlockDecoder()
        for chunk in response.iter_raw():  # heartbeats (every 0.25 s) keep this loop turning
            for block in decoder.feed(chunk):
                received.add(block)
            if len(tokens(received, protocol)) >= 2 or time.monotonic() > deadline:
                break
    assert tokens(received, protocol) == ["t0 ", "t1 "]
    assert "content-length" not in received.headers


@pytest.mark.parametrize("protocol", ["ai-sdk", "ag-ui"])
def test_whole_answer_with_heartbeats(
    server: RunningServer, client: httpx.Client, protocol: str
) -> None:
    received = chat(client, ui_url(server), body=BODIES[protocol]("[count:3][delay:0.6]"))
    assert received.status == 200, received.raw
    assert b"\r" not in received.raw
    assert tokens(received, protocol) == ["t0 ", "t1 ", "t2 "]
    assert received.events[-1]["type"] == LAST[protocol]
    assert received.done_marker == (protocol == "ai-sdk")
    assert received.comments >= 2  # RAIS_HEARTBEAT=0.25 in the servers' environment
    if protocol == "ai-sdk":
        assert received.headers["x-vercel-ai-ui-message-stream"] == "v1"


@pytest.mark.parametrize("protocol", ["ai-sdk", "ag-ui"])
def test_disconnect_cancels_upstream(
    server: RunningServer,
    client: httpx.Client,
    upstream: FakeUpstream,
    protocol: str,
    request: pytest.FixtureRequest,
) -> None:
    if server.spec.id == "django-uvicorn":
        import django

        if django.VERSION[:2] < (5, 0):
            request.applymarker(
                pytest.mark.xfail(strict=True, reason="Django < 5.0 under ASGI: no disconnect")
            )
    before = upstream.cancelled
    body = BODIES[protocol]("[count:1000][delay:0.05]")
    with client.stream("POST", ui_url(server), json=body) as response:
        assert response.status_code == 200
        received = Received(response.status_code, response.headers)
        read_stream(response, received, max_events=4)
        assert tokens(received, protocol)
    assert upstream.wait_cancelled(before + 1, timeout=DEADLINE), server.log()[-2000:]


def test_rais_bodies_still_get_rais(server: RunningServer, client: httpx.Client) -> None:
    received = chat(client, ui_url(server), "[count:2]")
    assert received.types == ["text", "text", "done"]
    assert received.ids == ["1", "2", "3"]


@pytest.mark.parametrize("protocol", ["ai-sdk", "ag-ui"])
def test_bad_body_is_a_json_4xx(server: RunningServer, client: httpx.Client, protocol: str) -> None:
    body = BODIES[protocol]("x")
    body["messages"] = [{"id": "m", "role": "robot", "parts": [], "content": "x"}]
    response = client.post(ui_url(server), json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["message"]
