"""OpenTelemetry (issue 21): one span per stream, on every framework, with the GenAI
semantic conventions' attributes and rais's own; its outcome on done, error, refusal,
disconnect and timeout; a child of a framework instrumentor's request span, and the
current span while the source runs; no message content without the opt-in; the metrics.

The SDK's in-memory exporter and metric reader are handed to rais per test
(``rais._telemetry.use_providers``), so the process-wide providers stay untouched.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace", reason="pip install -e '.[dev]'")

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

import rais
from rais import _telemetry
from rais._chat import Chat, Turn
from rais._sse import EventStream, sse_reply
from tests.inprocess.clients.starlette_clients import (
    FastAPIClient,
    StarletteClient,
)
from tests.inprocess.conftest import MakeClient
from tests.inprocess.helpers import Finished, ask, unique, wait_until

pytestmark = pytest.mark.timeout(60)

SECRET = "sk-proj-telemetry0123456789abcdef"


class Telemetry:
    """A tracer provider with an in-memory exporter and a meter provider with an in-memory
    reader, used by rais for one test."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    @property
    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def streams(self, tag: str | None = None) -> list[ReadableSpan]:
        """rais's stream spans (of the request tagged ``tag``: see :func:`tag_it`)."""
        found = [s for s in self.spans if s.instrumentation_scope.name == _telemetry.SCOPE]
        if tag is not None:
            found = [s for s in found if (s.attributes or {}).get("rais.log.tag") == tag]
        return found

    async def one(self, tag: str) -> ReadableSpan:
        await wait_until(lambda: bool(self.streams(tag)), f"the span of {tag!r}")
        spans = self.streams(tag)
        assert len(spans) == 1, spans
        return spans[0]

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data is not None else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Telemetry]:
    monkeypatch.delenv(_telemetry.CAPTURE_CONTENT, raising=False)
    recorded = Telemetry()
    _telemetry.use_providers(recorded.tracer_provider, recorded.meter_provider)
    yield recorded
    _telemetry.use_providers(None, None)
    recorded.tracer_provider.shutdown()
    recorded.meter_provider.shutdown()


def tag_it(chat: rais.Chat) -> None:
    """``configure``: the request's ``tag`` goes to the access line, so to the span."""
    chat.log["tag"] = chat.extra.get("tag", "-")
    chat.log["user"] = "alice"
    chat.state["conversation_id"] = f"conversation-{chat.log['tag']}"


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def everything_recorded(span: ReadableSpan) -> str:
    """The span's attributes and events, as text (to look for what must not be there)."""
    events = [(e.name, dict(e.attributes or {})) for e in span.events]
    return json.dumps([attributes(span), events, span.status.description], default=str)


async def test_one_span_per_stream_with_the_genai_attributes(
    make_client: MakeClient, telemetry: Telemetry
) -> None:
    finished = Finished()
    client = await make_client(configure=tag_it, on_finish=finished)
    tag = unique("otel-done")
    response = await client.post(json=ask("[count:3]", tag=tag))
    assert response.status == 200, response.body
    span = await telemetry.one(tag)
    result = await finished.one(tag)
    assert result.usage is not None and result.model is not None
    assert span.name == f"chat {result.model}"
    assert span.kind is SpanKind.CLIENT
    assert span.instrumentation_scope.version == rais.__version__
    assert span.status.status_code is StatusCode.UNSET
    got = attributes(span)
    assert got["gen_ai.operation.name"] == "chat"
    assert got["gen_ai.provider.name"] == "openai"
    assert got["gen_ai.request.model"] == got["gen_ai.response.model"] == result.model
    assert got["gen_ai.response.finish_reasons"] == ("stop",)
    assert got["gen_ai.usage.input_tokens"] == result.usage.prompt_tokens > 0
    assert got["gen_ai.usage.output_tokens"] == result.usage.completion_tokens > 0
    assert got["rais.outcome"] == "done"
    assert got["rais.protocol"] == "rais"
    assert got["rais.transport"] == "sse"
    assert got["rais.resumed"] is False
    assert got["rais.chunks"] == result.chunks == 3
    assert got["rais.time_to_first_chunk"] == pytest.approx(result.ttft)
    assert got["rais.adapter"] == client.name.partition("-")[0]
    assert got["rais.log.user"] == "alice"
    assert got["gen_ai.conversation.id"] == f"conversation-{tag}"
    assert "gen_ai.input.messages" not in got and "gen_ai.output.messages" not in got
    assert span.end_time is not None and span.start_time is not None
    assert (span.end_time - span.start_time) / 1e9 == pytest.approx(result.duration, abs=0.05)
    assert not span.events


