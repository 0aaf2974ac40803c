"""Unit tests of the stream pipeline: sources, termination, sanitising, cancellation, pings."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from rais import RaisError, UpstreamError, rais_event
from rais._chat import Turn
from rais._errors import GENERIC_MESSAGE
from rais._events import DONE, HEARTBEAT, RESERVED_TYPES, Event, error_event, text_event
from rais._pipeline import rais_events

pytestmark = pytest.mark.timeout(30)


async def collect(source: Any, **kwargs: Any) -> list[Event]:
    return [event async for event in rais_events(source, **kwargs)]


def payloads(events: list[Event]) -> list[dict[str, Any]]:
    return [json.loads(event.data) for event in events]


def texts(events: list[Event]) -> list[str]:
    return [json.loads(e.data)["text"] for e in events if e.type == "text"]


def assert_well_formed(events: list[Event]) -> None:
    """Exactly one terminal event, and it is the last one."""
    assert events, "a stream always has at least its terminal event"
    assert [e.terminal for e in events].count(True) == 1
    assert events[-1].terminal
    for event in events:
        assert event.type not in RESERVED_TYPES
        if event.type == "text":
            assert json.loads(event.data)["text"] != ""


def error_text(events: list[Event]) -> str:
    assert events[-1].type == "error"
    return str(json.loads(events[-1].data)["error"])


# ---------------------------------------------------------------- every kind of source


async def agen_of_str() -> AsyncIterator[str]:
    for token in ["Hel", "lo", "!"]:
        await asyncio.sleep(0)
        yield token


def sgen_of_str() -> Iterator[str]:
    yield from ["Hel", "lo", "!"]


async def agen_of_dicts() -> AsyncIterator[dict[str, Any]]:
    for token in ["Hel", "lo", "!"]:
        yield {"type": "text", "text": token}
    yield {"type": "done"}


async def agen_of_rais_event_strings() -> AsyncIterator[str]:
    for token in ["Hel", "lo", "!"]:
        yield rais_event({"type": "text", "text": token})
    yield rais_event({"type": "done"})


async def agen_of_event_objects() -> AsyncIterator[Event]:
    for token in ["Hel", "lo", "!"]:
        yield text_event(token)
    yield DONE


async def awaitable_returning_generator() -> AsyncIterator[str]:
    await asyncio.sleep(0)
    return agen_of_str()


SOURCES = {
    "async gen of str": agen_of_str,
    "sync gen of str": sgen_of_str,
    "list": lambda: ["Hel", "lo", "!"],
    "tuple": lambda: ("Hel", "lo", "!"),
    "async gen of dicts": agen_of_dicts,
    "rais_event strings": agen_of_rais_event_strings,
    "Event objects": agen_of_event_objects,
    "list of dicts": lambda: [{"type": "text", "text": t} for t in ["Hel", "lo", "!"]],
    "awaitable -> generator": awaitable_returning_generator,
    "sync gen of rais_event strings": lambda: iter(
        [rais_event({"type": "text", "text": t}) for t in ["Hel", "lo", "!"]]
    ),
}


@pytest.mark.parametrize("make", SOURCES.values(), ids=SOURCES.keys())
async def test_every_kind_of_source(make: Any) -> None:
    events = await collect(make())
    assert_well_formed(events)
    assert payloads(events) == [
        {"type": "text", "text": "Hel"},
        {"type": "text", "text": "lo"},
        {"type": "text", "text": "!"},
        {"type": "done"},
    ]
    assert all(e.data == text_event(json.loads(e.data)["text"]).data for e in events[:-1]), (
        "events are re-encoded compactly whatever the source gave"
    )


async def test_several_rais_events_in_one_chunk() -> None:
    chunk = rais_event({"type": "text", "text": "a"}) + rais_event({"type": "text", "text": "b"})
    events = await collect([chunk, "c"])
    assert texts(events) == ["a", "b", "c"]
    assert events[-1] is DONE


async def test_empty_source_is_just_done() -> None:
    assert await collect([]) == [DONE]


async def test_text_with_special_characters_is_kept_exactly() -> None:
    tricky = ["line\n", "\n\n", '"q"', "\\", "🎉", "data: x"]
    events = await collect(tricky)
    assert texts(events) == tricky


# ---------------------------------------------------------------- termination


async def test_items_after_done_are_dropped_and_the_source_is_closed() -> None:
    closed = []

    async def source() -> AsyncIterator[Any]:
        try:
            yield "a"
            yield {"type": "done"}
            yield "after"
            yield {"type": "error", "error": "after"}
        finally:
            closed.append(True)

    events = await collect(source())
    assert payloads(events) == [{"type": "text", "text": "a"}, {"type": "done"}]
    assert closed == [True]


@pytest.mark.parametrize(
    "items",
    [
        [{"type": "done"}, {"type": "done"}],
        [DONE, DONE],
        [rais_event({"type": "done"}), rais_event({"type": "done"})],
        [rais_event({"type": "done"}) + rais_event({"type": "done"})],
        [rais_event({"type": "done"}) + rais_event({"type": "text", "text": "late"})],
    ],
)
async def test_done_twice_gives_one_done(items: list[Any]) -> None:
    events = await collect(items)
    assert events == [DONE]


async def test_error_then_text_stops_at_the_error() -> None:
    events = await collect(["a", {"type": "error", "error": "model overloaded"}, "b", "c"])
    assert_well_formed(events)
    assert payloads(events) == [
        {"type": "text", "text": "a"},
        {"type": "error", "error": "model overloaded"},
    ]


async def test_error_event_object_then_done() -> None:
    events = await collect([error_event("stop"), DONE])
    assert events == [error_event("stop")]


async def test_done_is_added_when_the_source_just_ends() -> None:
    events = await collect(["x"])
    assert events[-1] is DONE
    assert_well_formed(events)


# ---------------------------------------------------------------- filtering


async def test_empty_text_is_dropped() -> None:
    events = await collect(
        [
            "",
            "a",
            {"type": "text", "text": ""},
            text_event(""),
            rais_event({"type": "text", "text": ""}),
            "b",
        ]
    )
    assert texts(events) == ["a", "b"]
    assert_well_formed(events)


@pytest.mark.parametrize("kind", sorted(RESERVED_TYPES))
async def test_reserved_types_are_filtered(kind: str) -> None:
    payload = {"type": kind, "id": "x1", "name": "lookup", "text": "hidden"}
    events = await collect(
        [
            "a",
            payload,
            rais_event(payload),
            Event(kind, json.dumps(payload)),
            "b",
        ]
    )
    assert [e.type for e in events] == ["text", "text", "done"]
    assert texts(events) == ["a", "b"]


async def test_heartbeats_from_a_source_are_not_events() -> None:
    events = await collect(["a", HEARTBEAT, {"type": "heartbeat"}, "b"])
    assert [e.type for e in events] == ["text", "text", "done"]


async def test_unknown_types_pass_through() -> None:
    events = await collect([{"type": "custom", "n": 1}])
    assert payloads(events) == [{"type": "custom", "n": 1}, {"type": "done"}]


async def test_a_bad_item_type_is_an_error_event() -> None:
    events = await collect(["ok", 42])
    assert_well_formed(events)
    assert texts(events) == ["ok"]
    assert error_text(events).startswith(GENERIC_MESSAGE)


async def test_a_non_iterable_source_is_an_error_event() -> None:
    events = await collect(42)
    assert_well_formed(events)
    assert events[0].type == "error"


# ---------------------------------------------------------------- errors and redaction


async def failing_after(items: list[str], exc: BaseException) -> AsyncIterator[str]:
    for item in items:
        yield item
    raise exc


async def test_exception_becomes_one_error_event() -> None:
    turn = Turn(on_finish=lambda result: None)  # on_finish reads the text: it is kept
    boom = RuntimeError("internal detail /srv/app/x.py")
    events = await collect(failing_after(["a", "b"], boom), turn=turn)
    assert_well_formed(events)
    assert texts(events) == ["a", "b"]
    message = error_text(events)
    assert message.startswith(GENERIC_MESSAGE)
    assert "internal detail" not in message and "/srv" not in message
    assert turn.failure is boom and turn.parts == ["a", "b"]


async def test_text_is_counted_not_kept_when_nothing_reads_it() -> None:
    # No on_finish and no span recording content: a long answer (or one a stalled client
    # holds in the socket buffers) is not held a second time in the stream's record.
    chunk = "x" * 16384
    turn = Turn()
    events = await collect([chunk, chunk, {"type": "text", "text": "y"}], turn=turn)
    assert texts(events) == [chunk, chunk, "y"]
    assert len(turn.parts) == 3 and "".join(turn.parts) == ""
    assert turn.first_token is not None
    kept = Turn(on_finish=lambda result: None)
    await collect([chunk, chunk, {"type": "text", "text": "y"}], turn=kept)
    assert kept.parts == [chunk, chunk, "y"]


async def test_exception_before_first_item() -> None:
    events = await collect(failing_after([], ValueError("x")))
    assert len(events) == 1 and events[0].type == "error"


async def test_exception_in_a_sync_generator() -> None:
    def source() -> Iterator[str]:
        yield "a"
        raise KeyError("secret-ish detail")

    events = await collect(source())
    assert texts(events) == ["a"]
    assert "secret-ish" not in error_text(events)


async def test_exception_in_an_awaitable_source() -> None:
    async def make() -> list[str]:
        raise UpstreamError("The provider said no.", status=401)

    turn = Turn()
    events = await collect(make(), turn=turn)
    assert payloads(events) == [{"type": "error", "error": "The provider said no."}]
    assert getattr(turn.failure, "status", None) == 401


async def test_rais_error_message_passes_through() -> None:
    events = await collect(failing_after(["a"], RaisError("The model is busy.")))
    assert error_text(events) == "The model is busy."


async def test_rais_error_message_is_redacted() -> None:
    exc = RaisError("bad key sk-abcdef1234567890ZZ via https://bob:hunter22@api.example.com/v1")
    message = error_text(await collect(failing_after([], exc)))
    assert "sk-abcdef1234567890ZZ" not in message
    assert "hunter22" not in message and "bob" not in message
    assert message.startswith("bad key ")


SECRET_CASES = {
    "sk- key": "sk-proj-1234567890abcdefABCDEF",
    "sk-ant- key": "sk-ant-api03-AAAABBBBCCCCdddd-eeee",
    "bearer token": "Bearer tok_live_0123456789abcdef",
    "url credentials": "https://admin:pa55w0rd-xyz@db.internal:5432/app",
    "posix path": "/home/deploy/app/settings/secrets.py",
    "windows path": r"C:\Users\deploy\app\secrets.py",
}


@pytest.mark.parametrize("secret", SECRET_CASES.values(), ids=SECRET_CASES.keys())
async def test_secrets_never_reach_the_error_event(secret: str) -> None:
    sensitive = secret.split("@")[0].split()[-1]  # the part that must not leak
    for exc in (RaisError(f"failed with {secret} here"), RuntimeError(f"failed with {secret}")):
        message = error_text(await collect(failing_after(["a"], exc)))
        assert sensitive not in message, message
        if secret.startswith("https://"):
            assert "pa55w0rd" not in message and "admin" not in message


async def test_literal_secret_is_redacted() -> None:
    secret = "my-own-plain-secret-value"
    events = await collect(
        failing_after([], RaisError(f"echoed {secret}!")), secrets=[secret, None]
    )
    assert secret not in error_text(events)
    assert error_text(events).startswith("echoed ")


async def test_environment_api_keys_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    value = "custom-format-value-778899"
    monkeypatch.setenv("ACME_LLM_API_KEY", value)
    events = await collect(failing_after([], UpstreamError(f"upstream echoed {value}")))
    assert value not in error_text(events)


async def test_tracebacks_never_reach_the_error_event() -> None:
    import traceback

    try:
        raise ValueError("deep failure")
    except ValueError:
        trace = traceback.format_exc()
    for exc in (RaisError(trace), RuntimeError(trace)):
        message = error_text(await collect(failing_after([], exc)))
        assert "Traceback" not in message and "deep failure" not in message
        assert "\n" not in message


async def test_error_events_from_the_source_are_redacted_too() -> None:
    # hand-written generators often do rais_event({"type": "error", "error": str(exc)})
    leak = "Incorrect API key provided: sk-proj-LEAKED0123456789."
    for item in (
        {"type": "error", "error": leak},
        rais_event({"type": "error", "error": leak}),
        error_event(leak),
    ):
        events = await collect(["a", item], secrets=())
        assert_well_formed(events)
        assert "LEAKED0123456789" not in error_text(events)
        assert error_text(events).startswith("Incorrect API key")


async def test_failed_generator_is_logged_with_a_reference(
    caplog: pytest.LogCaptureFixture,
) -> None:
    boom = RuntimeError("full detail for the server log")
    message = error_text(await collect(failing_after([], boom)))
    assert "(ref " in message  # the client gets a reference, the log gets the detail
    ref = message.rsplit("(ref ", 1)[1].rstrip(")")
    logged = [r for r in caplog.records if ref in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None and logged[0].exc_info[1] is boom


# ---------------------------------------------------------------- early close


async def test_early_close_closes_an_async_generator_source() -> None:
    closed = asyncio.Event()
    reached = []

    async def source() -> AsyncIterator[str]:
        try:
            for i in range(100):
                reached.append(i)
                yield f"t{i}"
                await asyncio.sleep(0)
        finally:
            closed.set()

    events = rais_events(source())
    first = await events.__anext__()
    assert json.loads(first.data) == {"type": "text", "text": "t0"}
    await events.aclose()
    assert closed.is_set(), "the source's finally ran by the time aclose returned"
    assert len(reached) < 100


async def test_early_close_calls_aclose_on_an_async_iterator() -> None:
    class Source:
        def __init__(self) -> None:
            self.closed = False
            self.n = 0

        def __aiter__(self) -> Source:
            return self

        async def __anext__(self) -> str:
            self.n += 1
            return f"t{self.n}"

        async def aclose(self) -> None:
            self.closed = True

    source = Source()
    events = rais_events(source)
    await events.__anext__()
    await events.aclose()
    assert source.closed


async def test_early_close_of_an_awaitable_source() -> None:
    closed = asyncio.Event()

    async def inner() -> AsyncIterator[str]:
        try:
            while True:
                yield "x"
                await asyncio.sleep(0)
        finally:
            closed.set()

    async def make() -> AsyncIterator[str]:
        return inner()

    events = rais_events(make())
    await events.__anext__()
    await events.aclose()
    assert closed.is_set()


async def test_cancelling_the_consumer_closes_the_source() -> None:
    closed = asyncio.Event()
    started = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        try:
            yield "a"
            started.set()
            await asyncio.sleep(60)
            yield "never"
        finally:
            closed.set()

    async def consume() -> None:
        async for _ in rais_events(source()):
            pass

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed.is_set()


async def test_early_close_reaches_a_sync_generator() -> None:
    closed = threading.Event()
    produced = []

    def source() -> Iterator[str]:
        try:
            for i in range(1000):
                produced.append(i)
                yield f"t{i}"
        except GeneratorExit:
            closed.set()
            raise

    events = rais_events(source())
    await events.__anext__()
    await events.aclose()
    assert await asyncio.to_thread(closed.wait, 5), "GeneratorExit reached the sync generator"
    assert len(produced) < 1000


async def test_early_close_while_a_sync_generator_is_inside_next() -> None:
    closed = threading.Event()
    inside = threading.Event()
    release = threading.Event()

    def source() -> Iterator[str]:
        try:
            yield "first"
            inside.set()
            release.wait(10)  # a slow model call in progress when the client leaves
            yield "second"
            yield "third"
        finally:
            closed.set()

    events = rais_events(source())
    await events.__anext__()
    reader = asyncio.create_task(events.__anext__())
    assert await asyncio.to_thread(inside.wait, 5)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    started = time.monotonic()
    await events.aclose()
    assert time.monotonic() - started < 1, "closing does not wait for the in-flight next()"
    assert not closed.is_set()
    release.set()
    assert await asyncio.to_thread(closed.wait, 5), "closed once the in-flight next() returned"


async def test_a_blocking_sync_generator_does_not_block_the_loop() -> None:
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    def slow_model() -> Iterator[str]:
        for word in ["one", "two", "three"]:
            time.sleep(0.1)  # a blocking call, e.g. a local model
            yield word

    task = asyncio.create_task(ticker())
    try:
        events = await collect(slow_model())
    finally:
        stop.set()
        await task
    assert texts(events) == ["one", "two", "three"]
    assert ticks >= 10, f"the event loop was blocked (only {ticks} ticks in ~0.3 s)"


async def test_many_sync_generators_run_concurrently() -> None:
    def slow() -> Iterator[str]:
        time.sleep(0.3)
        yield "x"

    started = time.monotonic()
    results = await asyncio.gather(*(collect(slow()) for _ in range(20)))
    assert all(texts(r) == ["x"] for r in results)
    assert time.monotonic() - started < 3
