"""The OpenAI Responses API as a provider option: ``provider="openai"`` with
``options={"api": "responses"}`` (on the endpoint, or per request from ``configure``)
streams ``client.responses.create`` (issue 18).

Driven through the real openai SDK against the fake upstream's ``/v1/responses`` route
(tests/fakes/upstreams.py), which speaks the Responses API's typed SSE events: reasoning
summary deltas for ``[think:...]``, ``function_call`` items for ``[tool:NAME:JSON]``,
``response.incomplete`` for ``[finish:length]``, the ``Results: ...`` answer after
``function_call_output`` items, and the faults.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from rais import Reasoning, StepFinish, StreamResult, ToolCall, ToolInputDelta, ToolResult, Usage
from rais._endpoint import ChatEndpoint
from rais._errors import RaisError, UpstreamError
from rais._providers import ProviderConfig, provider_stream
from rais._tools import as_tools, tool_loop
from tests.fakes.upstreams import FakeUpstream
from tests.provider_helpers import (
    KEYS,
    THINK_THEN_HI,
    TWO_CALLS,
    WEATHER,
    assert_reasoning_first,
    no_ambient_keys,
    of,
    text_of,
    upstream,
    upstreams,
    user,
)
from tests.provider_helpers import history as tool_history
from tests.provider_helpers import sent as sent_body

__all__ = ["no_ambient_keys", "upstream", "upstreams"]  # the fixtures, used below

pytestmark = pytest.mark.timeout(60)

KEY = KEYS["openai"]
RESPONSES = {"api": "responses"}
DIVIDE = {"name": "divide", "description": "", "parameters": {"type": "object"}}
TOOLS = (WEATHER, DIVIDE)
JSON = {"content-type": "application/json"}


@pytest.fixture
def provider() -> str:
    """The Responses API is OpenAI's: ``upstream`` is the fake OpenAI upstream."""
    return "openai"


def config(upstream: FakeUpstream, **kw: Any) -> ProviderConfig:
    kw.setdefault("options", dict(RESPONSES))
    return ProviderConfig(
        provider="openai", base_url=upstream.base_url, api_key=KEY, max_retries=0, **kw
    )


async def items(upstream: FakeUpstream, messages: list[dict[str, Any]], **kw: Any) -> list[Any]:
    return [item async for item in provider_stream(messages, config(upstream, **kw))]


def sent(upstream: FakeUpstream) -> dict[str, Any]:
    """The JSON body of the one request, which went to the Responses API's route."""
    assert [request.path for request in upstream.requests] == ["/v1/responses"]
    return sent_body(upstream)


# --------------------------------------------------------------------------- the request


async def test_text_streams_from_responses_create(upstream: FakeUpstream) -> None:
    got = await items(
        upstream, user("[tokens:Hel|lo|!]"), system="Be brief.", max_tokens=77, model="gpt-5"
    )
    assert got[:3] == ["Hel", "lo", "!"] and got[-1] == StepFinish("stop")
    body = sent(upstream)
    assert body["model"] == "gpt-5" and body["stream"] is True
    assert body["instructions"] == "Be brief." and body["max_output_tokens"] == 77
    assert body["input"] == [{"role": "user", "content": "[tokens:Hel|lo|!]"}]
    assert "api" not in body and "api" not in body.get("extra_body", {})
    assert "tools" not in body and "messages" not in body


async def test_sdk_options_pass_through_and_unknown_ones_go_in_the_body(
    upstream: FakeUpstream,
) -> None:
    options = {**RESPONSES, "temperature": 0.3, "reasoning": {"summary": "auto"}, "x_vendor": 1}
    await items(upstream, user("hi"), options=options)
    body = sent(upstream)
    assert body["temperature"] == 0.3 and body["reasoning"] == {"summary": "auto"}
    assert body["x_vendor"] == 1 and "api" not in body


async def test_chat_is_the_default_and_api_chat_is_not_sent(upstream: FakeUpstream) -> None:
    for options in ({}, {"api": "chat"}):
        upstream.reset()
        got = await items(upstream, user("[tokens:a]"), options=options)
        assert got[0] == "a"
        (request,) = upstream.requests
        assert request.path == "/v1/chat/completions" and "api" not in request.json


async def test_an_unknown_api_is_a_clear_error(upstream: FakeUpstream) -> None:
    with pytest.raises(RaisError, match="Unknown OpenAI api 'assistants'"):
        await items(upstream, user("hi"), options={"api": "assistants"})
    assert upstream.requests == []