async def test_a_failure_mid_stream_is_an_error_span_with_the_safe_message_only(
    make_client: MakeClient, telemetry: Telemetry
) -> None:
    def fails(chat: Any) -> Iterator[str]:
        yield "partial "
        raise RuntimeError(f"connect to /srv/secrets/db.sqlite with {SECRET} failed")

    client = await make_client(configure=tag_it, handler=fails)
    tag = unique("otel-error")
    response = await client.post(json=ask("hi", tag=tag))
    assert response.types[-1] == "error"
    span = await telemetry.one(tag)
    assert span.status.status_code is StatusCode.ERROR
    got = attributes(span)
    assert got["rais.outcome"] == "error"
    assert got["error.type"] == "RuntimeError"
    assert got["rais.chunks"] == 1
    (event,) = span.events
    assert event.name == "exception"
    message = response.events[-1]["error"]
    assert dict(event.attributes or {}) == {
        "exception.type": "RuntimeError",
        "exception.message": message,
    }
    recorded = everything_recorded(span)
    assert SECRET not in recorded and "/srv/secrets" not in recorded
    assert "Traceback" not in recorded and "exception.stacktrace" not in recorded


async def test_a_refused_stream_is_an_error_span(
    make_client: MakeClient, telemetry: Telemetry
) -> None:
    async def busy(chat: Any) -> AsyncIterator[str]:
        raise rais.UpstreamError("The model is busy, try again.", status=429)
        yield ""  # an async generator

    client = await make_client(configure=tag_it, handler=busy)
    tag = unique("otel-refused")
    response = await client.post(json=ask("hi", tag=tag))
    assert response.status == 429, response.body
    span = await telemetry.one(tag)
    assert span.status.status_code is StatusCode.ERROR
    assert attributes(span)["rais.outcome"] == "refused"
    assert span.events[0].attributes == {
        "exception.type": "UpstreamError",
        "exception.message": "The model is busy, try again.",
    }


def upstream_sources(tracer: Any) -> dict[str, Any]:
    """A source that opens an ``upstream call`` span per chunk, as an HTTP client's or a
    provider SDK's instrumentor would: async (run on the loop) and sync (a worker thread)."""

    async def async_source(chat: Any) -> AsyncIterator[str]:
        with tracer.start_as_current_span("upstream call"):
            yield "one "
        with tracer.start_as_current_span("upstream call"):
            yield "two"

    def sync_source(chat: Any) -> Iterator[str]:
        with tracer.start_as_current_span("upstream call"):
            yield "one "
        with tracer.start_as_current_span("upstream call"):
            yield "two"

    return {"async": async_source, "sync": sync_source}


async def test_the_source_runs_inside_the_stream_span(
    make_client: MakeClient, telemetry: Telemetry
) -> None:
    """What a provider instrumentor would create while the source runs (an HTTP client's
    span) is a child of the stream's span: async and sync (worker thread) sources alike."""
    sources = upstream_sources(telemetry.tracer_provider.get_tracer("upstream"))
    for handler in sources.values():
        client = await make_client(configure=tag_it, handler=handler)
        tag = unique("otel-nested")
        response = await client.post(json=ask("hi", tag=tag))
        assert response.text == "one two"
        stream = await telemetry.one(tag)
        children = [s for s in telemetry.spans if s.name == "upstream call"]
        children = [s for s in children if s.parent and s.parent.span_id == stream.context.span_id]
        assert len(children) == 2, (handler.__name__, telemetry.spans)
        assert all(c.context.trace_id == stream.context.trace_id for c in children)


async def test_no_content_without_the_opt_in_and_content_with_it(
    make_client: MakeClient, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client(configure=tag_it, system="Be brief.")
    tag = unique("otel-content")
    prompt = unique("my confidential question [count:2]")
    await client.post(json=ask(prompt, tag=tag))
    recorded = everything_recorded(await telemetry.one(tag))
    assert "confidential" not in recorded and "Be brief" not in recorded
    monkeypatch.setenv(_telemetry.CAPTURE_CONTENT, "true")
    tag = unique("otel-opt-in")
    response = await client.post(json=ask(prompt, tag=tag))
    got = attributes(await telemetry.one(tag))
    assert json.loads(got["gen_ai.input.messages"])[-1] == {
        "role": "user",
        "parts": [{"type": "text", "content": prompt}],
    }
    assert json.loads(got["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": response.text}],
            "finish_reason": "stop",
        }
    ]
    assert json.loads(got["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Be brief."}
    ]


