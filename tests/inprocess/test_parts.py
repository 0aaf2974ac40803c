"""Reasoning, tool calls and results, steps and usage from a handler, on every framework:
each protocol carries what it can (the AI SDK and AG-UI all of it, RAIS v1 only the text),
and ``on_finish`` sees all of it on every protocol."""

from __future__ import annotations

import json
from typing import Any

import pytest

import rais
from tests.inprocess.conftest import MakeClient
from tests.inprocess.helpers import Finished, ask, unique
from tests.inprocess.test_codecs import ag_ui_events, ai_sdk_chunks, run_input, ui_request

pytestmark = pytest.mark.timeout(60)


def two_steps(chat: Any) -> Any:
    """What a tool loop streams: thinking, a streamed tool call and its result (one step),
    a failing call, then the answer (a second step)."""
    yield rais.Reasoning("Let me check ")
    yield rais.Reasoning("the weather.")
    yield rais.ToolInputDelta("call-1", "weather", '{"city":')
    yield rais.ToolInputDelta("call-1", "weather", '"Paris"}')
    yield rais.ToolCall("call-1", "weather", {"city": "Paris"})
    yield rais.ToolCall("call-2", "divide", {"a": 1, "b": 0})
    yield rais.Usage(10, 5)
    yield rais.ToolResult("call-1", "weather", output={"celsius": 21})
    yield rais.ToolResult("call-2", "divide", error="division by zero")
    yield rais.StepFinish("tool-calls")
    yield "It is "
    yield "21 °C."
    yield rais.StepFinish("stop", usage=rais.Usage(30, 7))


async def test_ai_sdk_carries_every_part(make_client: MakeClient) -> None:
    finished = Finished()
    client = await make_client(protocol="ai-sdk", handler=two_steps, on_finish=finished)
    tag = unique("parts")
    chunks = ai_sdk_chunks(await client.post(json=ui_request("weather?", tag=tag)))
    types = [c["type"] for c in chunks]
    assert types == [
        "start",
        "start-step",
        "reasoning-start",
        "reasoning-delta",
        "reasoning-delta",
        "reasoning-end",
        "tool-input-start",
        "tool-input-delta",
        "tool-input-delta",
        "tool-input-available",
        "tool-input-start",
        "tool-input-available",
        "tool-output-available",
        "tool-output-error",
        "finish-step",
        "start-step",
        "text-start",
        "text-delta",
        "text-delta",
        "text-end",
        "finish-step",
        "finish",
    ]
    by_type = {c["type"]: c for c in chunks}
    reasoning = [c for c in chunks if c["type"] == "reasoning-delta"]
    assert "".join(c["delta"] for c in reasoning) == "Let me check the weather."
    assert by_type["tool-input-available"]["toolName"] == "divide"  # the last one
    first_input = next(c for c in chunks if c["type"] == "tool-input-available")
    assert first_input == {
        "type": "tool-input-available",
        "toolCallId": "call-1",
        "toolName": "weather",
        "input": {"city": "Paris"},
    }
    deltas = [c["inputTextDelta"] for c in chunks if c["type"] == "tool-input-delta"]
    assert json.loads("".join(deltas)) == {"city": "Paris"}
    assert by_type["tool-output-available"] == {
        "type": "tool-output-available",
        "toolCallId": "call-1",
        "output": {"celsius": 21},
    }
    assert by_type["tool-output-error"]["errorText"] == "division by zero"
    ids = {c["id"] for c in chunks if "id" in c}
    assert len(ids) == 2  # one reasoning part, one text part, each with its own id
    finish = chunks[-1]
    assert finish["finishReason"] == "stop"
    assert finish["messageMetadata"]["usage"] == {
        "inputTokens": 40,
        "outputTokens": 12,
        "totalTokens": 52,
    }
    result = await finished.one(tag)
    check_result(result)


def check_result(result: rais.StreamResult) -> None:
    assert result.outcome == "done"
    assert result.text == "It is 21 °C."
    assert result.reasoning == "Let me check the weather."
    assert [(t.id, t.name, t.input, t.output, t.error) for t in result.tool_calls] == [
        ("call-1", "weather", {"city": "Paris"}, {"celsius": 21}, None),
        ("call-2", "divide", {"a": 1, "b": 0}, None, "division by zero"),
    ]
    assert result.finish_reason == "stop"
    assert [step.finish_reason for step in result.steps] == ["tool-calls", "stop"]
    first, second = result.steps
    assert first.text == "" and first.reasoning == "Let me check the weather."
    assert [call.id for call in first.tool_calls] == ["call-1", "call-2"]
    assert [r.error for r in first.tool_results] == [None, "division by zero"]
    assert first.usage == rais.Usage(10, 5)
    assert second.text == "It is 21 °C." and second.usage == rais.Usage(30, 7)
    assert result.usage == rais.Usage(40, 12)


