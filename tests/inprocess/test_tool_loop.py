"""The server-side tool loop with the real openai SDK against the fake upstream, on every
framework: tools from plain functions, parallel calls, failures that become error results
for the model, per-request tools, the step budget, and what on_finish records."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from tests.fakes.upstreams import FakeUpstream
from tests.inprocess.conftest import MakeClient
from tests.inprocess.helpers import Finished, ask, unique
from tests.inprocess.test_codecs import ag_ui_events, ai_sdk_chunks, run_input, ui_request

pytestmark = pytest.mark.timeout(60)

threads: list[str] = []


def weather(city: str, unit: str = "celsius") -> dict[str, Any]:
    """The current weather in a city.

    Args:
        city: The city's name, in English.
        unit: celsius or fahrenheit.
    """
    threads.append(threading.current_thread().name)
    return {"city": city, "temperature": 21 if unit == "celsius" else 70, "unit": unit}


async def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


def call(name: str, arguments: Any) -> str:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return f"[tool:{name}:{text}]"


def requests_with(upstream: FakeUpstream, marker: str) -> list[dict[str, Any]]:
    marker = marker.split()[-1]  # the prompt's unique id (its directives' quotes are escaped)
    found = [r.json for r in upstream.requests if r.json and marker in json.dumps(r.json)]
    return [body for body in found if body is not None]


async def test_two_tools_one_failing_over_the_ai_sdk(
    make_client: MakeClient, upstream: FakeUpstream
) -> None:
    finished = Finished()
    client = await make_client(protocol="ai-sdk", tools=[weather, divide], on_finish=finished)
    prompt = unique(call("weather", {"city": "Paris"}) + call("divide", {"a": 1, "b": 0}))
    tag = unique("tools")
    chunks = ai_sdk_chunks(await client.post(json=ui_request(prompt, tag=tag)))
    types = [c["type"] for c in chunks]
    step = types.index("finish-step")
    first, second = types[: step + 1], types[step + 1 :]
    assert first[:2] == ["start", "start-step"]
    assert first.count("tool-input-start") == 2 and first.count("tool-input-available") == 2
    assert first[-3:] == ["tool-output-available", "tool-output-error", "finish-step"]
    assert second[0] == "start-step" and second[-2:] == ["finish-step", "finish"]
    calls = [c for c in chunks if c["type"] == "tool-input-available"]
    assert [(c["toolName"], c["input"]) for c in calls] == [
        ("weather", {"city": "Paris"}),
        ("divide", {"a": 1, "b": 0}),
    ]
    output = next(c for c in chunks if c["type"] == "tool-output-available")
    assert output["output"] == {"city": "Paris", "temperature": 21, "unit": "celsius"}
    assert output["toolCallId"] == calls[0]["toolCallId"]
    error = next(c for c in chunks if c["type"] == "tool-output-error")
    assert error["errorText"] == "ZeroDivisionError: float division by zero"
    text = "".join(c["delta"] for c in chunks if c["type"] == "text-delta")
    # the fake model answers with the results it was given: the model saw both
    assert '"temperature": 21' in text and "ZeroDivisionError: float division by zero" in text
    assert chunks[-1]["finishReason"] == "stop"
    assert threads and all(name.startswith("rais-tool") for name in threads)

    result = await finished.one(tag)
    assert result.outcome == "done" and result.finish_reason == "stop"
    assert [step.finish_reason for step in result.steps] == ["tool-calls", "stop"]
    assert [(t.name, t.error) for t in result.tool_calls] == [
        ("weather", None),
        ("divide", "ZeroDivisionError: float division by zero"),
    ]
    assert result.tool_calls[0].output["temperature"] == 21
    usages = [step.usage for step in result.steps]
    assert all(u is not None and u.completion_tokens for u in usages)
    assert result.usage is not None
    assert result.usage.completion_tokens == sum(u.completion_tokens for u in usages)  # type: ignore[union-attr,misc]
    assert result.text == text

    first_request, second_request = requests_with(upstream, prompt)
    tools = {t["function"]["name"]: t["function"] for t in first_request["tools"]}
    assert tools["weather"]["description"] == "The current weather in a city."
    parameters = tools["weather"]["parameters"]
    assert parameters["required"] == ["city"]
    assert parameters["properties"]["city"]["type"] == "string"
    assert parameters["properties"]["city"]["description"] == "The city's name, in English."
    assert tools["divide"]["parameters"]["properties"]["b"]["type"] == "number"
    history = second_request["messages"]
    assert history[-3]["role"] == "assistant" and len(history[-3]["tool_calls"]) == 2
    assert [m["role"] for m in history[-2:]] == ["tool", "tool"]
    assert history[-1]["content"] == "ZeroDivisionError: float division by zero"


async def test_over_ag_ui_and_rais(make_client: MakeClient) -> None:
    """AG-UI gets the calls and results; RAIS v1 only the answer's text."""
    prompt = unique(call("weather", {"city": "Oslo"}))
    client = await make_client(protocol="ag-ui", tools=[weather])
    events = ag_ui_events(await client.post(json=run_input(prompt)))
    types = [e["type"] for e in events]
    assert types[:3] == ["RUN_STARTED", "TOOL_CALL_START", "TOOL_CALL_ARGS"]
    order = [types.index(t) for t in ("TOOL_CALL_END", "TOOL_CALL_RESULT", "TEXT_MESSAGE_START")]
    assert order == sorted(order), types
    result = next(e for e in events if e["type"] == "TOOL_CALL_RESULT")
    assert json.loads(result["content"])["city"] == "Oslo"
    assert types[-1] == "RUN_FINISHED" and "TEXT_MESSAGE_CONTENT" in types

    client = await make_client(protocol="rais", tools=[weather])
    received = await client.post(json=ask(unique(call("weather", {"city": "Rome"}))))
    assert received.status == 200, received.body
    assert {e["type"] for e in received.events} == {"text", "done"}
    assert "Rome" in "".join(e["text"] for e in received.events if e["type"] == "text")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"a": "many", "b": 2}, "Invalid arguments: a: Input should be a valid number"),
        ({"a": 1}, "Invalid arguments: b: Field required"),
        ("{not json", "The arguments are not valid JSON."),
    ],
)
async def test_bad_arguments_are_an_error_result(
    make_client: MakeClient, arguments: Any, expected: str
) -> None:
    client = await make_client(protocol="ai-sdk", tools=[divide])
    chunks = ai_sdk_chunks(await client.post(json=ui_request(unique(call("divide", arguments)))))
    errors = [c["errorText"] for c in chunks if c["type"] == "tool-output-error"]
    assert len(errors) == 1 and errors[0].startswith(expected), errors
    assert chunks[-1]["type"] == "finish"  # the model read the error and answered


