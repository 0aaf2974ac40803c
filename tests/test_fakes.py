"""Tests for the fake upstreams, driven by the real openai / anthropic SDKs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.fakes.upstreams import FakeUpstream, parse_directives

pytestmark = pytest.mark.timeout(60)

OPENAI_KEY = "sk-test-secret-123"
ANTHROPIC_KEY = "sk-ant-test-secret-456"
STEP = 10.0  # upper bound for any single awaited step


@pytest.fixture
def oai_up() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as up:
        yield up
        assert up.internal_errors == []


@pytest.fixture
def ant_up() -> Iterator[FakeUpstream]:
    with FakeUpstream("anthropic") as up:
        yield up
        assert up.internal_errors == []


@pytest.fixture
async def oai(oai_up: FakeUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=oai_up.base_url, api_key=OPENAI_KEY, max_retries=0)
    yield client
    await client.close()


@pytest.fixture
async def ant(ant_up: FakeUpstream) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(
        base_url=ant_up.base_url, api_key=ANTHROPIC_KEY, max_retries=0
    )
    yield client
    await client.close()


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


async def oai_tokens(client: openai.AsyncOpenAI, text: str, **kw: Any) -> list[str]:
    async def run() -> list[str]:
        out: list[str] = []
        kw.setdefault("model", "gpt-4o-mini")
        stream = await client.chat.completions.create(messages=user(text), stream=True, **kw)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                out.append(chunk.choices[0].delta.content)
        return out

    return await asyncio.wait_for(run(), STEP)


async def ant_tokens(client: anthropic.AsyncAnthropic, text: str, **kw: Any) -> list[str]:
    async def run() -> list[str]:
        out: list[str] = []
        kw.setdefault("model", "claude-fake-1")
        kw.setdefault("max_tokens", 256)
        stream = await client.messages.create(messages=user(text), stream=True, **kw)
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                out.append(event.delta.text)
        return out

    return await asyncio.wait_for(run(), STEP)


# --------------------------------------------------------------------------- directives


def test_parse_directives() -> None:
    d = parse_directives("hello [fault:slow] [count:3] [delay:0.25]")
    assert (d.fault, d.count, d.delay) == ("slow", 3, 0.25)
    assert d.token_list(["x"]) == ["t0 ", "t1 ", "t2 "]
    d = parse_directives(r"[tokens:a\nb|😀|c\|d|]")
    assert d.tokens == ["a\nb", "😀", "c|d", ""]
    assert parse_directives("", "fault-401").fault == "401"
    assert parse_directives("", "count-2").count == 2
    assert parse_directives("", "gpt-[fault:hang]").fault == "hang"
    assert parse_directives("[fault:429]", "fault-401").fault == "429"  # text wins
    assert parse_directives("plain text", "gpt-4o").token_list(["A"]) == ["A"]
    assert parse_directives("[fault:slow]").token_delay() == pytest.approx(0.05)


# --------------------------------------------------------------------------- OpenAI


@pytest.mark.asyncio
async def test_openai_default_stream(oai: openai.AsyncOpenAI, oai_up: FakeUpstream) -> None:
    assert await oai_tokens(oai, "hi") == ["Hello", ",", " world", "!"]
    assert oai_up.wait_completed(1, timeout=2)
    assert oai_up.cancelled == 0


@pytest.mark.asyncio
async def test_openai_default_tokens_override(
    oai: openai.AsyncOpenAI, oai_up: FakeUpstream
) -> None:
    oai_up.default_tokens = ["x", "y"]
    assert await oai_tokens(oai, "hi") == ["x", "y"]


@pytest.mark.asyncio
async def test_openai_count_stream(oai: openai.AsyncOpenAI) -> None:
    assert await oai_tokens(oai, "go [count:5]") == ["t0 ", "t1 ", "t2 ", "t3 ", "t4 "]


@pytest.mark.asyncio
async def test_openai_tokens_unicode_and_newline(oai: openai.AsyncOpenAI) -> None:
    toks = await oai_tokens(oai, r"[tokens:Hé|😀 |line1\nline2| ✓]")
    assert toks == ["Hé", "😀 ", "line1\nline2", " ✓"]


@pytest.mark.asyncio
async def test_openai_directive_in_model_and_content_parts(oai: openai.AsyncOpenAI) -> None:
    assert await oai_tokens(oai, "hi", model="count-2") == ["t0 ", "t1 "]
    stream = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "user", "content": "[count:9]"},  # not the last user message
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "[tokens:p|q]"}]},
        ],
        stream=True,
    )
    out = [c.choices[0].delta.content async for c in stream if c.choices]
    assert "".join(x or "" for x in out) == "pq"


@pytest.mark.asyncio
async def test_openai_chunk_shape_and_usage(oai: openai.AsyncOpenAI) -> None:
    stream = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=user("[count:2]"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [c async for c in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert all(c.object == "chat.completion.chunk" and c.id.startswith("chatcmpl-") for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2
    assert all(c.usage is None for c in chunks[:-1])


@pytest.mark.asyncio
async def test_openai_raw_wire_format(oai_up: FakeUpstream) -> None:
    body = {"model": "gpt-4o-mini", "messages": user("[count:2]"), "stream": True}
    async with (
        httpx.AsyncClient(timeout=STEP) as client,
        client.stream("POST", f"{oai_up.base_url}/chat/completions", json=body) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = (await resp.aread()).decode()
    events = [e for e in raw.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    first = json.loads(events[0][len("data: ") :])
    assert first["object"] == "chat.completion.chunk"
    assert first["system_fingerprint"] is None
    assert first["choices"][0]["logprobs"] is None
    assert first["choices"][0]["finish_reason"] is None
    final = json.loads(events[-2][len("data: ") :])
    assert final["choices"][0]["delta"] == {}
    assert final["choices"][0]["finish_reason"] == "stop"


@pytest.mark.asyncio
async def test_openai_non_streaming(oai: openai.AsyncOpenAI, oai_up: FakeUpstream) -> None:
    resp = await oai.chat.completions.create(model="gpt-4o-mini", messages=user("[count:3]"))
    assert resp.choices[0].message.content == "t0 t1 t2 "
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.completion_tokens == 3
    assert oai_up.completed == 0  # only streams count


@pytest.mark.asyncio
async def test_openai_401_echoes_key(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        await oai_tokens(oai, "[fault:401]")
    assert info.value.status_code == 401
    assert OPENAI_KEY in str(info.value)
    assert info.value.code == "invalid_api_key"
    body = info.value.body
    assert isinstance(body, dict) and OPENAI_KEY in body["message"]


@pytest.mark.asyncio
async def test_openai_401_from_model_name(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.AuthenticationError):
        await oai_tokens(oai, "hi", model="fault-401")


@pytest.mark.asyncio
async def test_openai_429_retry_after(oai: openai.AsyncOpenAI) -> None:
    for _ in range(2):  # deterministic: always 429
        with pytest.raises(openai.RateLimitError) as info:
            await oai_tokens(oai, "[fault:429]")
        assert info.value.response.headers["retry-after"] == "7"
        assert info.value.code == "rate_limit_exceeded"


@pytest.mark.asyncio
async def test_openai_500_and_bad_model(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info500:
        await oai_tokens(oai, "[fault:500]")
    assert info500.value.type == "server_error"
    with pytest.raises(openai.NotFoundError) as info404:
        await oai_tokens(oai, "[fault:bad_model]", model="gpt-nope")
    assert info404.value.code == "model_not_found"
    assert "gpt-nope" in str(info404.value)


@pytest.mark.asyncio
async def test_openai_error_mid(oai: openai.AsyncOpenAI, oai_up: FakeUpstream) -> None:
    got: list[str] = []
    stream = await oai.chat.completions.create(
        model="gpt-4o-mini", messages=user("[fault:error_mid] [count:6]"), stream=True
    )
    with pytest.raises(openai.APIError) as info:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                got.append(chunk.choices[0].delta.content)
    assert got == ["t0 ", "t1 "]
    assert "server had an error" in info.value.message
    assert oai_up.wait_for(lambda: oai_up.errored == 1, timeout=2)
    assert oai_up.completed == 0


@pytest.mark.asyncio
async def test_openai_hang_then_client_close(oai: openai.AsyncOpenAI, oai_up: FakeUpstream) -> None:
    stream = await asyncio.wait_for(
        oai.chat.completions.create(
            model="gpt-4o-mini", messages=user("[fault:hang]"), stream=True
        ),
        STEP,
    )
    first = await asyncio.wait_for(stream.__anext__(), STEP)
    assert first.choices[0].delta.role == "assistant"
    assert first.choices[0].delta.content == ""
    await asyncio.sleep(0.3)  # the fake holds the stream open on its own
    assert oai_up.cancelled == 0 and oai_up.completed == 0
    t0 = time.monotonic()
    await stream.close()
    assert await oai_up.wait_cancelled_async(1, timeout=1.0)
    assert time.monotonic() - t0 < 1.0
    assert oai_up.completed == 0


@pytest.mark.asyncio
async def test_openai_disconnect_mid_stream(oai: openai.AsyncOpenAI, oai_up: FakeUpstream) -> None:
    stream = await oai.chat.completions.create(
        model="gpt-4o-mini", messages=user("[fault:slow] [count:200]"), stream=True
    )
    seen = 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            seen += 1
            if seen == 2:
                break
    await stream.close()
    assert oai_up.wait_cancelled(1, timeout=1.0)
    assert oai_up.completed == 0


@pytest.mark.asyncio
async def test_openai_delay(oai: openai.AsyncOpenAI) -> None:
    t0 = time.monotonic()
    assert await oai_tokens(oai, "[delay:0.05] [count:4]") == ["t0 ", "t1 ", "t2 ", "t3 "]
    assert time.monotonic() - t0 >= 0.2


@pytest.mark.asyncio
async def test_openai_recorded_request(oai: openai.AsyncOpenAI, oai_up: FakeUpstream) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello there"},
    ]
    stream = await oai.chat.completions.create(
        model="gpt-4o-mini", messages=messages, max_tokens=42, stream=True
    )
    async for _ in stream:
        pass
    (req,) = oai_up.requests
    assert req.method == "POST"
    assert req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert req.api_key == OPENAI_KEY
    assert req.json["model"] == "gpt-4o-mini"
    assert req.json["messages"] == messages
    assert req.json["max_tokens"] == 42
    assert req.json["stream"] is True
    oai_up.reset()
    assert oai_up.requests == [] and oai_up.completed == 0


@pytest.mark.asyncio
async def test_openai_unknown_path_404(oai_up: FakeUpstream) -> None:
    async with httpx.AsyncClient(timeout=STEP) as client:
        resp = await client.post(f"{oai_up.base_url}/embeddings", json={"input": "x"})
    assert resp.status_code == 404
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == "invalid_request_error"


def test_openai_sync_client(oai_up: FakeUpstream) -> None:
    with openai.OpenAI(base_url=oai_up.base_url, api_key=OPENAI_KEY, max_retries=0) as client:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=user("[count:3]"), stream=True, timeout=STEP
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "t0 t1 t2 "
    assert oai_up.wait_completed(1, timeout=2)


# --------------------------------------------------------------------------- Anthropic


@pytest.mark.asyncio
async def test_anthropic_default_stream(
    ant: anthropic.AsyncAnthropic, ant_up: FakeUpstream
) -> None:
    assert await ant_tokens(ant, "hi") == ["Hello", ",", " world", "!"]
    assert ant_up.wait_completed(1, timeout=2)


@pytest.mark.asyncio
async def test_anthropic_stream_helper(ant: anthropic.AsyncAnthropic) -> None:
    async with ant.messages.stream(
        model="claude-fake-1", max_tokens=64, messages=user("[count:3]")
    ) as stream:
        text = await asyncio.wait_for(stream.get_final_text(), STEP)
        final = await stream.get_final_message()
    assert text == "t0 t1 t2 "
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3


@pytest.mark.asyncio
async def test_anthropic_count_and_tokens(ant: anthropic.AsyncAnthropic) -> None:
    assert await ant_tokens(ant, "[count:3]") == ["t0 ", "t1 ", "t2 "]
    toks = await ant_tokens(ant, r"[tokens:Hé|🦀 |a\nb]")
    assert toks == ["Hé", "🦀 ", "a\nb"]
    assert await ant_tokens(ant, "x", model="count-1") == ["t0 "]


@pytest.mark.asyncio
async def test_anthropic_raw_wire_format(ant_up: FakeUpstream) -> None:
    body = {
        "model": "claude-fake-1",
        "max_tokens": 16,
        "messages": user("[count:2]"),
        "stream": True,
    }
    async with (
        httpx.AsyncClient(timeout=STEP) as client,
        client.stream("POST", f"{ant_up.base_url}/v1/messages", json=body) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = (await resp.aread()).decode()
    frames = [f.split("\n") for f in raw.split("\n\n") if f]
    names = [f[0].removeprefix("event: ") for f in frames]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    datas = [json.loads(f[1].removeprefix("data: ")) for f in frames]
    assert [d["type"] for d in datas] == names
    start = datas[0]["message"]
    assert start["role"] == "assistant" and start["content"] == []
    assert start["usage"]["input_tokens"] >= 1
    assert datas[3]["delta"] == {"type": "text_delta", "text": "t0 "}
    assert datas[6]["delta"]["stop_reason"] == "end_turn"
    assert datas[6]["usage"]["output_tokens"] == 2


@pytest.mark.asyncio
async def test_anthropic_non_streaming(ant: anthropic.AsyncAnthropic) -> None:
    msg = await ant.messages.create(
        model="claude-fake-1", max_tokens=64, messages=user("[tokens:a|b]")
    )
    assert msg.content[0].type == "text" and msg.content[0].text == "ab"
    assert msg.stop_reason == "end_turn"


@pytest.mark.asyncio
async def test_anthropic_401_echoes_key(ant: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.AuthenticationError) as info:
        await ant_tokens(ant, "[fault:401]")
    assert ANTHROPIC_KEY in str(info.value)
    body = info.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"]["type"] == "authentication_error"
    assert ANTHROPIC_KEY in body["error"]["message"]


@pytest.mark.asyncio
async def test_anthropic_401_reads_x_api_key(ant_up: FakeUpstream) -> None:
    body = {"model": "fault-401", "max_tokens": 5, "messages": user("x")}
    async with httpx.AsyncClient(timeout=STEP) as client:
        resp = await client.post(
            f"{ant_up.base_url}/v1/messages", json=body, headers={"x-api-key": "sk-ant-raw-789"}
        )
    assert resp.status_code == 401
    assert "sk-ant-raw-789" in resp.json()["error"]["message"]


@pytest.mark.asyncio
async def test_anthropic_429_500_bad_model(ant: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as info429:
        await ant_tokens(ant, "[fault:429]")
    assert info429.value.response.headers["retry-after"] == "7"
    with pytest.raises(anthropic.InternalServerError):
        await ant_tokens(ant, "[fault:500]")
    with pytest.raises(anthropic.NotFoundError) as info404:
        await ant_tokens(ant, "[fault:bad_model]", model="claude-nope")
    body = info404.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "not_found_error"


@pytest.mark.asyncio
async def test_anthropic_error_mid(ant: anthropic.AsyncAnthropic, ant_up: FakeUpstream) -> None:
    got: list[str] = []
    stream = await ant.messages.create(
        model="claude-fake-1",
        max_tokens=64,
        messages=user("[fault:error_mid]"),
        stream=True,
    )
    with pytest.raises(anthropic.APIStatusError) as info:
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                got.append(event.delta.text)
    assert got == ["Hello", ","]
    body = info.value.body
    assert body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    assert ant_up.wait_for(lambda: ant_up.errored == 1, timeout=2)


@pytest.mark.asyncio
async def test_anthropic_hang_then_client_close(
    ant: anthropic.AsyncAnthropic, ant_up: FakeUpstream
) -> None:
    stream = await asyncio.wait_for(
        ant.messages.create(
            model="claude-fake-1", max_tokens=64, messages=user("[fault:hang]"), stream=True
        ),
        STEP,
    )
    first = await asyncio.wait_for(stream.__anext__(), STEP)
    assert first.type == "message_start"
    # Nothing more arrives: a pending read stays pending.
    pending = asyncio.ensure_future(stream.__anext__())
    done, _ = await asyncio.wait({pending}, timeout=0.3)
    assert not done
    assert ant_up.cancelled == 0
    # Abandoning the read makes the SDK close the response (and the connection).
    t0 = time.monotonic()
    pending.cancel()
    with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
        await pending
    await stream.close()
    assert await ant_up.wait_cancelled_async(1, timeout=1.0)
    assert time.monotonic() - t0 < 1.0
    assert ant_up.completed == 0


@pytest.mark.asyncio
async def test_anthropic_recorded_request(
    ant: anthropic.AsyncAnthropic, ant_up: FakeUpstream
) -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "hey"}]}]
    stream = await ant.messages.create(
        model="claude-fake-1",
        max_tokens=99,
        system="you are terse",
        messages=messages,
        stream=True,
    )
    async for _ in stream:
        pass
    (req,) = ant_up.requests
    assert req.path == "/v1/messages"
    assert req.api_key == ANTHROPIC_KEY
    assert "anthropic-version" in req.headers
    assert req.json["model"] == "claude-fake-1"
    assert req.json["max_tokens"] == 99
    assert req.json["system"] == "you are terse"
    assert req.json["messages"] == messages


# --------------------------------------------------------------------------- server mechanics


def _raw_request(port: int, body: dict[str, Any], path: str = "/v1/chat/completions") -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


def _recv_until(sock: socket.socket, marker: bytes) -> bytes:
    buf = b""
    while marker not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def test_keep_alive_two_requests_one_connection(oai_up: FakeUpstream) -> None:
    port = int(oai_up.base_url.rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=STEP) as sock:
        for n in (2, 3):
            body = {"model": "m", "messages": user(f"[count:{n}]"), "stream": True}
            sock.sendall(_raw_request(port, body))
            raw = _recv_until(sock, b"0\r\n\r\n")
            assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"transfer-encoding: chunked" in raw.lower()
            assert f't{n - 1} "'.encode() in raw
            assert raw.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")
    assert oai_up.wait_completed(2, timeout=2)


def test_stop_does_not_block_on_hanging_stream() -> None:
    up = FakeUpstream("anthropic").start()
    port = int(up.base_url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=STEP)
    try:
        body = {"model": "m", "max_tokens": 5, "messages": user("[fault:hang]"), "stream": True}
        sock.sendall(_raw_request(port, body, "/v1/messages"))
        assert b"event: message_start" in _recv_until(sock, b"event: message_start")
        t0 = time.monotonic()
        up.stop()
        assert time.monotonic() - t0 < 2.0
        sock.settimeout(2.0)
        assert _recv_until(sock, b"\x00never") == b""  # server closed the connection
    finally:
        sock.close()
        up.stop()
    assert up.internal_errors == []


def test_wait_cancelled_times_out(oai_up: FakeUpstream) -> None:
    t0 = time.monotonic()
    assert oai_up.wait_cancelled(1, timeout=0.1) is False
    assert time.monotonic() - t0 < 1.0


def test_base_url_shapes() -> None:
    with FakeUpstream("openai") as o, FakeUpstream("anthropic") as a:
        assert o.base_url.startswith("http://127.0.0.1:") and o.base_url.endswith("/v1")
        assert a.base_url.startswith("http://127.0.0.1:") and not a.base_url.endswith("/v1")
    with pytest.raises(RuntimeError):
        _ = o.base_url


def test_reachable_from_another_process(oai_up: FakeUpstream) -> None:
    code = textwrap.dedent(
        """
        import sys, openai
        client = openai.OpenAI(base_url=sys.argv[1], api_key="sk-sub", max_retries=0)
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "[tokens:from|sub]"}],
            stream=True,
        )
        print("".join(c.choices[0].delta.content or "" for c in stream if c.choices))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [sys.executable, "-c", code, oai_up.base_url],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "fromsub"
    assert oai_up.requests[-1].api_key == "sk-sub"


