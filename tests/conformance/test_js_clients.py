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


#: The integrations' /api/ui tools (examples/weather_tools.py): the weather answers for Paris;
#: the calculator fails on 1/0, on purpose. The fake model thinks first when asked to.
TOOL_PROMPT = (
    '[think:Two tools.][tool:get_weather:{"city":"Paris"}][tool:calculate:{"expression":"1/0"}] go'
)


def test_use_chat_transport_reads_reasoning_and_tools(server: RunningServer) -> None:
    seen = run_ai_sdk_client(ui_url(server), ai_sdk_body(TOOL_PROMPT))
    assert seen["status"] == 200 and seen["invalid"] == [], seen
    assert seen["error"] is None and seen["done"], seen
    parts = seen["message"]["parts"]
    kinds = [p["type"] for p in parts if p["type"] != "step-start"]
    # the fake model thinks again before its answer (it reads the same directives)
    assert kinds == ["reasoning", "tool-get_weather", "tool-calculate", "reasoning", "text"], kinds
    assert [p["type"] for p in parts].count("step-start") == 2  # one per model call
    by_kind = {p["type"]: p for p in parts}
    assert by_kind["reasoning"]["text"] == "Two tools."
    weather = by_kind["tool-get_weather"]
    assert weather["state"] == "output-available" and weather["input"] == {"city": "Paris"}
    assert weather["output"]["sky"] == "cloudy"
    calculator = by_kind["tool-calculate"]
    assert calculator["state"] == "output-error"
    assert calculator["errorText"] == "ZeroDivisionError: division by zero"
    assert by_kind["text"]["text"].startswith("Results:")


def test_ag_ui_http_agent_reads_tools(server: RunningServer) -> None:
    seen = run_ag_ui_client(ui_url(server), ag_ui_body(TOOL_PROMPT))
    assert seen["error"] is None and seen["warnings"] == [], seen
    messages = seen["messages"]
    calls = [call for m in messages for call in m.get("toolCalls") or []]
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        ("get_weather", '{"city":"Paris"}'),
        ("calculate", '{"expression":"1/0"}'),
    ]
    results = {m["toolCallId"]: m["content"] for m in messages if m["role"] == "tool"}
    assert '"cloudy"' in results[calls[0]["id"]]
    assert "division by zero" in results[calls[1]["id"]]
    reasoning = [m for m in messages if m["role"] == "reasoning"]
    assert [m["content"] for m in reasoning] == ["Two tools.", "Two tools."]  # one per step
    answers = [m["content"] for m in messages if m["role"] == "assistant" and m.get("content")]
    assert answers and answers[-1].startswith("Results:")