# --------------------------------------------------------------------------- reasoning, usage


async def test_reasoning_summary_is_reasoning_never_text(upstream: FakeUpstream) -> None:
    assert_reasoning_first(await items(upstream, user(THINK_THEN_HI)))


async def test_summary_parts_are_paragraphs_of_one_reasoning(upstream: FakeUpstream) -> None:
    got = await items(upstream, user("[think:First this.\\n\\nThen that.][tokens:ok]"))
    assert "".join(r.text for r in of(Reasoning, got)) == "First this.\n\nThen that."
    assert text_of(got) == "ok"


async def test_usage_from_response_completed_comes_before_the_finish(
    upstream: FakeUpstream,
) -> None:
    got = await items(upstream, user("[think:Hmm ok.][count:3]"))
    (usage,) = of(Usage, got)
    assert usage.prompt_tokens and usage.completion_tokens == 3 + 2  # reasoning tokens count
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert got[-2:] == [usage, StepFinish("stop")]


async def test_max_output_tokens_is_finish_length(upstream: FakeUpstream) -> None:
    got = await items(upstream, user("[tokens:x|y][finish:length]"))
    assert text_of(got) == "xy"
    assert of(StepFinish, got) == [StepFinish("length")] and got[-1] == StepFinish("length")
    assert of(Usage, got)[0].completion_tokens == 2


# --------------------------------------------------------------------------- function calls


async def test_function_calls_stream_deltas_then_calls_by_call_id(
    upstream: FakeUpstream,
) -> None:
    got = await items(upstream, user(TWO_CALLS), tools=TOOLS)
    calls = of(ToolCall, got)
    assert [(c.name, c.input) for c in calls] == [
        ("weather", {"city": "Paris"}),
        ("divide", {"a": 1, "b": [0]}),
    ]
    assert all(c.id.startswith("call_") for c in calls) and calls[0].id != calls[1].id
    deltas = of(ToolInputDelta, got)
    for call, arguments in zip(calls, ['{"city": "Paris"}', '{"a": 1, "b": [0]}'], strict=True):
        mine = [d for d in deltas if d.id == call.id]
        assert len(mine) > 2 and {d.name for d in mine} == {call.name}
        assert "".join(d.delta for d in mine) == arguments
        assert max(got.index(d) for d in mine) < got.index(call)
    assert text_of(got) == ""
    assert isinstance(got[-2], Usage) and got[-1] == StepFinish("tool-calls")
    assert len(of(StepFinish, got)) == 1


async def test_reasoning_then_a_call(upstream: FakeUpstream) -> None:
    got = await items(
        upstream, user('[think:Weather first.][tool:weather:{"city": "Oslo"}]'), tools=TOOLS
    )
    assert "".join(r.text for r in of(Reasoning, got)) == "Weather first."
    (call,) = of(ToolCall, got)
    assert call.input == {"city": "Oslo"} and got[-1] == StepFinish("tool-calls")


async def test_arguments_that_are_not_json_stay_a_string(upstream: FakeUpstream) -> None:
    got = await items(upstream, user("[tool:divide:{not json] go"), tools=TOOLS)
    (call,) = of(ToolCall, got)
    assert (call.name, call.input) == ("divide", "{not json")


async def test_tools_are_sent_as_function_tools_not_strict(upstream: FakeUpstream) -> None:
    await items(upstream, user("hi"), tools=TOOLS)
    assert sent(upstream)["tools"] == [
        {
            "type": "function",
            "name": "weather",
            "description": "The current weather in a city.",
            "parameters": WEATHER["parameters"],
            "strict": False,
        },
        {
            "type": "function",
            "name": "divide",
            "description": "",
            "parameters": {"type": "object"},
            "strict": False,
        },
    ]


async def test_tool_history_becomes_function_call_items(upstream: FakeUpstream) -> None:
    history = tool_history()
    got = await items(upstream, history, tools=TOOLS)
    assert text_of(got) == 'Results: {"temp": 21} | ZeroDivisionError: division by zero'
    assert of(ToolCall, got) == [] and got[-1] == StepFinish("stop")
    assert sent(upstream)["input"][1:] == [
        {"role": "assistant", "content": "Let me check."},
        {
            "type": "function_call",
            "call_id": "call_a",
            "name": "weather",
            "arguments": '{"city": "Paris"}',
        },
        {
            "type": "function_call",
            "call_id": "call_b",
            "name": "divide",
            "arguments": '{"a": 1, "b": 0}',
        },
        {"type": "function_call_output", "call_id": "call_a", "output": '{"temp": 21}'},
        {
            "type": "function_call_output",
            "call_id": "call_b",
            "output": "ZeroDivisionError: division by zero",
        },
    ]
    upstream.reset()
    history[1]["content"] = ""  # no text: no empty assistant message
    await items(upstream, history, tools=TOOLS)
    assert [item.get("type") for item in sent(upstream)["input"][1:3]] == ["function_call"] * 2


