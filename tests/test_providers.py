"""stream_response and provider endpoints through the real openai/anthropic SDKs.

The SDKs talk HTTP to local fake upstreams (tests/fakes/upstreams.py) that speak each
provider's streaming wire format; nothing is mocked below the socket.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

import rais
from rais import stream_response
from rais._endpoint import ChatEndpoint
from rais._providers import DEFAULT_MODELS, ProviderConfig, provider_stream
from rais._reply import Reply
from tests.fakes.upstreams import FakeUpstream
from tests.provider_helpers import (
    KEYS,
    PROVIDERS,
    no_ambient_keys,
    provider,
    upstream,
    upstreams,
    user,
)

__all__ = ["no_ambient_keys", "provider", "upstream", "upstreams"]  # the fixtures, used below

pytestmark = pytest.mark.timeout(60)


def wired(provider: str, upstream: FakeUpstream, **kw: Any) -> dict[str, Any]:
    return {
        "provider": provider,
        "base_url": upstream.base_url,
        "api_key": KEYS[provider],
        "max_retries": 0,
        **kw,
    }


async def collect(stream: AsyncIterator[str]) -> list[dict[str, Any]]:
    """Every chunk must be exactly one ``data: {json}\\n\\n`` frame."""
    out = []
    async for chunk in stream:
        assert isinstance(chunk, str)
        assert chunk.startswith("data: ") and chunk.endswith("\n\n")
        assert chunk.count("\n") == 2
        out.append(json.loads(chunk[6:-2]))
    assert [e["type"] in ("done", "error") for e in out].count(True) == 1
    assert out[-1]["type"] in ("done", "error")
    return out


async def run(messages: list[dict[str, Any]], **kw: Any) -> list[dict[str, Any]]:
    return await asyncio.wait_for(collect(stream_response(messages, **kw)), 20)


def texts(events: list[dict[str, Any]]) -> list[str]:
    return [e["text"] for e in events if e["type"] == "text"]


# ---------------------------------------------------------------- the seed's contract


def test_stream_response_signature_matches_the_seed() -> None:
    params = inspect.signature(stream_response).parameters
    assert list(params)[:6] == ["messages", "provider", "api_key", "model", "max_tokens", "system"]
    assert params["messages"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params["provider"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["provider"].default is inspect.Parameter.empty
    assert params["api_key"].default is None
    assert params["model"].default is None
    assert params["max_tokens"].default == 1024
    assert params["system"].default is None
    assert inspect.isasyncgenfunction(stream_response)
    assert DEFAULT_MODELS["openai"] == "gpt-4o-mini"
    assert DEFAULT_MODELS["anthropic"] == "claude-sonnet-4-6"
    assert rais.stream_response is stream_response


async def test_offline_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAIS_OFFLINE_DELAY", "0")
    events = await run(user("what is two plus two"), provider="offline")
    assert events[-1] == {"type": "done"}
    answer = "".join(texts(events))
    assert "what is two plus two" in answer
    assert len(texts(events)) > 5, "streamed in several chunks"


async def test_unknown_provider_is_one_error_event() -> None:
    events = await run(user("hi"), provider="nope")
    assert len(events) == 1 and events[0]["type"] == "error"
    assert "nope" in events[0]["error"]
    assert "openai" in events[0]["error"]


@pytest.mark.parametrize(
    ("name", "variable"), [("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")]
)
async def test_missing_key_is_one_error_event_with_a_hint(name: str, variable: str) -> None:
    events = await run(user("hi"), provider=name)
    assert len(events) == 1 and events[0]["type"] == "error"
    assert variable in events[0]["error"]


@pytest.mark.parametrize("package", PROVIDERS)
async def test_missing_sdk_is_one_error_event_with_the_install_hint(
    package: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # import now raises ImportError
    events = await run(user("hi"), provider=package, api_key=KEYS[package])
    assert len(events) == 1 and events[0]["type"] == "error"
    assert "pip install" in events[0]["error"]
    assert f"rais[{package}]" in events[0]["error"]


# ---------------------------------------------------------------- streaming through the SDKs


async def test_text_arrives_in_order(provider: str, upstream: FakeUpstream) -> None:
    events = await run(user("go [count:40]"), **wired(provider, upstream))
    assert texts(events) == [f"t{i} " for i in range(40)]
    assert events[-1] == {"type": "done"}


async def test_tricky_tokens_survive(provider: str, upstream: FakeUpstream) -> None:
    events = await run(user(r'[tokens:héllo|🎉|a\nb|"q"|back\\slash]'), **wired(provider, upstream))
    assert texts(events) == ["héllo", "🎉", "a\nb", '"q"', "back\\slash"]


async def test_default_model_and_key_are_sent(provider: str, upstream: FakeUpstream) -> None:
    await run(user("hi"), **wired(provider, upstream))
    request = upstream.requests[-1]
    assert request.json["model"] == DEFAULT_MODELS[provider]
    assert request.json["stream"] is True
    assert request.api_key == KEYS[provider]


async def test_model_override(provider: str, upstream: FakeUpstream) -> None:
    await run(user("hi"), **wired(provider, upstream, model="my-model-2"))
    assert upstream.requests[-1].json["model"] == "my-model-2"


async def test_key_falls_back_to_the_environment(
    provider: str, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = f"{provider.upper()}_API_KEY"
    monkeypatch.setenv(variable, "sk-from-the-environment-42")
    kw = wired(provider, upstream)
    del kw["api_key"]
    events = await run(user("hi"), **kw)
    assert events[-1] == {"type": "done"}
    assert upstream.requests[-1].api_key == "sk-from-the-environment-42"


async def test_temperature_passes_through(provider: str, upstream: FakeUpstream) -> None:
    await run(user("hi"), **wired(provider, upstream, temperature=0.25))
    assert upstream.requests[-1].json["temperature"] == 0.25


async def test_options_the_sdk_has_no_parameter_for_still_reach_the_upstream(
    provider: str, upstream: FakeUpstream
) -> None:
    # e.g. top_k for an OpenAI-compatible server, or temperature in SDKs that dropped it
    events = await run(user("hi"), **wired(provider, upstream, top_k=40, temperature=0.5))
    assert events[-1] == {"type": "done"}
    sent = upstream.requests[-1].json
    assert (sent["top_k"], sent["temperature"]) == (40, 0.5)


async def test_openai_system_prompt_is_a_leading_system_message(
    upstreams: dict[str, FakeUpstream],
) -> None:
    up = upstreams["openai"]
    up.reset()
    conversation = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "second"},
    ]
    await run(conversation, **wired("openai", up, system="You are terse."))
    sent = up.requests[-1].json["messages"]
    assert sent[0] == {"role": "system", "content": "You are terse."}
    assert [(m["role"], m["content"]) for m in sent[1:]] == [
        (m["role"], m["content"]) for m in conversation
    ]


async def test_openai_without_system_prompt_sends_the_conversation_as_is(
    upstreams: dict[str, FakeUpstream],
) -> None:
    up = upstreams["openai"]
    up.reset()
    conversation = [{"role": "system", "content": "from client"}, *user("q")]
    await run(conversation, **wired("openai", up))
    assert up.requests[-1].json["messages"] == conversation


async def test_anthropic_system_parameter_merges_system_messages(
    upstreams: dict[str, FakeUpstream],
) -> None:
    up = upstreams["anthropic"]
    up.reset()
    conversation = [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "reply"},
        {"role": "user", "content": "second"},
    ]
    events = await run(conversation, **wired("anthropic", up, system="You are terse."))
    assert events[-1] == {"type": "done"}
    body = up.requests[-1].json
    system = body["system"]
    system_text = system if isinstance(system, str) else "".join(b["text"] for b in system)
    assert "You are terse." in system_text
    assert "Answer in French." in system_text, "system turns are merged, not dropped"
    assert system_text.index("You are terse.") < system_text.index("Answer in French.")
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert [m["content"] for m in body["messages"]] == ["first", "reply", "second"]


async def test_anthropic_without_any_system_prompt(upstreams: dict[str, FakeUpstream]) -> None:
    up = upstreams["anthropic"]
    up.reset()
    await run(user("hi"), **wired("anthropic", up))
    assert "system" not in up.requests[-1].json


async def test_anthropic_max_tokens(upstreams: dict[str, FakeUpstream]) -> None:
    up = upstreams["anthropic"]
    up.reset()
    await run(user("hi"), **wired("anthropic", up, max_tokens=77))
    await run(user("hi"), **wired("anthropic", up))
    assert [r.json["max_tokens"] for r in up.requests] == [77, 1024]


async def test_401_error_never_contains_the_key(provider: str, upstream: FakeUpstream) -> None:
    events = await run(user("[fault:401]"), **wired(provider, upstream))
    assert len(events) == 1 and events[0]["type"] == "error"
    message = events[0]["error"]
    assert KEYS[provider] not in message
    assert KEYS[provider][8:] not in message
    assert "401" in message or "key" in message.lower()


async def test_429_via_stream_response_is_one_error_event(
    provider: str, upstream: FakeUpstream
) -> None:
    events = await run(user("[fault:429]"), **wired(provider, upstream))
    assert len(events) == 1 and events[0]["type"] == "error"
    assert "rate" in events[0]["error"].lower()


async def test_error_mid_stream_is_text_then_one_error(
    provider: str, upstream: FakeUpstream
) -> None:
    events = await run(user("[fault:error_mid] [count:5]"), **wired(provider, upstream))
    assert texts(events) == ["t0 ", "t1 "]
    assert [e["type"] for e in events] == ["text", "text", "error"]
    assert events[-1]["error"]


async def test_closing_stream_response_early_cancels_upstream(
    provider: str, upstream: FakeUpstream
) -> None:
    stream = stream_response(user("[count:200] [delay:0.05]"), **wired(provider, upstream))
    first = await asyncio.wait_for(stream.__anext__(), 10)  # type: ignore[attr-defined]
    assert json.loads(first[6:]) == {"type": "text", "text": "t0 "}
    await stream.aclose()  # type: ignore[attr-defined]
    assert await upstream.wait_cancelled_async(1, 1.0), "upstream saw the disconnect within 1 s"
    assert upstream.completed == 0


async def test_cancelling_a_hung_stream_response_cancels_upstream(
    provider: str, upstream: FakeUpstream
) -> None:
    async def consume() -> None:
        async for _ in stream_response(user("[fault:hang]"), **wired(provider, upstream)):
            pass

    task = asyncio.create_task(consume())
    assert await asyncio.to_thread(upstream.wait_requests, 1, 10)
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await upstream.wait_cancelled_async(1, 1.0)


async def test_provider_stream_closes_the_sdk_stream_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # closing must not depend on the garbage collector finding the inner generator
    closed = asyncio.Event()
    inner: list[Any] = []

    async def fake_stream(messages: Any, config: ProviderConfig) -> AsyncIterator[str]:
        try:
            for i in range(100):
                yield f"t{i}"
                await asyncio.sleep(0)
        finally:
            closed.set()

    def make(messages: Any, config: ProviderConfig) -> AsyncIterator[str]:
        gen = fake_stream(messages, config)
        inner.append(gen)  # held: garbage collection cannot close it for us
        return gen

    monkeypatch.setattr("rais._providers.offline.stream", make)
    stream = provider_stream(user("hi"), ProviderConfig(provider="offline"))
    assert await stream.__anext__() == "t0"
    await stream.aclose()  # type: ignore[attr-defined]
    assert closed.is_set()


async def test_closing_stream_response_closes_the_provider_stream_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = asyncio.Event()

    async def fake_stream(messages: Any, config: ProviderConfig) -> AsyncIterator[str]:
        try:
            while True:
                yield "tok "
                await asyncio.sleep(0)
        finally:
            closed.set()

    monkeypatch.setattr("rais._providers.offline.stream", fake_stream)
    stream = stream_response(user("hi"), provider="offline")
    assert await stream.__anext__() == 'data: {"type":"text","text":"tok "}\n\n'  # type: ignore[attr-defined]
    await stream.aclose()  # type: ignore[attr-defined]
    assert closed.is_set(), "closed by aclose() itself, not later by the garbage collector"


# ---------------------------------------------------------------- ChatEndpoint(provider=...)


def endpoint(provider: str, upstream: FakeUpstream, **kw: Any) -> ChatEndpoint:
    kw.setdefault("heartbeat", None)
    return ChatEndpoint(
        provider=provider,
        base_url=upstream.base_url,
        api_key=KEYS[provider],
        max_retries=0,
        **kw,
    )


def body(text: str) -> bytes:
    return json.dumps({"messages": user(text)}).encode()


JSON = {"content-type": "application/json"}


async def read(reply: Reply) -> list[tuple[int, dict[str, Any]]]:
    assert reply.stream is not None
    raw = b"".join([chunk async for chunk in reply.stream]).decode()
    out = []
    for block in raw[:-2].split("\n\n"):
        if block.startswith(":"):
            continue
        id_line, data_line = block.split("\n")
        out.append((int(id_line[4:]), json.loads(data_line[6:])))
    return out


def header(reply: Reply, name: str) -> str | None:
    return dict((k.lower(), v) for k, v in reply.headers).get(name.lower())


async def test_endpoint_streams_numbered_events(provider: str, upstream: FakeUpstream) -> None:
    reply = await endpoint(provider, upstream).handle("POST", body("[tokens:a|b|c]"), JSON)
    assert reply.status == 200
    assert header(reply, "content-type") == "text/event-stream"
    got = await read(reply)
    assert got == [
        (1, {"type": "text", "text": "a"}),
        (2, {"type": "text", "text": "b"}),
        (3, {"type": "text", "text": "c"}),
        (4, {"type": "done"}),
    ]
    assert upstream.requests[-1].json["model"] == DEFAULT_MODELS[provider]


async def test_endpoint_passes_configuration(provider: str, upstream: FakeUpstream) -> None:
    ep = endpoint(
        provider,
        upstream,
        model="m-1",
        system="Be kind.",
        max_tokens=55,
        options={"temperature": 0.5},
    )
    await read(await ep.handle("POST", body("hi"), JSON))
    sent = upstream.requests[-1].json
    assert sent["model"] == "m-1"
    assert sent["temperature"] == 0.5
    if provider == "anthropic":
        assert sent["max_tokens"] == 55
        assert sent["system"] == "Be kind."
    else:
        assert sent["messages"][0] == {"role": "system", "content": "Be kind."}


async def test_endpoint_429_is_http_429_with_retry_after(
    provider: str, upstream: FakeUpstream
) -> None:
    reply = await endpoint(provider, upstream).handle("POST", body("[fault:429]"), JSON)
    assert reply.status == 429
    assert header(reply, "retry-after") == "7"
    assert header(reply, "content-type") == "application/json"
    error = json.loads(reply.body)["error"]
    assert "rate" in error["message"].lower()


async def test_endpoint_401_is_http_502_without_the_key(
    provider: str, upstream: FakeUpstream
) -> None:
    reply = await endpoint(provider, upstream).handle("POST", body("[fault:401]"), JSON)
    assert reply.status == 502
    assert KEYS[provider] not in reply.body.decode()
    assert KEYS[provider][8:] not in reply.body.decode()


@pytest.mark.parametrize(("fault", "status"), [("500", 502), ("bad_model", 502)])
async def test_endpoint_other_upstream_failures(
    provider: str, upstream: FakeUpstream, fault: str, status: int
) -> None:
    reply = await endpoint(provider, upstream).handle("POST", body(f"[fault:{fault}]"), JSON)
    assert reply.status == status
    assert json.loads(reply.body)["error"]["message"]


async def test_endpoint_error_mid_stream(provider: str, upstream: FakeUpstream) -> None:
    reply = await endpoint(provider, upstream).handle("POST", body("[fault:error_mid]"), JSON)
    assert reply.status == 200
    got = [payload for _, payload in await read(reply)]
    assert [e["type"] for e in got] == ["text", "text", "error"]


async def test_endpoint_hang_then_close_cancels_upstream(
    provider: str, upstream: FakeUpstream
) -> None:
    ep = endpoint(provider, upstream, heartbeat=0.05)
    reply = await ep.handle("POST", body("[fault:hang]"), JSON)
    assert reply.status == 200
    assert reply.stream is not None
    stream: Any = aiter(reply.stream)
    assert await asyncio.wait_for(stream.__anext__(), 5) == b": ping\n\n"
    assert await asyncio.to_thread(upstream.wait_requests, 1, 10)  # the call is under way
    await asyncio.sleep(0.1)  # the fake has answered its first chunk and now hangs
    assert upstream.cancelled == 0
    await stream.aclose()  # the browser aborted
    assert await upstream.wait_cancelled_async(1, 1.0), "upstream call cancelled within 1 s"


async def test_endpoint_missing_key_is_a_json_error(monkeypatch: pytest.MonkeyPatch) -> None:
    reply = await ChatEndpoint(provider="anthropic", heartbeat=None).handle(
        "POST", body("hi"), JSON
    )
    assert reply.status >= 500
    assert "ANTHROPIC_API_KEY" in json.loads(reply.body)["error"]["message"]