async def test_failures_reach_the_model_safely(make_client: MakeClient) -> None:
    """Unknown tool, a secret and a path in an exception, a hang, a huge output: each is
    one error result; the stream and the worker go on."""
    release = asyncio.Event()

    def leaky() -> str:
        raise RuntimeError("cannot open /srv/app/secrets.txt with key sk-live-0123456789abcdef")

    async def hangs() -> str:
        await release.wait()
        return "never"

    def huge() -> str:
        return "x" * 5000

    client = await make_client(
        protocol="ai-sdk", tools=[leaky, hangs, huge], tool_timeout=0.5, max_tool_output=1000
    )
    prompt = unique(call("nope", {}) + call("leaky", {}) + call("hangs", {}) + call("huge", {}))
    chunks = ai_sdk_chunks(await client.post(json=ui_request(prompt)))
    errors = [c["errorText"] for c in chunks if c["type"] == "tool-output-error"]
    assert errors[0] == "There is no tool named 'nope'."
    assert errors[1].startswith("RuntimeError: cannot open [redacted]")
    assert "sk-live" not in errors[1] and "/srv" not in errors[1]
    assert errors[2] == "The tool did not answer within 0.5 s."
    assert errors[3] == "The tool's output is larger than 1000 bytes."
    assert chunks[-1]["type"] == "finish"
    release.set()


async def test_calls_run_in_parallel(make_client: MakeClient) -> None:
    """Each call waits for the other to have started: only parallel calls both finish."""
    started: list[str] = []
    both = asyncio.Event()

    async def meet(name: str) -> str:
        """Meet the other caller."""
        started.append(name)
        if len(started) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 10)
        return f"met {name}"

    client = await make_client(protocol="ai-sdk", tools=[meet])
    prompt = unique(call("meet", {"name": "a"}) + call("meet", {"name": "b"}))
    chunks = ai_sdk_chunks(await client.post(json=ui_request(prompt)))
    outputs = [c["output"] for c in chunks if c["type"] == "tool-output-available"]
    assert sorted(outputs) == ["met a", "met b"]


async def test_configure_chooses_the_tools_and_the_step_budget(
    make_client: MakeClient, upstream: FakeUpstream
) -> None:
    """Per-user permissions: alice may use the weather, bob no tool at all; max_steps=1
    ends the answer on the tool results."""

    def configure(chat: Any) -> dict[str, Any]:
        if chat.extra.get("user") == "alice":
            return {"tools": [weather], "max_steps": 1}
        return {"tools": []}

    finished = Finished()
    client = await make_client(
        protocol="ai-sdk", tools=[weather, divide], configure=configure, on_finish=finished
    )
    prompt = unique(call("weather", {"city": "Lima"}))
    tag = unique("alice")
    chunks = ai_sdk_chunks(await client.post(json=ui_request(prompt, user="alice", tag=tag)))
    types = [c["type"] for c in chunks]
    assert "tool-output-available" in types and "text-delta" not in types
    assert chunks[-1]["finishReason"] == "tool-calls"
    result = await finished.one(tag)
    assert result.finish_reason == "tool-calls" and len(result.steps) == 1
    (sent,) = requests_with(upstream, prompt)
    assert [t["function"]["name"] for t in sent["tools"]] == ["weather"]

    prompt = unique(call("weather", {"city": "Quito"}))
    chunks = ai_sdk_chunks(await client.post(json=ui_request(prompt, user="bob")))
    assert not any(c["type"].startswith("tool-") for c in chunks)
    (sent,) = requests_with(upstream, prompt)
    assert "tools" not in sent


def test_a_bad_tool_fails_at_start_up() -> None:
    from rais import ChatEndpoint

    with pytest.raises(ValueError, match="share a name"):
        ChatEndpoint(provider="offline", tools=[weather, weather])
    with pytest.raises(ValueError, match="name"):
        ChatEndpoint(provider="offline", tools=[lambda: 1])
