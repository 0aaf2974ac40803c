"""OpenTelemetry for every stream: one span and a few metrics, when ``opentelemetry-api`` is
installed (``pip install rais[otel]``); an app brings the SDK and its exporters.

The span follows the GenAI semantic conventions: ``chat {model}``, kind CLIENT, with the
provider, the models, the finish reason and the token usage, plus rais's own attributes
(``rais.outcome``, ``rais.protocol``, ...) and the app's ``chat.log`` fields. It is a child
of the span current when the stream started (a framework instrumentor's request span), and
it is the current span while the source runs, so a provider instrumentor's spans (an HTTP
client's, an SDK's) nest under it. Message content is recorded only when
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``.

Nothing here imports opentelemetry until the first stream, and without it each stream
pays one check; the span is per stream, never per token.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

from ._errors import redact

__all__ = ["StreamTelemetry", "begin", "carried", "use_providers"]

logger = logging.getLogger("rais")

T = TypeVar("T")

#: Set to ``true`` to record the messages and the answer on the span (off by default: they
#: may hold personal data).
CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

#: The instrumentation scope of the tracer and the meter.
SCOPE = "rais"

#: Outcomes that mark the span as failed (a client that left is not the server's failure).
FAILED = frozenset({"error", "refused", "timeout"})

# The GenAI conventions' finish reasons, for rais's own names.
_FINISH_REASONS = {"content-filter": "content_filter", "tool-calls": "tool_call"}

# Buckets the GenAI conventions advise for the token and duration histograms.
_TOKEN_BUCKETS = [4.0**i for i in range(14)]
_SECONDS_BUCKETS = [0.01 * 2.0**i for i in range(14)]

#: What the ``request`` of a chat tells of the adapter that served it (its module's package).
_FRAMEWORKS = frozenset(
    {"fastapi", "starlette", "django", "flask", "quart", "litestar", "aiohttp", "channels"}
)

_UNLOADED: Any = object()
_otel: Any = _UNLOADED  # the loaded API (:class:`_Otel`), or None: opentelemetry is missing


class _Record(Protocol):
    """What the end of a stream reads of its :class:`rais._chat.Turn`."""

    chat: Any
    model: str | None
    kind: str
    parts: list[str]
    reasoning: list[str]
    first_token: float | None
    usage: Any
    failure: BaseException | None
    stream_id: str | None

    @property
    def finish_reason(self) -> str | None: ...


def begin() -> StreamTelemetry | None:
    """A stream starts: capture the current context (the request's span), or ``None`` when
    opentelemetry is not installed."""
    otel = _otel if _otel is not _UNLOADED else _load()
    if otel is None:
        return None
    return StreamTelemetry(otel)


#: The span contexts of this process's resumable generations, by stream id (bounded): a
#: reader's span links to the generation's (a reader on another worker has no link).
_generations: dict[str, Any] = {}
_MAX_GENERATIONS = 10_000


def reading(
    stream: AsyncIterator[bytes], stream_id: str, after: int, protocol: str
) -> AsyncIterator[bytes]:
    """A resumable stream's reader (a reconnect, the AI SDK's resume) as a short span of
    its own, ``chat resume``, linked to the generation's span when it ran here; ``stream``
    as it is when opentelemetry is not installed."""
    otel = _otel if _otel is not _UNLOADED else _load()
    if otel is None:
        return stream
    return _reading(otel, stream, stream_id, after, protocol)


async def _reading(
    otel: _Otel, stream: AsyncIterator[bytes], stream_id: str, after: int, protocol: str
) -> AsyncIterator[bytes]:
    generation = _generations.get(stream_id)
    links = [otel.trace.Link(generation)] if generation is not None else []
    attributes = {
        "rais.stream_id": stream_id,
        "rais.resumed": True,
        "rais.resumed_after": after,
        "rais.protocol": protocol,
    }
    span = otel.get_tracer().start_span(
        "chat resume", kind=otel.trace.SpanKind.SERVER, attributes=attributes, links=links
    )
    chunks = 0
    try:
        async for chunk in stream:
            chunks += 1
            yield chunk
    finally:
        with contextlib.suppress(Exception):  # telemetry never breaks a stream
            span.set_attribute("rais.chunks", chunks)
            span.end()
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def carried(function: Callable[..., T]) -> Callable[..., T]:
    """``function`` with the OpenTelemetry context current here, wherever it is called: for
    an adapter that calls the core in an empty ``contextvars.Context`` (Django's WSGI path),
    so the request's span still parents the stream's."""
    otel = _otel if _otel is not _UNLOADED else _load()
    if otel is None:
        return function
    context = otel.context.get_current()

    def in_context(*args: Any, **kwargs: Any) -> T:
        with _Current(otel, context):
            return function(*args, **kwargs)

    return in_context


class _Current:
    """``with _Current(otel, context):`` ``context`` is the current OpenTelemetry context
    inside the block (a step of the source, its close, a carried call), and the one before
    it again after. A class, not ``@contextmanager``: it is entered around every step of a
    source, where a generator's would add about a microsecond to each."""

    __slots__ = ("_context", "_otel", "_token")

    def __init__(self, otel: _Otel, context: Any) -> None:
        self._otel = otel
        self._context = context

    def __enter__(self) -> None:
        self._token = self._otel.context.attach(self._context)

    def __exit__(self, *exc_info: object) -> None:
        self._otel.context.detach(self._token)


def use_providers(tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Use these providers rather than the global ones (``None``: the global again)."""
    otel = _otel if _otel is not _UNLOADED else _load()
    if otel is None:
        raise RuntimeError("opentelemetry-api is not installed: pip install 'rais[otel]'")
    otel.tracer_provider = tracer_provider
    otel.meter_provider = meter_provider
    otel.tracer = otel.instruments = None


def _load() -> Any:
    global _otel
    try:
        from opentelemetry import context, metrics, trace
    except ImportError:
        _otel = None
    else:
        _otel = _Otel(context, trace, metrics)
    return _otel


def _version() -> str | None:
    """rais's version, for the instrumentation scope (``None`` when not installed)."""
    from importlib import metadata

    try:
        return metadata.version("rais")
    except metadata.PackageNotFoundError:
        return None


class _Otel:
    """The opentelemetry API, loaded once, with the tracer and instruments rais uses (made
    again when the provider changes: an app may set its SDK after the first stream)."""

    def __init__(self, context: Any, trace: Any, metrics: Any) -> None:
        self.context = context
        self.trace = trace
        self.metrics = metrics
        self.tracer_provider: Any = None  # None: the global one
        self.meter_provider: Any = None
        self.tracer: Any = None
        self.tracer_of: Any = None
        self.instruments: _Instruments | None = None
        self.instruments_of: Any = None
        self.version = _version()

    def get_tracer(self) -> Any:
        provider = self.tracer_provider or self.trace.get_tracer_provider()
        if self.tracer is None or self.tracer_of is not provider:
            self.tracer = provider.get_tracer(SCOPE, self.version)
            self.tracer_of = provider
        return self.tracer

    def get_instruments(self) -> _Instruments:
        provider = self.meter_provider or self.metrics.get_meter_provider()
        if self.instruments is None or self.instruments_of is not provider:
            self.instruments = _Instruments(provider.get_meter(SCOPE, self.version))
            self.instruments_of = provider
        return self.instruments


class _Instruments:
    """The GenAI client metrics, and rais's count of open streams."""

    def __init__(self, meter: Any) -> None:
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Tokens used per stream, by gen_ai.token.type (input, output).",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="How long each stream lasted, from the request to its end.",
            explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
        )
        self.first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Seconds from the request to the first text chunk of the answer.",
            explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
        )
        self.open = meter.create_up_down_counter(
            "rais.streams.open",
            unit="{stream}",
            description="Streams whose source is running, by adapter, protocol and transport.",
        )


