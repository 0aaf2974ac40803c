"""Issue 10's app-facing options on every adapter, passed per test: ``handler(chat)``,
``configure``, ``chat.option``, refusals, ``on_finish`` with usage, SDK errors raised in
handlers, and the ``rais_response`` helper that takes the same options."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import openai
import pytest

import rais
from rais import Chat, Limits, RequestError, StreamResult
from tests.fakes.upstreams import RETRY_AFTER_SECONDS, FakeUpstream
from tests.inprocess.clients import CHAT_PATH, HELPER_PATH, Client
from tests.inprocess.conftest import API_KEY, MakeClient
from tests.inprocess.helpers import Finished, ask, sent_with, unique, wait_until

pytestmark = pytest.mark.timeout(60)

VIEWS = [pytest.param(CHAT_PATH, id="one-liner"), pytest.param(HELPER_PATH, id="rais_response")]


# ---------------------------------------------------------------- the handler sees the request


@pytest.mark.parametrize("path", VIEWS)
async def test_handler_sees_extra_fields_headers_and_the_framework_request(
    make_client: MakeClient, client_class: type[Client], path: str
) -> None:
    seen: list[Chat] = []

    async def handler(chat: Chat) -> AsyncIterator[str]:
        seen.append(chat)
        yield f"flavour={chat.extra['flavour']} "
        yield f"user={chat.headers.get('x-user')}"

    client = await make_client(handler=handler)
    received = await client.post(
        path, json=ask("hi", flavour="mint", count=3), headers={"X-User": "ada"}
    )
    assert received.status == 200, received.body
    assert received.types == ["text", "text", "done"]
    assert received.text == "flavour=mint user=ada"
    (chat,) = seen
    assert chat.messages == [{"role": "user", "content": "hi"}]
    assert chat.extra == {"flavour": "mint", "count": 3}
    assert isinstance(chat.request, client_class.request_types()), type(chat.request)
    assert chat.headers.get("X-USER") == "ada"  # case-insensitive, as the framework's are


async def test_handler_of_messages_still_gets_the_messages(make_client: MakeClient) -> None:
    async def handler(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        yield f"{len(messages)} message(s): {messages[-1]['content']}"

    client = await make_client(handler=handler)
    received = await client.post(json=ask("old shape", extra_field=1))
    assert received.text == "1 message(s): old shape"
    assert received.types[-1] == "done"


# ---------------------------------------------------------------- configure


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("path", VIEWS)
async def test_configure_overrides_reach_the_provider(
    make_client: MakeClient, upstream: FakeUpstream, path: str, kind: str
) -> None:
    def overrides(chat: Chat) -> dict[str, Any]:
        return {
            "model": f"gpt-test-{chat.extra['tier']}",
            "system": f"Answer as {chat.headers.get('x-persona')}.",
            "temperature": 0.25,
        }

    async def configure_async(chat: Chat) -> dict[str, Any]:
        return overrides(chat)

    configure = overrides if kind == "sync" else configure_async
    client = await make_client(configure=configure)
    marker = unique("[count:2]")
    received = await client.post(
        path, json=ask(marker, tier="pro"), headers={"X-Persona": "a pirate"}
    )
    assert received.status == 200, received.body
    assert received.text == "t0 t1 "
    sent = sent_with(upstream, marker).json
    assert sent["model"] == "gpt-test-pro"
    assert sent["temperature"] == 0.25
    assert sent["messages"][0] == {"role": "system", "content": "Answer as a pirate."}


async def test_chat_stream_in_a_handler_uses_configure_and_its_own_overrides(
    make_client: MakeClient, upstream: FakeUpstream
) -> None:
    def configure(chat: Chat) -> dict[str, Any]:
        return {"model": "gpt-from-configure", "temperature": 0.5}

    def handler(chat: Chat) -> AsyncIterator[Any]:
        assert chat.settings["model"] == "gpt-from-configure"
        return chat.stream(system="From the handler.", top_p=0.9)

    finished = Finished()
    client = await make_client(handler=handler, configure=configure, on_finish=finished)
    marker = unique("[count:3]")
    received = await client.post(json=ask(marker, tag="chat-stream"))
    assert received.text == "t0 t1 t2 "
    sent = sent_with(upstream, marker).json
    assert sent["model"] == "gpt-from-configure"
    assert (sent["temperature"], sent["top_p"]) == (0.5, 0.9)
    assert sent["messages"][0] == {"role": "system", "content": "From the handler."}
    result = await finished.one("chat-stream")
    assert result.usage is not None and result.usage.completion_tokens == 3
    assert result.model == "gpt-from-configure"


def choose_model(chat: Chat) -> dict[str, Any]:
    model = chat.option("model", allowed=["gpt-4o-mini", "gpt-4o"], default="gpt-4o-mini")
    temperature = chat.option("temperature", between=(0.0, 1.0), default=0.7)
    return {"model": model, "temperature": temperature}


@pytest.mark.parametrize("path", VIEWS)
@pytest.mark.parametrize(
    "extra", [{"model": "o1-pro-expensive"}, {"temperature": 3}, {"model": ["gpt-4o"]}]
)
async def test_a_disallowed_client_value_is_422_before_streaming(
    make_client: MakeClient, upstream: FakeUpstream, path: str, extra: dict[str, Any]
) -> None:
    client = await make_client(configure=choose_model)
    before = len(upstream.requests)
    received = await client.post(path, json=ask("[count:1]", **extra))
    assert received.status == 422, received.body
    assert received.headers["content-type"].startswith("application/json")
    error = received.json()["error"]
    assert error["type"] == "not_allowed"
    assert next(iter(extra)) in error["message"]
    assert len(upstream.requests) == before


async def test_an_allowed_client_value_is_used(
    make_client: MakeClient, upstream: FakeUpstream
) -> None:
    client = await make_client(configure=choose_model)
    marker = unique("[count:1]")
    received = await client.post(json=ask(marker, model="gpt-4o", temperature=0.1))
    assert received.status == 200, received.body
    sent = sent_with(upstream, marker).json
    assert (sent["model"], sent["temperature"]) == ("gpt-4o", 0.1)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("path", VIEWS)
async def test_configure_refusal_is_its_status_with_headers_and_no_on_finish(
    make_client: MakeClient, upstream: FakeUpstream, path: str, kind: str
) -> None:
    def refuse(chat: Chat) -> None:
        if chat.extra.get("tag") == "refused":
            raise RequestError(
                429, "Two streams at a time.", kind="rate_limited", headers={"Retry-After": "3"}
            )

    async def refuse_async(chat: Chat) -> None:
        refuse(chat)

    finished = Finished()
    client = await make_client(
        configure=refuse if kind == "sync" else refuse_async, on_finish=finished
    )
    before = len(upstream.requests)
    received = await client.post(path, json=ask("[count:1]", tag="refused"))
    assert received.status == 429, received.body
    assert received.headers["retry-after"] == "3"
    assert received.json() == {
        "error": {"type": "rate_limited", "message": "Two streams at a time."}
    }
    assert len(upstream.requests) == before
    # on_finish is for streams that passed configure: a later one is seen, this one never.
    assert (await client.post(path, json=ask("[count:1]", tag="allowed"))).status == 200
    await finished.one("allowed")
    assert finished.tagged("refused") == []


async def test_configure_that_crashes_is_500_json_without_details(make_client: MakeClient) -> None:
    def configure(chat: Chat) -> None:
        raise KeyError("database password=hunter22 missing")

    client = await make_client(configure=configure)
    received = await client.post(json=ask("[count:1]"))
    assert received.status == 500, received.body
    assert received.json()["error"]["type"] == "internal_error"
    assert b"hunter22" not in received.body


# ---------------------------------------------------------------- on_finish


@pytest.mark.parametrize("path", VIEWS)
async def test_on_finish_done_has_text_chunks_and_usage_from_the_upstream(
    make_client: MakeClient, upstream: FakeUpstream, path: str
) -> None:
    finished = Finished()

    def configure(chat: Chat) -> None:
        chat.state["user"] = chat.headers.get("x-user")

    client = await make_client(on_finish=finished, configure=configure)
    marker = unique("[count:5]")
    received = await client.post(path, json=ask(marker, tag="done"), headers={"X-User": "42"})
    assert received.types == ["text"] * 5 + ["done"]
    result = await finished.exactly_once(client, "done", path)
    assert result.outcome == "done"
    assert result.text == received.text == "t0 t1 t2 t3 t4 "
    assert (result.chunks, result.status, result.error) == (5, 200, None)
    assert result.model == "gpt-4o-mini"
    assert result.ttft is not None and 0 <= result.ttft <= result.duration
    assert result.chat is not None and result.chat.state == {"user": "42"}
    # The fake sent usage in OpenAI's wire format because the provider asked for it.
    assert sent_with(upstream, marker).json["stream_options"] == {"include_usage": True}
    usage = result.usage
    assert usage is not None
    assert usage.completion_tokens == 5
    assert usage.prompt_tokens is not None and usage.prompt_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + 5


async def test_usage_off_asks_for_none_and_reports_none(
    make_client: MakeClient, upstream: FakeUpstream
) -> None:
    finished = Finished()
    client = await make_client(on_finish=finished, usage=False)
    marker = unique("[count:2]")
    received = await client.post(json=ask(marker, tag="no-usage"))
    assert received.text == "t0 t1 "
    assert "stream_options" not in sent_with(upstream, marker).json
    result = await finished.one("no-usage")
    assert (result.outcome, result.usage) == ("done", None)


@pytest.mark.parametrize("path", VIEWS)
async def test_on_finish_error_when_the_handler_fails_mid_stream(
    make_client: MakeClient, path: str
) -> None:
    async def handler(chat: Chat) -> AsyncIterator[str]:
        yield "partial "
        yield "answer"
        raise RuntimeError("lost the connection to postgres://app:hunter22@db/app")

    finished = Finished()
    client = await make_client(handler=handler, on_finish=finished)
    received = await client.post(path, json=ask("hi", tag="error"))
    assert received.status == 200
    assert received.types == ["text", "text", "error"]
    message = received.events[-1]["error"]
    assert message and "hunter22" not in message and "Traceback" not in message
    result = await finished.exactly_once(client, "error", path)
    assert result.outcome == "error"
    assert result.error == message
    assert (result.text, result.chunks, result.status) == ("partial answer", 2, 200)


async def test_on_finish_error_when_the_upstream_fails_mid_stream(make_client: MakeClient) -> None:
    finished = Finished()
    client = await make_client(on_finish=finished)
    received = await client.post(json=ask("[fault:error_mid]", tag="upstream-error"))
    assert received.types == ["text", "text", "error"]
    result = await finished.one("upstream-error")
    assert (result.outcome, result.chunks) == ("error", 2)
    assert result.error == received.events[-1]["error"]
    assert API_KEY not in (result.error or "")


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_on_finish_that_raises_breaks_neither_the_stream_nor_the_app(
    make_client: MakeClient, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def explode(result: StreamResult) -> None:
        calls.append(result.text)
        raise RuntimeError("the turns table is gone")

    async def explode_async(result: StreamResult) -> None:
        explode(result)

    client = await make_client(on_finish=explode if kind == "sync" else explode_async)
    for n in (1, 2):
        received = await client.post(json=ask(f"[count:{n}]"))
        assert received.status == 200, received.body
        assert received.types == ["text"] * n + ["done"]
        await wait_until(lambda n=n: len(calls) == n, f"on_finish call {n}")  # type: ignore[misc]
    assert calls == ["t0 ", "t0 t1 "]
    await wait_until(
        lambda: any("on_finish raised" in r.getMessage() for r in caplog.records),
        "the logged failure",
    )


async def test_access_log_has_the_token_count_and_the_apps_fields(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rais.access")

    def configure(chat: Chat) -> None:
        chat.log["user"] = chat.headers.get("x-user")

    finished = Finished()
    client = await make_client(configure=configure, on_finish=finished)
    received = await client.post(json=ask("[count:4]", tag="logged"), headers={"X-User": "42"})
    assert received.types[-1] == "done"
    await finished.one("logged")
    lines = [r.getMessage() for r in caplog.records if r.name == "rais.access"]
    done = [line for line in lines if line.startswith("stream done") and "user=42" in line]
    assert len(done) == 1, lines
    assert " status=200 chunks=4 tokens=4 " in done[0]


# ---------------------------------------------------------------- SDK errors in handlers


def openai_handler(upstream: FakeUpstream) -> Callable[[Chat], AsyncIterator[str]]:
    """A custom handler calling the real openai SDK itself (against the fake upstream)."""

    async def handler(chat: Chat) -> AsyncIterator[str]:
        sdk = openai.AsyncOpenAI(base_url=upstream.base_url, api_key=API_KEY, max_retries=0)
        try:
            stream = await sdk.chat.completions.create(
                model="gpt-4o-mini", messages=cast("Any", chat.messages), stream=True
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        finally:
            await sdk.close()

    return handler


@pytest.mark.parametrize("path", VIEWS)
async def test_sdk_rate_limit_in_a_handler_is_429_with_retry_after(
    make_client: MakeClient, upstream: FakeUpstream, path: str
) -> None:
    finished = Finished()
    client = await make_client(handler=openai_handler(upstream), on_finish=finished)
    received = await client.post(path, json=ask("[fault:429]", tag="sdk-429"))
    assert received.status == 429, received.body
    assert received.headers["content-type"].startswith("application/json")
    assert received.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert received.json()["error"]["message"]
    result = await finished.one("sdk-429")
    assert (result.outcome, result.status, result.chunks) == ("refused", 429, 0)


async def test_sdk_auth_error_in_a_handler_is_502_without_the_key(
    make_client: MakeClient, upstream: FakeUpstream
) -> None:
    client = await make_client(handler=openai_handler(upstream))
    received = await client.post(json=ask("[fault:401]"))
    assert received.status == 502, received.body
    assert received.json()["error"]["message"]
    assert API_KEY.encode() not in received.body


async def test_sdk_failure_mid_stream_in_a_handler_is_one_safe_error_event(
    make_client: MakeClient, upstream: FakeUpstream
) -> None:
    client = await make_client(handler=openai_handler(upstream))
    received = await client.post(json=ask("[fault:error_mid]"))
    assert received.status == 200
    assert received.types == ["text", "text", "error"]
    message = received.events[-1]["error"]
    assert message != rais._errors.GENERIC_MESSAGE  # it says what kind of failure it was
    assert API_KEY not in message


# ---------------------------------------------------------------- limits and the helper


@pytest.mark.parametrize("path", VIEWS)
async def test_content_length_over_the_limit_is_413_json(
    make_client: MakeClient, upstream: FakeUpstream, path: str
) -> None:
    client = await make_client(limits=Limits(max_body_bytes=200))
    before = len(upstream.requests)
    received = await client.post(path, json=ask("x" * 300))
    assert received.status == 413, received.body
    assert received.headers["content-type"].startswith("application/json")
    assert received.json()["error"]["message"]
    assert len(upstream.requests) == before
    small = await client.post(path, json=ask("[count:1]"))
    assert small.status == 200, small.body


# ---------------------------------------------------------------- resumable streams


def user_of(chat: Chat) -> str | None:
    user = chat.headers.get("x-user")
    return None if user is None else str(user)


@pytest.mark.parametrize("path", VIEWS)
async def test_resumable_stream_replays_after_last_event_id_for_its_owner_only(
    make_client: MakeClient, upstream: FakeUpstream, path: str
) -> None:
    finished = Finished()
    client = await make_client(resume=True, owner=user_of, on_finish=finished)
    ada = {"X-User": "ada"}
    first = await client.post(path, json=ask("[count:5]", tag="resumable"), headers=ada)
    assert first.types == ["text"] * 5 + ["done"], first.body
    stream_id = str(first.ids[0]).rpartition(":")[0]
    assert first.ids == [f"{stream_id}:{n}" for n in range(1, 7)]
    result = await finished.exactly_once(client, "resumable", path)
    assert (result.outcome, result.stream_id, result.text) == ("done", stream_id, first.text)

    paid = len(upstream.requests)
    again = await client.post(
        path, json=ask("ignored"), headers={**ada, "Last-Event-ID": str(first.ids[1])}
    )
    assert again.status == 200, again.body
    assert again.text == "t2 t3 t4 "
    assert again.ids == [f"{stream_id}:{n}" for n in range(3, 7)]
    assert again.types[-1] == "done"
    # Someone else holding the id, and ids this server never issued, get 204.
    forged = stream_id[:-1] + ("y" if stream_id.endswith("x") else "x")
    for headers in (
        {"X-User": "eve", "Last-Event-ID": str(first.ids[1])},
        {"Last-Event-ID": str(first.ids[1])},
        {**ada, "Last-Event-ID": f"{forged}:1"},
        {**ada, "Last-Event-ID": "3"},
    ):
        refused = await client.post(path, json=ask("ignored"), headers=headers)
        assert refused.status == 204, (headers, refused.body)
        assert refused.body == b""
    assert len(upstream.requests) == paid  # a reconnect is never a second paid answer
    # on_finish ran once, when generation ended, not once per reader.
    later = await client.post(path, json=ask("[count:1]", tag="after-readers"), headers=ada)
    assert later.status == 200
    await finished.one("after-readers")
    assert len(finished.tagged("resumable")) == 1


@pytest.mark.parametrize("exc", [SystemExit, KeyboardInterrupt])
async def test_a_base_exception_from_the_handler_is_one_safe_error_event(
    make_client: MakeClient, exc: type[BaseException]
) -> None:
    async def handler(chat: Chat) -> AsyncIterator[str]:
        yield "partial"
        if chat.extra.get("tag") == "base-exception":
            raise exc("worker told to exit, token=sk-live-abcdef123456")

    finished = Finished()
    client = await make_client(handler=handler, on_finish=finished)
    received = await client.post(json=ask("hi", tag="base-exception"))
    assert received.status == 200
    assert received.types == ["text", "error"], received.body
    assert b"sk-live-abcdef123456" not in received.body
    result = await finished.one("base-exception")
    assert (result.outcome, result.text) == ("error", "partial")
    # The app still serves the next request.
    after = await client.post(json=ask("hi", tag="next"))
    assert after.types == ["text", "done"], after.body


async def test_a_handler_raising_cancelled_error_itself_gets_one_error_event(
    make_client: MakeClient, client_class: type[Client], request: pytest.FixtureRequest
) -> None:
    """Issue 19.10: not a client or shutdown cancel, so not a silent end."""
    if sys.version_info < (3, 11) and client_class.name not in PUSHED_ON_STARLETTE_ASGI:
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="Python 3.10 has no Task.cancelling(): a CancelledError a handler "
                "raises itself cannot be told from a client that left, and ends the stream "
                "as a cancel (the ASGI writer of Starlette, FastAPI and Django under ASGI "
                "still ends it with the error event)",
            )
        )

    async def handler(chat: Chat) -> AsyncIterator[str]:
        yield "partial"
        if chat.extra.get("tag") == "own-cancel":
            raise asyncio.CancelledError("the handler's own")

    finished = Finished()
    client = await make_client(handler=handler, on_finish=finished)
    received = await client.post(json=ask("hi", tag="own-cancel"))
    assert received.status == 200
    assert received.types == ["text", "error"], received.body
    result = await finished.one("own-cancel")
    assert (result.outcome, result.text) == ("error", "partial")
    after = await client.post(json=ask("hi", tag="after-own-cancel"))
    assert after.types == ["text", "done"], after.body  # the app serves the next request


#: Where a handler's own CancelledError already ends with an error event on Python 3.10.
PUSHED_ON_STARLETTE_ASGI = frozenset({"fastapi", "starlette", "django-asgi"})


async def test_access_log_values_cannot_forge_fields_or_lines(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Tabs, ANSI escapes, NUL, NEL and the Unicode line separators from a client's body are
    escaped in the access line, which stays one line of space-separated fields."""
    caplog.set_level(logging.INFO, logger="rais.access")
    forged = "7\tstatus=500\tuser=admin \x1b[2K\x1b[1A\x0b\x0c\x85\u2028\u2029\x00\u202e"

    def configure(chat: Chat) -> None:
        chat.log["cid"] = chat.extra["cid"]
        chat.log["who\tami"] = "x"

    finished = Finished()
    client = await make_client(configure=configure, on_finish=finished)
    received = await client.post(json=ask("[count:1]", tag="forged", cid=forged))
    assert received.types[-1] == "done"
    await finished.one("forged")
    lines = [r.getMessage() for r in caplog.records if r.name == "rais.access"]
    line = next(line for line in lines if "cid=" in line)
    assert line.isprintable() and "\t" not in line
    fields = line.split(" ")
    assert (
        "cid=7\\tstatus=500\\tuser=admin_\\x1b[2K\\x1b[1A\\x0b\\x0c\\x85\\u2028\\u2029\\x00\\u202e"
        in fields
    )
    assert "who\\tami=x" in fields
    assert sum(field.startswith("status=") for field in fields) == 1