async def test_metrics(make_client: MakeClient, telemetry: Telemetry) -> None:
    finished = Finished()
    client = await make_client(configure=tag_it, on_finish=finished)
    tag = unique("otel-metrics")
    await client.post(json=ask("[count:2]", tag=tag))
    result = await finished.one(tag)
    await telemetry.one(tag)
    assert result.usage is not None
    tokens = {
        p.attributes["gen_ai.token.type"]: p.sum
        for p in telemetry.points("gen_ai.client.token.usage")
    }
    assert tokens == {"input": result.usage.prompt_tokens, "output": result.usage.completion_tokens}
    (duration,) = telemetry.points("gen_ai.client.operation.duration")
    assert duration.count == 1 and duration.attributes["rais.outcome"] == "done"
    assert duration.attributes["gen_ai.request.model"] == result.model
    (first,) = telemetry.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1 and first.sum == pytest.approx(result.ttft)
    (open_streams,) = telemetry.points("rais.streams.open")
    assert open_streams.value == 0  # opened, then closed
    assert dict(open_streams.attributes) == {
        "rais.adapter": client.name.partition("-")[0],
        "rais.protocol": "rais",
        "rais.transport": "sse",
    }


async def test_open_streams_while_one_runs(telemetry: Telemetry) -> None:
    gate = asyncio.Event()

    async def waits() -> AsyncIterator[str]:
        yield "a"
        await gate.wait()
        yield "b"

    reply = await sse_reply(waits(), turn=Turn(Chat([], protocol="ai-sdk")))
    assert reply.stream is not None
    frames = aiter(reply.stream)
    await frames.__anext__()
    (running,) = telemetry.points("rais.streams.open")
    assert running.value == 1 and running.attributes["rais.adapter"] == "none"
    gate.set()
    async for _ in frames:
        pass
    (ended,) = telemetry.points("rais.streams.open")
    assert ended.value == 0
    (span,) = telemetry.streams()
    assert attributes(span)["rais.outcome"] == "done" and span.name == "chat"


async def test_a_client_that_leaves_ends_the_span_as_disconnected(telemetry: Telemetry) -> None:
    async def endless() -> AsyncIterator[str]:
        while True:
            yield "x"
            await asyncio.sleep(0.01)

    reply = await sse_reply(endless(), turn=Turn(Chat([]), model="m-1"))
    assert reply.stream is not None
    frames = aiter(reply.stream)
    await frames.__anext__()
    await frames.__anext__()
    await frames.aclose()  # what an adapter does when the client goes away
    await wait_until(lambda: bool(telemetry.streams()), "the span")
    (span,) = telemetry.streams()
    assert span.name == "chat m-1"
    assert attributes(span)["rais.outcome"] == "disconnected"
    assert span.status.status_code is StatusCode.UNSET  # the client left: not a failure
    (open_streams,) = telemetry.points("rais.streams.open")
    assert open_streams.value == 0


async def test_a_client_that_stops_reading_ends_the_span_as_timeout(telemetry: Telemetry) -> None:
    async def endless() -> AsyncIterator[str]:
        while True:
            yield "x" * 1000
            await asyncio.sleep(0)

    async def never_reads(chunk: bytes) -> None:
        await asyncio.sleep(3600)

    reply = await sse_reply(endless(), send_timeout=0.3, turn=Turn(Chat([])))
    assert isinstance(reply.stream, EventStream)
    await asyncio.wait_for(reply.stream.send_to(never_reads), 20)
    await wait_until(lambda: bool(telemetry.streams()), "the span")
    (span,) = telemetry.streams()
    assert attributes(span)["rais.outcome"] == "timeout"
    assert attributes(span)["error.type"] == "timeout"
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].attributes == {
        "exception.type": "timeout",
        "exception.message": "The client stopped reading.",
    }


async def test_a_cancelled_request_ends_the_span(telemetry: Telemetry) -> None:
    """The request task is cancelled while the reply waits for the first event."""

    async def slow() -> AsyncIterator[str]:
        await asyncio.sleep(3600)
        yield "never"

    replying = asyncio.ensure_future(sse_reply(slow(), turn=Turn(Chat([]))))
    await asyncio.sleep(0.05)
    replying.cancel()
    with pytest.raises(asyncio.CancelledError):
        await replying
    (span,) = telemetry.streams()
    assert attributes(span)["rais.outcome"] == "disconnected"
    (open_streams,) = telemetry.points("rais.streams.open")
    assert open_streams.value == 0