class StreamTelemetry:
    """One stream's span and metrics. The span is started when the source starts (with the
    stream's start time and the context captured then), or at the end of a stream refused
    before it; :meth:`end` is called once, by ``Turn.finish``."""

    __slots__ = ("_context", "_open", "_otel", "_parent", "_span", "_start")

    def __init__(self, otel: _Otel) -> None:
        self._otel = otel
        self._parent = otel.context.get_current()
        self._start = time.time_ns()
        self._span: Any = None
        self._context: Any = None  # the parent's context with this span current
        self._open: dict[str, str] | None = None  # the open-streams counter's attributes

    # -- the source runs inside the span -------------------------------------------------

    async def run(self, awaitable: Awaitable[T], record: _Record) -> T:
        """Await an async handler (it may call the provider) with the span current."""
        context = self._started_context(record)
        if context is None:
            return await awaitable
        with _Current(self._otel, context):
            return await awaitable

    def around(self, source: Any, record: _Record) -> Any:
        """``source`` with the span current whenever it runs (each step: no step of the
        source ever sees the consumer's context). Opens the stream for the counter."""
        context = self._started_context(record)
        if self._open is None:
            self._open = _open_attributes(record)
            self._otel.get_instruments().open.add(1, self._open)
        if context is None:
            return source
        if hasattr(source, "__aiter__"):
            return self._async_in(source.__aiter__(), context)
        if isinstance(source, (list, tuple, str, bytes)) or not hasattr(source, "__iter__"):
            return source  # nothing of the app's runs while it is read
        return self._sync_in(iter(source), context)

    async def _async_in(self, items: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:
        otel = self._otel
        try:
            while True:
                try:
                    with _Current(otel, context):
                        item = await items.__anext__()
                except StopAsyncIteration:
                    return
                yield item
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                with _Current(otel, context), contextlib.suppress(Exception):
                    await aclose()

    def _sync_in(self, items: Iterator[Any], context: Any) -> Iterator[Any]:
        """A sync source is pulled in worker threads: the context goes with each step."""
        otel = self._otel
        end = object()
        try:
            while True:
                with _Current(otel, context):
                    item = next(items, end)
                if item is end:
                    return
                yield item
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                with _Current(otel, context):
                    close()

    def _started_context(self, record: _Record) -> Any:
        """The context to run the source in: the span's, started now if it is not yet;
        ``None`` when nothing records it (no SDK: the source runs as it would)."""
        if self._span is None:
            self._start_span(record)
        return self._context

    def _start_span(self, record: _Record) -> None:
        otel = self._otel
        model = record.model
        self._span = otel.get_tracer().start_span(
            f"chat {model}" if model else "chat",
            context=self._parent,
            kind=otel.trace.SpanKind.CLIENT,
            attributes=_request_attributes(record),
            start_time=self._start,
        )
        if self._span.is_recording():
            self._context = otel.trace.set_span_in_context(self._span, self._parent)
            if record.stream_id is not None:  # its readers' spans link to it
                _generations[record.stream_id] = self._span.get_span_context()
                while len(_generations) > _MAX_GENERATIONS:
                    _generations.pop(next(iter(_generations)))

    # -- the end ---------------------------------------------------------------------------

    def end(self, record: _Record, outcome: str, error: str | None, duration: float) -> None:
        """Set what the stream's end tells, end the span, record the metrics."""
        try:
            self._end(record, outcome, error, duration)
        except Exception:  # telemetry never breaks a stream
            logger.debug("rais: recording the stream's telemetry failed", exc_info=True)

    def _end(self, record: _Record, outcome: str, error: str | None, duration: float) -> None:
        otel = self._otel
        if self._span is None:
            self._start_span(record)
        span = self._span
        chat = record.chat
        provider, model = _provider_of(chat), record.model
        usage = record.usage
        failed = outcome in FAILED
        error_type = None
        if failed:
            error_type = type(record.failure).__name__ if record.failure is not None else outcome
        if span.is_recording():
            if model:
                span.update_name(f"chat {model}")
            attributes = _request_attributes(record)
            attributes["rais.outcome"] = outcome
            attributes["rais.chunks"] = len(record.parts)
            if model:
                attributes["gen_ai.response.model"] = model
            reason = record.finish_reason
            if reason is not None:
                attributes["gen_ai.response.finish_reasons"] = [_FINISH_REASONS.get(reason, reason)]
            if usage is not None:
                if usage.prompt_tokens is not None:
                    attributes["gen_ai.usage.input_tokens"] = usage.prompt_tokens
                if usage.completion_tokens is not None:
                    attributes["gen_ai.usage.output_tokens"] = usage.completion_tokens
            if record.first_token is not None:
                attributes["rais.time_to_first_chunk"] = record.first_token
            if record.stream_id is not None:
                attributes["rais.stream_id"] = record.stream_id
            for key, value in chat.log.items():
                attributes[f"rais.log.{key}"] = _attribute_value(value)
            if error_type is not None:
                attributes["error.type"] = error_type
            if captures_content():
                attributes.update(_content(record))
            span.set_attributes(attributes)
            if failed:
                message = redact(error or outcome)
                span.add_event(
                    "exception", {"exception.type": error_type, "exception.message": message}
                )
                span.set_status(otel.trace.Status(otel.trace.StatusCode.ERROR, message))
        span.end()
        instruments = otel.get_instruments()
        if self._open is not None:
            instruments.open.add(-1, self._open)
        common: dict[str, str] = {"gen_ai.operation.name": "chat"}
        if provider:
            common["gen_ai.provider.name"] = provider
        if model:
            common["gen_ai.request.model"] = model
            common["gen_ai.response.model"] = model
        if usage is not None:
            counts = (("input", usage.prompt_tokens), ("output", usage.completion_tokens))
            for kind, count in counts:
                if count is not None:
                    instruments.tokens.record(count, {**common, "gen_ai.token.type": kind})
        if record.first_token is not None:
            instruments.first_chunk.record(record.first_token, common)
        timed = {**common, "rais.outcome": outcome}
        if error_type is not None:
            timed["error.type"] = error_type
        instruments.duration.record(duration, timed)


def _request_attributes(record: _Record) -> dict[str, Any]:
    """What is known when the stream starts (samplers see it); set again at its end, since
    a handler's ``chat.stream(model=...)`` may change the model meanwhile."""
    chat = record.chat
    attributes: dict[str, Any] = {"gen_ai.operation.name": "chat"}
    provider = _provider_of(chat)
    if provider:
        attributes["gen_ai.provider.name"] = provider
    if record.model:
        attributes["gen_ai.request.model"] = record.model
    settings = chat.settings
    for key, name in (("max_tokens", "max_tokens"), ("temperature", "temperature")):
        value = settings.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[f"gen_ai.request.{name}"] = value
    conversation = chat.state.get("conversation_id")
    if isinstance(conversation, (str, int)) and not isinstance(conversation, bool):
        attributes["gen_ai.conversation.id"] = str(conversation)
    attributes.update(_open_attributes(record))
    attributes["rais.resumed"] = record.kind == "resumable stream"
    return attributes


def _open_attributes(record: _Record) -> dict[str, str]:
    """The open-streams counter's attributes (the same at its +1 and its -1)."""
    return {
        "rais.adapter": _adapter_of(record.chat.request),
        "rais.protocol": str(record.chat.protocol),
        "rais.transport": "websocket" if record.kind == "websocket stream" else "sse",
    }


def _provider_of(chat: Any) -> str | None:
    provider = chat.settings.get("provider")
    return str(provider) if provider and provider != "handler" else None


def _adapter_of(request: Any) -> str:
    """The framework that served the request, from its request object (an ASGI one's app
    first: FastAPI's requests are Starlette's)."""
    if request is None:
        return "none"
    try:
        scope = getattr(request, "scope", None)
        app = scope.get("app") if isinstance(scope, dict) else None
        for candidate in (app, request):
            if candidate is not None:
                package = type(candidate).__module__.partition(".")[0]
                if package in _FRAMEWORKS:
                    return package
    except Exception:  # an exotic request object: its type is all we wanted
        pass
    return "other"


def _attribute_value(value: object) -> str | bool | int | float:
    if isinstance(value, (str, bool, int, float)):
        return redact(value) if isinstance(value, str) else value
    return redact(str(value))


def captures_content() -> bool:
    """Whether spans record message content (the GenAI conventions' opt-in)."""
    return os.environ.get(CAPTURE_CONTENT, "").strip().lower() in ("true", "1", "yes")


def _content(record: _Record) -> dict[str, str]:
    """The messages and the answer, in the GenAI conventions' JSON shapes (opt-in only)."""
    chat = record.chat
    attributes: dict[str, str] = {}
    system = chat.settings.get("system")
    if isinstance(system, str) and system:
        attributes["gen_ai.system_instructions"] = _json([{"type": "text", "content": system}])
    messages = [_message(m) for m in chat.messages if isinstance(m, Mapping)]
    if messages:
        attributes["gen_ai.input.messages"] = _json(messages)
    parts: list[dict[str, Any]] = []
    if record.reasoning:
        parts.append({"type": "reasoning", "content": "".join(record.reasoning)})
    if record.parts:
        parts.append({"type": "text", "content": "".join(record.parts)})
    if parts:
        output: dict[str, Any] = {"role": "assistant", "parts": parts}
        reason = record.finish_reason
        if reason is not None:
            output["finish_reason"] = _FINISH_REASONS.get(reason, reason)
        attributes["gen_ai.output.messages"] = _json([output])
    return attributes


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        for part in content:
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                parts.append({"type": "text", "content": part["text"]})
            elif isinstance(part, Mapping):
                parts.append({"type": str(part.get("type", "unknown"))})
    return {"role": str(message.get("role", "user")), "parts": parts}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