# ---------------------------------------------------------------- server-side history


async def test_configure_may_set_the_messages_sent_to_the_model(
    make_client: MakeClient, upstream: FakeUpstream
) -> None:
    """An app that keeps history on the server prepends it in ``configure``."""
    history = [
        {"role": "user", "content": "earlier question"},
        {"role": "assistant", "content": "earlier answer"},
    ]

    def configure(chat: Chat) -> dict[str, Any]:
        return {"messages": [*history, *chat.messages], "temperature": 0.3}

    client = await make_client(configure=configure)
    marker = unique("[count:2]")
    received = await client.post(json=ask(marker))
    assert received.types == ["text", "text", "done"], received.body
    sent = sent_with(upstream, marker).json
    assert sent["messages"] == [*history, {"role": "user", "content": marker}]
    assert sent["temperature"] == 0.3


async def test_chat_stream_takes_the_messages_to_send(
    make_client: MakeClient, upstream: FakeUpstream
) -> None:
    def handler(chat: Chat) -> Any:
        return chat.stream(messages=[{"role": "system", "content": "summary"}, *chat.messages])

    client = await make_client(handler=handler)
    marker = unique("[count:1]")
    received = await client.post(json=ask(marker))
    assert received.types == ["text", "done"], received.body
    sent = sent_with(upstream, marker).json
    assert sent["messages"][0] == {"role": "system", "content": "summary"}