class Instrumented:
    """The app wrapped in opentelemetry-instrumentation-asgi's middleware, as
    ``opentelemetry-instrument`` or ``FastAPIInstrumentor`` would."""

    tracer_provider: Any = None

    def app(self) -> Any:
        return OpenTelemetryMiddleware(
            super().app(),  # type: ignore[misc]
            tracer_provider=self.tracer_provider,
        )


class InstrumentedFastAPI(Instrumented, FastAPIClient):
    pass


class InstrumentedStarlette(Instrumented, StarletteClient):
    pass


@pytest.mark.parametrize("client_class", [InstrumentedFastAPI, InstrumentedStarlette])
async def test_the_span_is_a_child_of_the_framework_request_span(
    client_class: type[FastAPIClient], telemetry: Telemetry, openai_options: dict[str, Any]
) -> None:
    client_class.tracer_provider = telemetry.tracer_provider
    client = client_class({**openai_options, "heartbeat": None, "configure": tag_it})
    await client.start()
    try:
        tag = unique("otel-parent")
        response = await client.post(json=ask("[count:2]", tag=tag))
        assert response.status == 200
        stream = await telemetry.one(tag)
    finally:
        await client.close()
    (server,) = [s for s in telemetry.spans if s.kind is SpanKind.SERVER]
    assert stream.parent is not None
    assert stream.parent.span_id == server.context.span_id
    assert stream.context.trace_id == server.context.trace_id


async def test_a_resumable_stream_has_one_span(
    make_client: MakeClient, telemetry: Telemetry
) -> None:
    client = await make_client(configure=tag_it, resume=True)
    tag = unique("otel-resumable")
    response = await client.post(json=ask("[count:2]", tag=tag))
    assert response.status == 200 and response.types[-1] == "done"
    span = await telemetry.one(tag)
    got = attributes(span)
    assert got["rais.resumed"] is True and got["rais.outcome"] == "done"
    assert isinstance(got["rais.stream_id"], str)


def test_import_rais_does_not_import_opentelemetry() -> None:
    import subprocess

    code = "import sys, rais; print(any(m.startswith('opentelemetry') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_console_example_prints_the_stream_span_under_the_request_span() -> None:
    """examples/otel_console.py, as its docstring says: the process-wide SDK providers (set
    once, as an app does) are the ones rais uses."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    run = subprocess.run(
        [sys.executable, "examples/otel_console.py", "--once"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    decoder = json.JSONDecoder()
    spans: list[dict[str, Any]] = []
    text = run.stdout
    at = text.find("{")
    while at != -1:
        value, end = decoder.raw_decode(text, at)
        if "context" in value:  # a span (the metrics come last, in one object)
            spans.append(value)
        at = text.find("{", end)
    (stream,) = [s for s in spans if s["name"] == "chat rais-offline"]
    assert stream["kind"] == "SpanKind.CLIENT"
    assert stream["attributes"]["rais.outcome"] == "done"
    assert stream["attributes"]["rais.log.user"] == "demo"
    ancestors = {s["context"]["span_id"]: s for s in spans}
    parent = ancestors[stream["parent_id"]]
    while parent["kind"] != "SpanKind.SERVER":
        parent = ancestors[parent["parent_id"]]
    assert parent["name"] == "POST /api/chat"
    assert "gen_ai.client.token.usage" in text and "rais.streams.open" in text


async def test_the_span_is_a_child_of_the_span_current_when_the_request_came_in(
    make_client: MakeClient, telemetry: Telemetry, client_class: type[Any]
) -> None:
    """A stand-in for a framework instrumentor where none is tested: a span current in the
    request's context (the test's, here: the in-process clients run the app in it) is the
    stream span's parent, as an instrumentor's would be. Quart has no instrumentor in
    opentelemetry-python-contrib (apps wrap it in the ASGI middleware, tested above on
    FastAPI and Starlette), Litestar's OpenTelemetryPlugin is that middleware too, and
    aiohttp's (opentelemetry-instrumentation-aiohttp-server) is not a dev dependency."""
    if client_class.name in ("flask", "django-wsgi", "django-asgi"):
        pytest.skip("test_telemetry_instrumentors.py has the real Flask and Django instrumentors")
    if client_class.name == "aiohttp":
        pytest.skip("aiohttp's test client serves on a socket: no caller's context to carry")
    client = await make_client(configure=tag_it)
    tag = unique("otel-request")
    tracer = telemetry.tracer_provider.get_tracer("framework")
    with tracer.start_as_current_span("request", kind=SpanKind.SERVER) as request:
        response = await client.post(json=ask("[count:1]", tag=tag))
    assert response.status == 200
    stream = await telemetry.one(tag)
    assert stream.parent is not None
    assert stream.parent.span_id == request.get_span_context().span_id


