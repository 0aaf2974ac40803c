"""The protocols' official clients read every integration's ``/api/ui`` over real sockets.

The AI SDK's own ``DefaultChatTransport`` and ``readUIMessageStream`` (``ai`` 7, every
chunk also validated by ``ai`` 7's and a strict 6.x release's ``uiMessageChunkSchema``),
and AG-UI's ``HttpAgent`` (which verifies the event order). A stream our parser accepts
and theirs rejects fails here. The harness is tests/js (tests/js_clients.py runs it).
"""

from __future__ import annotations

import pytest

from tests.conformance.test_chat_uis import ag_ui_body, ai_sdk_body, ui_url
from tests.js_clients import ensure_js_deps, run_ag_ui_client, run_ai_sdk_client
from tests.servers import RunningServer


@pytest.fixture(scope="module", autouse=True)
def js_deps() -> None:
    ensure_js_deps()


def message_text(message: dict[str, object] | None) -> str:
    assert message is not None
    parts = message["parts"]
    assert isinstance(parts, list)
    return "".join(p["text"] for p in parts if p["type"] == "text")


def test_use_chat_transport_reads_an_answer(server: RunningServer) -> None:
    seen = run_ai_sdk_client(ui_url(server), ai_sdk_body("[count:6]"))
    assert seen["status"] == 200, seen
    assert seen["invalid"] == [], seen["invalid"]
    assert seen["error"] is None and seen["done"], seen
    assert message_text(seen["message"]) == "".join(f"t{i} " for i in range(6))
    assert seen["message"]["role"] == "assistant"
    usage = seen["message"]["metadata"]["usage"]
    assert usage["outputTokens"] == 6


def test_use_chat_transport_sees_errors(server: RunningServer) -> None:
    mid = run_ai_sdk_client(ui_url(server), ai_sdk_body("[fault:error_mid]"))
    assert mid["status"] == 200 and mid["invalid"] == [], mid
    assert mid["error"] and "sk-" not in mid["error"], mid
    assert message_text(mid["message"])  # the tokens before the failure stay
    refused = run_ai_sdk_client(ui_url(server), ai_sdk_body("[fault:429]"))
    assert refused["status"] == 429, refused
    assert refused["error"] and "upstream_error" in refused["error"], refused


def test_ag_ui_http_agent_reads_an_answer(server: RunningServer) -> None:
    run_input = ag_ui_body("[count:5]")
    seen = run_ag_ui_client(ui_url(server), run_input)
    assert seen["error"] is None and seen["warnings"] == [], seen
    types = [e["type"] for e in seen["events"]]
    assert types[0] == "RUN_STARTED" and types[-1] == "RUN_FINISHED", types
    assert seen["events"][-1]["runId"] == run_input["runId"]
    answer = [m for m in seen["messages"] if m["role"] == "assistant"]
    assert [m["content"] for m in answer] == ["".join(f"t{i} " for i in range(5))]


def test_ag_ui_http_agent_sees_errors(server: RunningServer) -> None:
    seen = run_ag_ui_client(ui_url(server), ag_ui_body("[fault:error_mid]"))
    assert seen["warnings"] == [], seen
    types = [e["type"] for e in seen["events"]]
    assert types[-1] == "RUN_ERROR", types
    assert seen["run_error"] and "sk-" not in str(seen["run_error"]), seen
