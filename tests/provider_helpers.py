"""What the provider tests (test_providers, test_provider_parts, test_provider_responses)
share: the fake upstreams as fixtures, with no API key or base URL from the environment, the
messages and tools they send, and reading what a provider stream yields.

A test module imports the fixtures it uses and names them in its ``__all__``; ``upstream``
is the fake of the ``provider`` fixture's provider, each in turn unless the module defines
its own ``provider``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rais import Reasoning, StepFinish
from tests.fakes.upstreams import FakeUpstream

KEYS = {"openai": "sk-test-openai-0123456789abcdef", "anthropic": "sk-ant-test-0123456789abcdef"}
PROVIDERS = ["openai", "anthropic"]

WEATHER = {
    "name": "weather",
    "description": "The current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
TWO_CALLS = '[tool:weather:{"city": "Paris"}][tool:divide:{"a": 1, "b": [0]}] go'
#: Four words of reasoning, then the text ``Hi!``: see :func:`assert_reasoning_first`.
THINK_THEN_HI = "[think:Two steps, then answer.][tokens:Hi|!]"


@pytest.fixture(autouse=True)
def no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, FakeUpstream]]:
    with FakeUpstream("openai") as oai, FakeUpstream("anthropic") as ant:
        yield {"openai": oai, "anthropic": ant}
        assert oai.internal_errors == [] and ant.internal_errors == []


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def upstream(upstreams: dict[str, FakeUpstream], provider: str) -> FakeUpstream:
    up = upstreams[provider]
    up.reset()
    return up


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def history(text: str = "Let me check.") -> list[dict[str, Any]]:
    """What the tool loop appends after a step with two calls, the second one failed."""
    return [
        {"role": "user", "content": TWO_CALLS},
        {
            "role": "assistant",
            "content": text,
            "tool_calls": [
                {"id": "call_a", "name": "weather", "input": {"city": "Paris"}},
                {"id": "call_b", "name": "divide", "input": {"a": 1, "b": 0}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "name": "weather", "content": '{"temp": 21}'},
        {
            "role": "tool",
            "tool_call_id": "call_b",
            "name": "divide",
            "content": "ZeroDivisionError: division by zero",
            "is_error": True,
        },
    ]


def text_of(got: list[Any]) -> str:
    return "".join(item for item in got if type(item) is str)


def of(kind: type, got: list[Any]) -> list[Any]:
    return [item for item in got if isinstance(item, kind)]


def sent(upstream: FakeUpstream) -> dict[str, Any]:
    """The JSON body of the one request the upstream received."""
    (request,) = upstream.requests
    body = request.json
    assert isinstance(body, dict)
    return body


def assert_reasoning_first(got: list[Any]) -> None:
    """What any provider yields for :data:`THINK_THEN_HI`: the reasoning as it came, word by
    word and all of it before the text, then the text, then the finish."""
    assert "".join(r.text for r in of(Reasoning, got)) == "Two steps, then answer."
    assert len(of(Reasoning, got)) == 4  # streamed as it came, word by word
    assert text_of(got) == "Hi!"
    first_text = next(i for i, item in enumerate(got) if type(item) is str)
    assert all(i < first_text for i, item in enumerate(got) if isinstance(item, Reasoning))
    assert got[-1] == StepFinish("stop")