async def test_configure_giving_invalid_messages_is_a_500(make_client: MakeClient) -> None:
    client = await make_client(configure=lambda chat: {"messages": [{"role": "user"}]})
    received = await client.post(json=ask("hi"))
    assert received.status == 500, received.body
    assert received.json()["error"]["type"] == "internal_error"


# ---------------------------------------------------------------- on_finish before the end


@pytest.mark.parametrize("resume", [False, True])
async def test_the_turn_is_saved_before_the_client_reads_its_end(
    make_client: MakeClient, resume: bool
) -> None:
    """A client that posts its next turn the moment it reads ``done`` finds this turn saved:
    ``on_finish`` (here a slow sync DB write) runs before the terminal event is written."""
    import time

    saved: list[str] = []

    def on_finish(result: StreamResult) -> None:
        time.sleep(0.3)  # a sync DB driver, in a worker thread
        saved.append(str(result.chat.extra["tag"]))

    client = await make_client(on_finish=on_finish, resume=resume or None)
    for turn in ("first", "second"):
        received = await client.post(json=ask("[count:2]", tag=turn))
        assert received.types[-1] == "done", received.body
        assert saved[-1] == turn  # already there, the instant the stream ended


async def test_a_slow_on_finish_does_not_hold_the_end_past_its_timeout(
    make_client: MakeClient,
) -> None:
    import threading

    release = threading.Event()
    saved: list[str] = []

    def on_finish(result: StreamResult) -> None:
        release.wait(20)
        saved.append(str(result.chat.extra["tag"]))

    client = await make_client(on_finish=on_finish, on_finish_timeout=0.2)
    try:
        received = await client.post(json=ask("[count:1]", tag="slow"))
        assert received.types == ["text", "done"]
        assert saved == []  # the stream ended anyway; the callback is still running
    finally:
        release.set()
    await wait_until(lambda: saved == ["slow"], "the slow on_finish")