# --------------------------------------------------------------------------- reasoning, tools

OAI_TOOLS: Any = [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}]
ANT_TOOLS: Any = [{"name": "w", "input_schema": {"type": "object"}}]
TOOL_PROMPT = '[think:Let me see.][tool:w:{"city":"Paris"}][tool:w:{"a":[1,2]}] go'


def test_parse_tool_think_finish_directives() -> None:
    d = parse_directives(r'[tool:x:{"a":[1,"]"]}][tool:y:{bad][think:a \] b][finish:length]')
    assert d.tools == [("x", '{"a":[1,"]"]}'), ("y", "{bad")]
    assert d.think == "a ] b" and d.finish == "length"


async def test_openai_reasoning_and_parallel_tool_calls(oai: openai.AsyncOpenAI) -> None:
    response = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": TOOL_PROMPT}],
        tools=OAI_TOOLS,
        stream=True,
        stream_options={"include_usage": True},
    )
    reasoning, args, ids, names, finishes, usage = "", ["", ""], {}, {}, [], None
    async for chunk in response:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            assert not choice.delta.content
            reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
            for call in choice.delta.tool_calls or []:
                if call.id:
                    ids[call.index] = call.id
                    names[call.index] = call.function and call.function.name
                args[call.index] += (call.function and call.function.arguments) or ""
            finishes.append(choice.finish_reason)
    assert reasoning == "Let me see."
    assert [json.loads(a) for a in args] == [{"city": "Paris"}, {"a": [1, 2]}]
    assert names == {0: "w", 1: "w"} and all(i.startswith("call_") for i in ids.values())
    assert [f for f in finishes if f] == ["tool_calls"]
    assert usage is not None and usage.completion_tokens


