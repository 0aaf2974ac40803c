"""The built-in providers beyond text: reasoning, tool calls, finish reasons, usage, the
tools they send and the tool history they convert (issue 18.2, 18.3).

Driven through the real openai and anthropic SDKs against the fake upstreams
(tests/fakes/upstreams.py), which speak each provider's streaming wire format:
``[think:...]``, ``[tool:NAME:JSON]``, ``[finish:length]`` and the ``Results: ...`` answer
to tool results.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from rais import Reasoning, StepFinish, ToolCall, ToolInputDelta, Usage
from rais._providers import ProviderConfig, provider_stream
from tests.fakes.upstreams import FakeUpstream, _signature
from tests.provider_helpers import (
    KEYS,
    THINK_THEN_HI,
    TWO_CALLS,
    WEATHER,
    assert_reasoning_first,
    history,
    no_ambient_keys,
    of,
    provider,
    sent,
    text_of,
    upstream,
    upstreams,
    user,
)

__all__ = ["no_ambient_keys", "provider", "upstream", "upstreams"]  # the fixtures, used below

pytestmark = pytest.mark.timeout(60)

DIVIDE = {
    "name": "divide",
    "description": "",
    "parameters": {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
    },
}
TOOLS = (WEATHER, DIVIDE)


async def items(
    provider: str, upstream: FakeUpstream, messages: list[dict[str, Any]], **kw: Any
) -> list[Any]:
    config = ProviderConfig(
        provider=provider, base_url=upstream.base_url, api_key=KEYS[provider], max_retries=0, **kw
    )
    return [item async for item in provider_stream(messages, config)]


# --------------------------------------------------------------------------- reasoning


async def test_reasoning_arrives_as_reasoning_never_as_text(
    provider: str, upstream: FakeUpstream
) -> None:
    assert_reasoning_first(await items(provider, upstream, user(THINK_THEN_HI)))


async def test_no_thinking_no_reasoning(provider: str, upstream: FakeUpstream) -> None:
    got = await items(provider, upstream, user("[tokens:a|b]"))
    assert of(Reasoning, got) == [] and text_of(got) == "ab"


# --------------------------------------------------------------------------- tool calls


async def test_parallel_tool_calls_stream_deltas_then_parsed_calls(
    provider: str, upstream: FakeUpstream
) -> None:
    got = await items(provider, upstream, user(TWO_CALLS), tools=TOOLS)
    calls = of(ToolCall, got)
    assert [(c.name, c.input) for c in calls] == [
        ("weather", {"city": "Paris"}),
        ("divide", {"a": 1, "b": [0]}),
    ]
    prefix = "call_" if provider == "openai" else "toolu_"
    assert all(c.id.startswith(prefix) for c in calls) and calls[0].id != calls[1].id
    deltas = of(ToolInputDelta, got)
    for call, arguments in zip(calls, ['{"city": "Paris"}', '{"a": 1, "b": [0]}'], strict=True):
        mine = [d for d in deltas if d.id == call.id]
        assert len(mine) > 2 and {d.name for d in mine} == {call.name}
        assert "".join(d.delta for d in mine) == arguments
        last_delta = max(i for i, item in enumerate(got) if item in mine)
        assert last_delta < got.index(call)  # the input streams, then the call is complete
    assert text_of(got) == ""
    assert got[-1] == StepFinish("tool-calls")
    assert len(of(StepFinish, got)) == 1


async def test_the_first_delta_of_the_second_call_comes_after_the_first_calls_input(
    provider: str, upstream: FakeUpstream
) -> None:
    got = await items(provider, upstream, user(TWO_CALLS), tools=TOOLS)
    ids = [d.id for d in of(ToolInputDelta, got)]
    first, second = dict.fromkeys(ids)
    assert ids == [first] * ids.count(first) + [second] * ids.count(second)


async def test_openai_arguments_that_are_not_json_stay_a_string(
    upstreams: dict[str, FakeUpstream],
) -> None:
    upstream = upstreams["openai"]
    upstream.reset()
    got = await items("openai", upstream, user("[tool:divide:{not json] go"), tools=TOOLS)
    (call,) = of(ToolCall, got)
    assert (call.name, call.input) == ("divide", "{not json")
    assert got[-1] == StepFinish("tool-calls")


async def test_tool_directives_without_tools_in_the_request_are_text(
    provider: str, upstream: FakeUpstream
) -> None:
    got = await items(provider, upstream, user(TWO_CALLS))
    assert of(ToolCall, got) == [] and text_of(got) == "Hello, world!"
    assert got[-1] == StepFinish("stop")
    assert "tools" not in sent(upstream)  # only sent when there are some


# --------------------------------------------------------------------------- finish, usage


@pytest.mark.parametrize(
    ("prompt", "reason"), [("[tokens:x]", "stop"), ("[tokens:x][finish:length]", "length")]
)
async def test_finish_reason(
    provider: str, upstream: FakeUpstream, prompt: str, reason: str
) -> None:
    got = await items(provider, upstream, user(prompt))
    assert of(StepFinish, got) == [StepFinish(reason)]  # type: ignore[arg-type]
    assert got[-1] == StepFinish(reason)  # type: ignore[arg-type]


async def test_usage_comes_before_the_finish(provider: str, upstream: FakeUpstream) -> None:
    got = await items(provider, upstream, user("[count:3]"), tools=TOOLS)
    usages = of(Usage, got)
    total = sum(usages, Usage())
    assert total.prompt_tokens and total.completion_tokens == 3
    assert all(got.index(u) < len(got) - 1 for u in usages)
    assert isinstance(got[-1], StepFinish)


async def test_tool_call_step_reports_usage(provider: str, upstream: FakeUpstream) -> None:
    got = await items(provider, upstream, user(TWO_CALLS), tools=TOOLS)
    total = sum(of(Usage, got), Usage())
    assert total.prompt_tokens and total.completion_tokens
    last_usage = max(i for i, item in enumerate(got) if isinstance(item, Usage))
    assert last_usage < got.index(of(StepFinish, got)[0])


async def test_openai_without_usage_still_finishes(upstreams: dict[str, FakeUpstream]) -> None:
    upstream = upstreams["openai"]
    upstream.reset()
    got = await items("openai", upstream, user("[tokens:x]"), usage=False)
    assert of(Usage, got) == [] and got == ["x", StepFinish("stop")]


# --------------------------------------------------------------------------- tools sent


async def test_openai_sends_tools_as_functions(upstreams: dict[str, FakeUpstream]) -> None:
    upstream = upstreams["openai"]
    upstream.reset()
    await items("openai", upstream, user("hi"), tools=TOOLS)
    assert sent(upstream)["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "The current weather in a city.",
                "parameters": WEATHER["parameters"],
            },
        },
        {
            "type": "function",
            "function": {"name": "divide", "description": "", "parameters": DIVIDE["parameters"]},
        },
    ]


async def test_anthropic_sends_tools_with_input_schemas(
    upstreams: dict[str, FakeUpstream],
) -> None:
    upstream = upstreams["anthropic"]
    upstream.reset()
    await items("anthropic", upstream, user("hi"), tools=TOOLS)
    assert sent(upstream)["tools"] == [
        {
            "name": "weather",
            "description": "The current weather in a city.",
            "input_schema": WEATHER["parameters"],
        },
        {"name": "divide", "input_schema": DIVIDE["parameters"]},
    ]


# --------------------------------------------------------------------------- tool history


async def test_the_model_answers_with_the_tool_results(
    provider: str, upstream: FakeUpstream
) -> None:
    got = await items(provider, upstream, history(), tools=TOOLS)
    assert text_of(got) == 'Results: {"temp": 21} | ZeroDivisionError: division by zero'
    assert of(ToolCall, got) == [] and got[-1] == StepFinish("stop")


async def test_openai_tool_history(upstreams: dict[str, FakeUpstream]) -> None:
    upstream = upstreams["openai"]
    upstream.reset()
    await items("openai", upstream, history(), tools=TOOLS, system="Be brief.")
    messages = sent(upstream)["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[2] == {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
            },
            {
                "id": "call_b",
                "type": "function",
                "function": {"name": "divide", "arguments": '{"a": 1, "b": 0}'},
            },
        ],
    }
    assert messages[3:] == [
        {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 21}'},
        {
            "role": "tool",
            "tool_call_id": "call_b",
            "content": "ZeroDivisionError: division by zero",
        },
    ]
    upstream.reset()
    await items("openai", upstream, history(text=""), tools=TOOLS)
    assert sent(upstream)["messages"][1]["content"] is None  # no text: OpenAI wants null


async def test_anthropic_tool_history(upstreams: dict[str, FakeUpstream]) -> None:
    upstream = upstreams["anthropic"]
    upstream.reset()
    await items("anthropic", upstream, [*history(), {"role": "user", "content": "And?"}])
    messages = sent(upstream)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "user"]
    assert messages[1]["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_a", "name": "weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "call_b", "name": "divide", "input": {"a": 1, "b": 0}},
    ]
    assert messages[2]["content"] == [  # both results in one user turn
        {"type": "tool_result", "tool_use_id": "call_a", "content": '{"temp": 21}'},
        {
            "type": "tool_result",
            "tool_use_id": "call_b",
            "content": "ZeroDivisionError: division by zero",
            "is_error": True,
        },
    ]
    assert messages[3] == {"role": "user", "content": "And?"}
    upstream.reset()
    await items("anthropic", upstream, history(text=""))
    assert [b["type"] for b in sent(upstream)["messages"][1]["content"]] == ["tool_use"] * 2


async def test_a_tool_turn_without_a_call_id_is_still_user_context(
    provider: str, upstream: FakeUpstream
) -> None:
    messages = [{"role": "tool", "content": "42 rows"}, {"role": "user", "content": "Sum?"}]
    await items(provider, upstream, messages)
    assert sent(upstream)["messages"][0] == {"role": "user", "content": "Tool result:\n42 rows"}


# --------------------------------------------------------------------------- signed thinking


async def test_anthropic_thinking_goes_back_with_the_tool_calls(
    upstreams: dict[str, FakeUpstream],
) -> None:
    """With extended thinking on, Anthropic wants the signed thinking block back at the
    start of the assistant turn that called the tools: the provider keeps it."""
    upstream = upstreams["anthropic"]
    upstream.reset()
    prompt = '[think:The weather first.][tool:weather:{"city": "Oslo"}] go'
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
    got = await items("anthropic", upstream, user(prompt), tools=TOOLS, options=thinking)
    (call,) = of(ToolCall, got)
    assert "".join(r.text for r in of(Reasoning, got)) == "The weather first."
    assert text_of(got) == ""
    upstream.reset()
    turns = [
        *user(prompt),
        {"role": "assistant", "content": "", "tool_calls": [call.__dict__]},
        {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": "sunny"},
    ]
    got = await items("anthropic", upstream, turns, tools=TOOLS, options=thinking)
    assert text_of(got) == "Results: sunny"
    body = sent(upstream)
    assert body["thinking"] == thinking["thinking"]
    assert body["messages"][1]["content"] == [
        {
            "type": "thinking",
            "thinking": "The weather first.",
            "signature": _signature("The weather first."),
        },
        {"type": "tool_use", "id": call.id, "name": "weather", "input": {"city": "Oslo"}},
    ]


async def test_anthropic_provider_content_is_sent_as_it_is(
    upstreams: dict[str, FakeUpstream],
) -> None:
    upstream = upstreams["anthropic"]
    upstream.reset()
    own = [
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy"},
        {"type": "tool_use", "id": "toolu_x", "name": "weather", "input": {"city": "Rome"}},
    ]
    turns = [
        *user("go"),
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "toolu_x", "name": "weather", "input": {"city": "Rome"}}],
            "provider_content": own,
        },
        {"role": "tool", "tool_call_id": "toolu_x", "name": "weather", "content": "warm"},
    ]
    got = await items("anthropic", upstream, turns, tools=TOOLS)
    assert text_of(got) == "Results: warm"
    assert sent(upstream)["messages"][1]["content"] == own


async def test_openai_reasoning_is_not_sent_back(upstreams: dict[str, FakeUpstream]) -> None:
    """DeepSeek rejects reasoning_content in the history: it stays out of OpenAI requests."""
    upstream = upstreams["openai"]
    upstream.reset()
    got = await items("openai", upstream, user("[think:Hmm.][tool:weather:{}]"), tools=TOOLS)
    (call,) = of(ToolCall, got)
    assert call.input == {}
    upstream.reset()
    turns = [
        *user("[think:Hmm.][tool:weather:{}]"),
        {"role": "assistant", "content": "", "tool_calls": [call.__dict__]},
        {"role": "tool", "tool_call_id": call.id, "name": "weather", "content": "x"},
    ]
    await items("openai", upstream, turns, tools=TOOLS)
    assert "reasoning_content" not in json.dumps(sent(upstream))