async def test_ag_ui_carries_every_part(make_client: MakeClient) -> None:
    finished = Finished()
    client = await make_client(protocol="ag-ui", handler=two_steps, on_finish=finished)
    tag = unique("parts")
    events = ag_ui_events(await client.post(json=run_input("weather?", tag=tag)))
    types = [e["type"] for e in events]
    assert types == [
        "RUN_STARTED",
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "REASONING_END",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
        "TOOL_CALL_RESULT",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    starts = [e for e in events if e["type"] == "TOOL_CALL_START"]
    assert [(e["toolCallId"], e["toolCallName"]) for e in starts] == [
        ("call-1", "weather"),
        ("call-2", "divide"),
    ]
    args: dict[str, str] = {}
    for event in events:
        if event["type"] == "TOOL_CALL_ARGS":
            args[event["toolCallId"]] = args.get(event["toolCallId"], "") + event["delta"]
    assert {k: json.loads(v) for k, v in args.items()} == {
        "call-1": {"city": "Paris"},
        "call-2": {"a": 1, "b": 0},
    }
    results = [e for e in events if e["type"] == "TOOL_CALL_RESULT"]
    assert [json.loads(e["content"]) for e in results] == [
        {"celsius": 21},
        {"error": "division by zero"},
    ]
    assert len({e["messageId"] for e in results}) == 2
    thinking = [e["delta"] for e in events if e["type"] == "REASONING_MESSAGE_CONTENT"]
    assert "".join(thinking) == "Let me check the weather."
    text = [e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT"]
    assert "".join(text) == "It is 21 °C."
    check_result(await finished.one(tag))


async def test_rais_carries_only_the_text(make_client: MakeClient) -> None:
    """RAIS v1 is text only: no reserved type is sent and reasoning never becomes text,
    yet on_finish sees every part."""
    finished = Finished()
    client = await make_client(protocol="rais", handler=two_steps, on_finish=finished)
    tag = unique("parts")
    received = await client.post(json=ask("weather?", tag=tag))
    assert received.status == 200, received.body
    assert [e["type"] for e in received.events] == ["text", "text", "done"]
    assert b"Let me check" not in received.body and b"celsius" not in received.body
    check_result(await finished.one(tag))


async def test_no_step_is_one_step(make_client: MakeClient) -> None:
    """A source that yields no StepFinish is one step that stopped, or one that failed."""
    finished = Finished()

    def handler(chat: Any) -> Any:
        yield rais.Reasoning("hmm")
        yield "answer"
        if chat.extra.get("fail"):
            raise RuntimeError("boom")

    client = await make_client(protocol="ai-sdk", handler=handler, on_finish=finished)
    tag = unique("one-step")
    chunks = ai_sdk_chunks(await client.post(json=ui_request("q", tag=tag)))
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}
    result = await finished.one(tag)
    assert result.finish_reason == "stop" and len(result.steps) == 1
    assert (result.steps[0].text, result.steps[0].reasoning) == ("answer", "hmm")

    tag = unique("one-step-fails")
    chunks = ai_sdk_chunks(await client.post(json=ui_request("q", tag=tag, fail=True)))
    assert [c["type"] for c in chunks][-2:] == ["text-end", "error"]
    result = await finished.one(tag)
    assert result.outcome == "error" and result.finish_reason == "error"


async def test_a_bad_part_is_an_error_event(make_client: MakeClient) -> None:
    """A finish reason outside the vocabulary fails the stream like any source error."""

    def handler(chat: Any) -> Any:
        yield "partial"
        yield rais.StepFinish("exploded")  # type: ignore[arg-type]

    client = await make_client(protocol="ai-sdk", handler=handler)
    chunks = ai_sdk_chunks(await client.post(json=ui_request("q")))
    assert chunks[-1]["type"] == "error" and "exploded" not in chunks[-1]["errorText"]


async def test_a_result_without_its_call_is_not_sent(make_client: MakeClient) -> None:
    """The UI has no call to attach an unknown result to: it is left out, not an error."""

    def handler(chat: Any) -> Any:
        yield rais.ToolResult("nobody", "x", output=1)
        yield "ok"

    client = await make_client(protocol="ai-sdk", handler=handler)
    chunks = ai_sdk_chunks(await client.post(json=ui_request("q")))
    assert [c["type"] for c in chunks] == [
        "start",
        "start-step",
        "text-start",
        "text-delta",
        "text-end",
        "finish-step",
        "finish",
    ]