async def test_a_tool_turn_without_a_call_id_is_user_context(upstream: FakeUpstream) -> None:
    await items(upstream, [{"role": "tool", "content": "42 rows"}, *user("Sum?")])
    assert sent(upstream)["input"][0] == {"role": "user", "content": "Tool result:\n42 rows"}


# --------------------------------------------------------------------------- the tool loop


def weather(city: str, unit: str = "celsius") -> dict[str, Any]:
    """The current weather in a city."""
    return {"city": city, "temperature": 21, "unit": unit}


async def test_the_tool_loop_runs_a_sync_tool_and_answers(upstream: FakeUpstream) -> None:
    prompt = '[think:Look it up.][tool:weather:{"city": "Paris"}] go'
    got = [item async for item in tool_loop(user(prompt), config(upstream), as_tools([weather]))]
    (call,) = of(ToolCall, got)
    (result,) = of(ToolResult, got)
    assert (call.name, call.input) == ("weather", {"city": "Paris"})
    assert (result.id, result.output) == (call.id, weather("Paris"))
    assert got.index(call) < got.index(result) < got.index(StepFinish("tool-calls"))
    assert text_of(got) == "Results: " + json.dumps(weather("Paris"))
    assert got[-1] == StepFinish("stop")
    first, second = (r.json for r in upstream.requests)
    assert [t["name"] for t in first["tools"]] == ["weather"]
    assert second["input"][-2:] == [
        {
            "type": "function_call",
            "call_id": call.id,
            "name": "weather",
            "arguments": '{"city": "Paris"}',
        },
        {
            "type": "function_call_output",
            "call_id": call.id,
            "output": json.dumps(weather("Paris")),
        },
    ]


def endpoint(upstream: FakeUpstream, **kw: Any) -> ChatEndpoint:
    kw.setdefault("heartbeat", None)
    return ChatEndpoint(
        provider="openai", base_url=upstream.base_url, api_key=KEY, max_retries=0, **kw
    )


def body(text: str) -> bytes:
    return json.dumps({"messages": user(text)}).encode()


async def events(endpoint: ChatEndpoint, text: str) -> list[dict[str, Any]]:
    reply = await endpoint.handle("POST", body(text), JSON)
    assert reply.status == 200, reply.body
    assert reply.stream is not None
    raw = b"".join([chunk async for chunk in reply.stream]).decode()
    return [json.loads(line[6:]) for line in raw.split("\n") if line.startswith("data: ")]


async def test_an_endpoint_with_tools_records_the_turn(upstream: FakeUpstream) -> None:
    finished: list[StreamResult] = []
    ep = endpoint(upstream, options=RESPONSES, tools=[weather], on_finish=finished.append)
    got = await events(ep, '[think:Look it up.][tool:weather:{"city": "Rome"}] go')
    answer = "Results: " + json.dumps(weather("Rome"))
    assert "".join(e["text"] for e in got if e["type"] == "text") == answer
    assert got[-1] == {"type": "done"}
    (result,) = finished
    # the fake thinks in both steps (its directives come from the user's message)
    assert result.text == answer and result.reasoning == "Look it up." * 2
    assert [(t.name, t.input, t.output) for t in result.tool_calls] == [
        ("weather", {"city": "Rome"}, weather("Rome"))
    ]
    assert [step.finish_reason for step in result.steps] == ["tool-calls", "stop"]
    assert result.finish_reason == "stop"
    assert result.usage is not None and result.usage.completion_tokens
    assert {r.path for r in upstream.requests} == {"/v1/responses"}


async def test_configure_chooses_the_api_per_request(upstream: FakeUpstream) -> None:
    def configure(chat: Any) -> dict[str, Any]:
        return RESPONSES if "responses" in chat.messages[-1]["content"] else {}

    ep = endpoint(upstream, configure=configure)
    for text, path in [
        ("[tokens:a] responses", "/v1/responses"),
        ("[tokens:a]", "/v1/chat/completions"),
    ]:
        upstream.reset()
        got = await events(ep, text)
        assert got == [{"type": "text", "text": "a"}, {"type": "done"}]
        assert [r.path for r in upstream.requests] == [path]