async def test_a_websocket_stream_has_its_span(telemetry: Telemetry) -> None:
    from rais._endpoint import ChatEndpoint
    from rais._websocket import serve_websocket
    from tests.test_websocket_core import StallingSocket

    def handler(_messages: object) -> list[str]:
        return ["over ", "the socket"]

    endpoint = ChatEndpoint(handler=handler)
    socket = StallingSocket(json.dumps({"messages": [{"role": "user", "content": "hi"}]}))
    await asyncio.wait_for(serve_websocket(endpoint, socket), 20)
    await wait_until(lambda: bool(telemetry.streams()), "the span")
    (span,) = telemetry.streams()
    got = attributes(span)
    assert got["rais.transport"] == "websocket" and got["rais.outcome"] == "done"
    assert got["rais.chunks"] == 2 and "gen_ai.provider.name" not in got  # a handler's


async def test_stream_response_has_no_span_nor_open_stream(
    telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``stream_response`` (a bare pipeline) has no end rais sees: nothing is left open."""
    monkeypatch.setenv("RAIS_OFFLINE_DELAY", "0")
    frames = [frame async for frame in rais.stream_response([], provider="offline")]
    assert json.loads(frames[-1].removeprefix("data: ")) == {"type": "done"}
    assert telemetry.streams() == []
    assert all(p.value == 0 for p in telemetry.points("rais.streams.open"))


async def test_a_tool_loop_span_sums_its_steps(
    make_client: MakeClient, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two model calls (a tool step, then the answer) in one stream: one span, the usage
    summed, the last call's finish reason; with the opt-in, the reasoning and the text."""
    from tests.inprocess.test_codecs import ui_request
    from tests.inprocess.test_parts import two_steps

    monkeypatch.setenv(_telemetry.CAPTURE_CONTENT, "true")
    client = await make_client(protocol="ai-sdk", configure=tag_it, handler=two_steps)
    tag = unique("otel-steps")
    response = await client.post(json=ui_request("weather?", tag=tag))
    assert response.status == 200
    got = attributes(await telemetry.one(tag))
    assert got["rais.protocol"] == "ai-sdk"
    assert (got["gen_ai.usage.input_tokens"], got["gen_ai.usage.output_tokens"]) == (40, 12)
    assert got["gen_ai.response.finish_reasons"] == ("stop",)
    (output,) = json.loads(got["gen_ai.output.messages"])
    assert output["parts"] == [
        {"type": "reasoning", "content": "Let me check the weather."},
        {"type": "text", "content": "It is 21 °C."},
    ]


async def test_without_opentelemetry_a_stream_has_no_telemetry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``opentelemetry`` not importable: rais finds that out once, and streams as before."""
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import fails, as if missing
    monkeypatch.setattr(_telemetry, "_otel", _telemetry._UNLOADED)
    turn = Turn(Chat([]))
    assert turn.telemetry is None and _telemetry._otel is None
    reply = await sse_reply(["a", "b"], turn=turn)
    assert reply.stream is not None
    body = b"".join([frame async for frame in reply.stream])
    assert body.endswith(b'data: {"type":"done"}\n\n')


async def test_a_reconnect_is_a_short_span_linked_to_the_generation(
    make_client: MakeClient, telemetry: Telemetry
) -> None:
    client = await make_client(configure=tag_it, resume=True)
    tag = unique("otel-reconnect")
    first = await client.post(json=ask("[count:3]", tag=tag))
    assert first.types[-1] == "done"
    generation = await telemetry.one(tag)
    again = await client.post(json=ask("x"), headers={"Last-Event-ID": str(first.ids[0])})
    assert again.status == 200 and again.text == "t1 t2 "
    await wait_until(
        lambda: any(s.name == "chat resume" for s in telemetry.streams()), "the reader's span"
    )
    (reader,) = [s for s in telemetry.streams() if s.name == "chat resume"]
    got = attributes(reader)
    assert got["rais.stream_id"] == attributes(generation)["rais.stream_id"]
    assert got["rais.resumed"] is True and got["rais.resumed_after"] == 1
    assert reader.kind == SpanKind.SERVER and got["rais.chunks"] >= 1
    assert [link.context.span_id for link in reader.links] == [generation.context.span_id]