async def test_openai_answers_tool_results_and_length(
    oai: openai.AsyncOpenAI, oai_up: FakeUpstream
) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
    messages: Any = [
        {"role": "user", "content": TOOL_PROMPT + " [finish:length]"},
        {"role": "assistant", "content": None, "tool_calls": [call, {**call, "id": "call_2"}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "rain"},
    ]
    response = await oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        tools=OAI_TOOLS,
        stream=True,
    )
    text, finish = "", None
    async for chunk in response:
        text += chunk.choices[0].delta.content or ""
        finish = chunk.choices[0].finish_reason or finish
    assert (text, finish) == ("Results: sunny | rain", "length")
    assert oai_up.requests[-1].json["messages"][-1]["tool_call_id"] == "call_2"


async def test_openai_tool_directives_need_tools_in_the_request(oai: openai.AsyncOpenAI) -> None:
    assert await collect_openai(oai, TOOL_PROMPT) == "Hello, world!"


async def collect_openai(client: openai.AsyncOpenAI, text: str) -> str:
    response = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}], stream=True
    )
    return "".join([c.choices[0].delta.content or "" async for c in response if c.choices])


async def test_anthropic_thinking_and_tool_use(ant: anthropic.AsyncAnthropic) -> None:
    async with ant.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=100,
        messages=[{"role": "user", "content": TOOL_PROMPT}],
        tools=ANT_TOOLS,
    ) as stream:
        kinds = [event.type async for event in stream]
        message = await stream.get_final_message()
    assert kinds.count("thinking") == 3 and kinds.count("signature") == 1
    assert kinds.count("text") == 0 and kinds.count("input_json") > 4
    thinking, first, second = message.content
    assert thinking.type == "thinking" and thinking.thinking == "Let me see."
    assert thinking.signature
    assert first.type == "tool_use" and first.id.startswith("toolu_") and first.name == "w"
    assert first.input == {"city": "Paris"}
    assert second.type == "tool_use" and second.input == {"a": [1, 2]}
    assert message.stop_reason == "tool_use" and message.usage.output_tokens


async def test_anthropic_answers_tool_results_and_max_tokens(
    ant: anthropic.AsyncAnthropic, ant_up: FakeUpstream
) -> None:
    use = {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}
    messages: Any = [
        {"role": "user", "content": TOOL_PROMPT + " [finish:length]"},
        {"role": "assistant", "content": [use, {**use, "id": "toolu_2"}]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [{"type": "text", "text": "boom"}],
                    "is_error": True,
                },
            ],
        },
    ]
    message = await ant.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=100,
        messages=messages,
        tools=ANT_TOOLS,
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Results: sunny | boom"
    assert message.stop_reason == "max_tokens"
    async with ant.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=100,
        messages=messages,
        tools=ANT_TOOLS,
    ) as stream:
        streamed = await stream.get_final_message()
    assert streamed.content[-1].text == "Results: sunny | boom"  # type: ignore[union-attr]
    assert streamed.stop_reason == "max_tokens"
    assert ant_up.requests[-1].json["messages"][-1]["content"][1]["is_error"] is True