async def test_a_handler_chooses_it_for_chat_stream(upstream: FakeUpstream) -> None:
    async def handler(chat: Any) -> Any:
        async for item in chat.stream(api="responses", system="Short."):
            yield item

    got = await events(endpoint(upstream, handler=handler), "[tokens:b|c]")
    assert got == [{"type": "text", "text": "b"}, {"type": "text", "text": "c"}, {"type": "done"}]
    (request,) = upstream.requests
    assert request.path == "/v1/responses" and request.json["instructions"] == "Short."


async def test_an_unknown_api_fails_at_start_up_or_per_request(upstream: FakeUpstream) -> None:
    with pytest.raises(RaisError, match="Unknown OpenAI api 'beta'"):
        endpoint(upstream, options={"api": "beta"})
    ep = endpoint(upstream, configure=lambda chat: {"api": "beta"})
    reply = await ep.handle("POST", body("hi"), JSON)
    assert (
        reply.status == 500 and "Unknown OpenAI api" in json.loads(reply.body)["error"]["message"]
    )
    assert upstream.requests == []


# --------------------------------------------------------------------------- failures


async def test_429_keeps_its_status_and_retry_after(upstream: FakeUpstream) -> None:
    with pytest.raises(UpstreamError) as raised:
        await items(upstream, user("[fault:429]"))
    assert raised.value.status == 429 and raised.value.retry_after == "7"
    reply = await endpoint(upstream, options=RESPONSES).handle("POST", body("[fault:429]"), JSON)
    assert reply.status == 429
    assert dict((k.lower(), v) for k, v in reply.headers)["retry-after"] == "7"
    assert "rate" in json.loads(reply.body)["error"]["message"].lower()


async def test_401_is_502_without_the_key(upstream: FakeUpstream) -> None:
    reply = await endpoint(upstream, options=RESPONSES).handle("POST", body("[fault:401]"), JSON)
    assert reply.status == 502 and KEY[8:] not in reply.body.decode()


@pytest.mark.parametrize("fault", ["error_mid", "failed"])
async def test_a_failure_mid_stream_is_one_error_event(upstream: FakeUpstream, fault: str) -> None:
    with pytest.raises(UpstreamError) as raised:
        await items(upstream, user(f"[fault:{fault}]"))
    assert raised.value.status == 502
    assert str(raised.value) == "The model provider failed mid-stream (openai: server_error)."
    got = await events(endpoint(upstream, options=RESPONSES), f"[fault:{fault}]")
    assert [e["type"] for e in got][-1] == "error" and got[0]["type"] == "text"
    assert "Sorry" not in json.dumps(got)  # the provider's own message is not echoed


async def test_closing_the_stream_cancels_the_upstream_call(upstream: FakeUpstream) -> None:
    stream = provider_stream(user("[fault:hang]"), config(upstream))
    task = stream.__anext__()
    pending = asyncio.ensure_future(task)
    assert await asyncio.to_thread(upstream.wait_requests, 1, 10)
    await asyncio.sleep(0.1)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    await stream.aclose()
    assert await upstream.wait_cancelled_async(1, 2.0)


# --------------------------------------------------------------------------- the fake's wire


def test_the_fake_speaks_typed_sse_events_with_sequence_numbers(upstream: FakeUpstream) -> None:
    import httpx

    request = {"model": "m", "input": "[think:Hm.][tokens:a|b]", "stream": True}
    headers = {"authorization": f"Bearer {KEY}"}
    with httpx.Client() as client:
        raw = client.post(f"{upstream.base_url}/responses", json=request, headers=headers).text
    blocks = [block.split("\n") for block in raw.strip().split("\n\n")]
    assert all(b[0].startswith("event: ") and b[1].startswith("data: ") for b in blocks)
    data = [json.loads(b[1][6:]) for b in blocks]
    assert [b[0][7:] for b in blocks] == [d["type"] for d in data]
    assert [d["sequence_number"] for d in data] == list(range(len(data)))
    assert data[0]["type"] == "response.created" and data[0]["response"]["status"] == "in_progress"
    completed = data[-1]["response"]
    assert data[-1]["type"] == "response.completed" and completed["status"] == "completed"
    assert [item["type"] for item in completed["output"]] == ["reasoning", "message"]
    assert completed["output"][1]["content"][0]["text"] == "ab"
    assert set(completed["usage"]) >= {"input_tokens", "output_tokens", "total_tokens"}
    assert "[DONE]" not in raw
