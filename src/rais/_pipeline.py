"""The stream pipeline: any token source in, a well-formed RAIS event stream out.

Every adapter, transport and ``stream_response`` goes through :func:`rais_events`,
so the guarantees live in one place:

- the stream ends with exactly one ``done`` or ``error`` and nothing follows it;
- empty text is never emitted, reserved v1 types are filtered;
- any exception becomes one ``error`` event with a redacted message (logged in full);
- when the consumer stops early (client disconnect) the source is closed, which
  cancels the upstream HTTP call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import json
import logging
import threading
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Iterable,
    Iterator,
)
from typing import Any, TypeAlias, cast

from . import _threads as threads
from ._chat import Turn, Usage
from ._chunks import ChunkParts, source_of
from ._errors import RaisError, RedactingFilter, redacted_traceback, safe_message
from ._events import (
    DONE,
    RESERVED_TYPES,
    Event,
    error_event,
    event_from_dict,
    part_event,
    text_event,
)
from ._parts import FINISH_REASONS, Reasoning, StepFinish, ToolCall, ToolInputDelta, ToolResult
from ._providers._errors import as_upstream_error

__all__ = ["Item", "Source", "rais_events"]

logger = logging.getLogger("rais")
access_log = logging.getLogger("rais.access")


logger.addFilter(RedactingFilter())

#: What a source may yield: text chunks, event dicts, ``rais_event`` strings or Events,
#: :class:`rais.Usage` (recorded for ``on_finish``, never sent), and the parts a model
#: streams besides text (:class:`rais.Reasoning`, :class:`rais.ToolCall`, ...).
Item: TypeAlias = (
    "str | dict[str, Any] | Event | Usage | Reasoning | ToolInputDelta | ToolCall"
    " | ToolResult | StepFinish"
)
Source: TypeAlias = "AsyncIterable[Item] | Iterable[Item] | Awaitable[Source]"

_EXHAUSTED = object()


async def rais_events(
    source: Source,
    *,
    secrets: Iterable[str | None] = (),
    turn: Turn | None = None,
) -> AsyncGenerator[Event, None]:
    """Turn ``source`` into RAIS events that always end with one terminal event.

    ``secrets`` are redacted from error messages. ``turn`` records the text, the
    token usage a source yields (:class:`rais.Usage`, never sent) and the exception
    that ended the stream, so a caller can answer with its status and report it.
    """
    items: AsyncIterator[Item] | None = None
    frameworks: ChunkParts | None = None  # an LLM framework's items, once one comes
    record = turn if turn is not None else Turn()
    parts = record.parts
    keep = record.keeps_text  # else each chunk is counted, not kept (see Turn.keeps_text)
    # OpenTelemetry's span (None when it is not installed), ended by the caller's Turn.finish
    telemetry = record.telemetry if turn is not None else None
    try:
        while inspect.isawaitable(source):  # e.g. an async handler returning a generator
            source = await (source if telemetry is None else telemetry.run(source, record))
        ready = source_of(source)  # LlamaIndex responses, as they are
        if telemetry is not None:  # the source runs with the stream's span current
            ready = telemetry.around(ready, record)
        items = _aiter(cast("Source", ready))
        async for item in items:
            if type(item) is str:  # the hot path: a plain text chunk
                if not item:
                    continue
                if item.startswith("data: ") and item.endswith("\n\n"):
                    for event in _decode_encoded(item):
                        if event.terminal:
                            yield _final(event, secrets)
                            return
                        _record(record, event)
                        yield event
                    continue
                if not parts:
                    record.first_token = time.perf_counter() - record.started
                parts.append(item if keep else "")
                yield text_event(item)
                continue
            if isinstance(item, _OWN) or type(item) in _PARTS:
                converted = _to_event(item, record)
                if converted is None:
                    continue
                if converted.terminal:
                    yield _final(converted, secrets)
                    return
                _record(record, converted)
                yield converted
                continue
            # LangChain, LlamaIndex and pydantic-ai items (TypeError for anything unknown)
            if frameworks is None:
                frameworks = ChunkParts()
            for converted in _to_events(frameworks.parts(item), record):
                _record(record, converted)
                yield converted
        if frameworks is not None:  # tool calls still in fragments: complete
            for converted in _to_events(frameworks.close(), record):
                _record(record, converted)
                yield converted
    except GeneratorExit:
        raise  # closed by its consumer
    except asyncio.CancelledError as exc:
        if _cancelled_from_outside():
            raise  # the client left or the server is stopping: not a failure of the source
        yield _failure(exc, record, secrets)  # a handler that raised CancelledError itself
        return
    except BaseException as exc:
        yield _failure(exc, record, secrets)
        return
    finally:
        if items is not None:
            await _aclose(items)
    yield DONE


def _failure(exc: BaseException, record: Turn, secrets: Iterable[str | None]) -> Event:
    """The one error event for a source that raised, logged with a reference."""
    exc = as_upstream_error(exc)
    record.failure = exc
    ref = uuid.uuid4().hex[:8]
    # Logged with a redacted rendering of the traceback: SDK errors can quote the key.
    logger.error(
        "rais stream failed (ref %s)",
        ref,
        exc_info=exc,
        extra={"rais_exc_text": redacted_traceback(exc, secrets)},
    )
    message = safe_message(exc, secrets)
    if not hasattr(exc, "status"):
        message = f"{message} (ref {ref})"
    return error_event(message)


_local = threading.local()


@contextlib.contextmanager
def cancelling_by_hand() -> Iterator[None]:
    """A writer delivering its own cancellation into a source it steps by hand: no task
    is being cancelled, yet the source must take it as a cancel, not as its own failure."""
    _local.by_hand = True
    try:
        yield
    finally:
        _local.by_hand = False


def _cancelled_from_outside() -> bool:
    """Whether this task is being cancelled (a client gone, a shutdown, a timeout), rather
    than a source raising ``CancelledError`` of its own. Python 3.10 cannot tell: there
    every ``CancelledError`` is taken as a cancel."""
    if getattr(_local, "by_hand", False):
        return True
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return cancelling is None or cancelling() > 0


def _record(turn: Turn, event: Event) -> None:
    """Text that came as an event dict or an encoded string (the rare path) is recorded too."""
    if event.type == "text":
        if not turn.parts:
            turn.first_token = time.perf_counter() - turn.started
        turn.parts.append(json.loads(event.data)["text"] if turn.keeps_text else "")


def _final(event: Event, secrets: Iterable[str | None]) -> Event:
    """A source's own ``error`` event goes through the same redaction as an exception."""
    if event.type != "error":
        return event
    message = json.loads(event.data).get("error")
    return error_event(safe_message(RaisError(str(message)), secrets))


def _to_event(item: Any, turn: Turn) -> Event | None:
    if isinstance(item, Event):
        if item.type in RESERVED_TYPES or item.type == "heartbeat":
            return None
        if item.type == "text" and item.data == text_event("").data:
            return None
        return item
    if isinstance(item, dict):
        return event_from_dict(item)
    if isinstance(item, str):
        return text_event(item) if item else None
    if isinstance(item, Usage):
        turn.add_usage(item)
        return None
    kind = _PARTS.get(type(item))
    if kind is not None:
        return _part(kind, item, turn)
    raise TypeError(f"not a stream item: {type(item).__name__}")


#: What a source yields that is rais's own (beside the typed parts): anything else is an
#: LLM framework's item, converted by :class:`ChunkParts`.
_OWN = (str, Event, dict, Usage)


def _to_events(items: list[object], turn: Turn) -> list[Event]:
    """A framework item's rais items (text, usage, reasoning, tool calls) as events."""
    return [event for item in items if (event := _to_event(item, turn)) is not None]


_PARTS: dict[type, str] = {
    Reasoning: "reasoning",
    ToolInputDelta: "tool-input-delta",
    ToolCall: "tool-call",
    ToolResult: "tool-result",
    StepFinish: "step-finish",
}


def _part(kind: str, item: Any, turn: Turn) -> Event | None:
    """Record a part for ``on_finish``; send it only on the protocols that carry it (RAIS
    v1 and its WebSocket are text only, so reasoning never reaches a RAIS client)."""
    data: dict[str, Any]
    if kind == "reasoning":
        if not isinstance(item.text, str):
            raise TypeError("Reasoning.text must be a string")
        if not item.text:
            return None
        turn.reasoning.append(item.text)
        data = {"text": item.text}
    elif kind == "tool-input-delta":
        data = {"id": str(item.id), "name": str(item.name), "delta": str(item.delta)}
    elif kind == "tool-call":
        turn.tool_calls[str(item.id)] = item
        data = {"id": str(item.id), "name": str(item.name), "input": item.input}
    elif kind == "tool-result":
        turn.tool_results[str(item.id)] = item
        data = {"id": str(item.id), "name": str(item.name)}
        if item.error is not None:
            data["error"] = str(item.error)
        else:
            data["output"] = item.output
    else:
        if item.reason not in FINISH_REASONS:
            raise ValueError(f"StepFinish.reason must be one of {sorted(FINISH_REASONS)}")
        if item.usage is not None:
            turn.add_usage(item.usage)
        turn.end_step(item.reason)
        data = {"reason": item.reason}
    if turn.chat.protocol == "rais":
        return None
    return part_event(kind, data)


def _decode_encoded(chunk: str) -> Iterator[Event]:
    """Accept ``rais_event()`` strings from hand-written generators, re-encoded compactly."""
    for block in chunk.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                data = json.loads(line[6:])
                if not isinstance(data, dict):
                    raise TypeError("a rais_event payload must be a JSON object")
                event = event_from_dict(data)
                if event is not None:
                    yield event


async def _aclose(items: AsyncIterator[Item]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


def _aiter(source: Source) -> AsyncIterator[Item]:
    if isinstance(source, AsyncIterable):
        return source.__aiter__()
    if isinstance(source, (list, tuple)):
        return _from_list(source)
    if isinstance(source, Iterable):
        return _from_blocking(iter(source))
    raise TypeError(f"cannot stream from {type(source).__name__}: expected an (async) iterable")


async def _from_list(items: list[Item] | tuple[Item, ...]) -> AsyncIterator[Item]:
    for item in items:
        yield item


async def _from_blocking(iterator: Iterator[Item]) -> AsyncIterator[Item]:
    """Pull a sync generator in a worker thread so a slow model never blocks the loop."""
    pending: concurrent.futures.Future[Any] | None = None
    try:
        while True:
            pending = threads.pool("source").submit(next, iterator, _EXHAUSTED)
            item = await asyncio.wrap_future(pending)
            if item is _EXHAUSTED:
                return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            # Closing a generator while next() runs in a thread would fail: close it
            # once that call returns, without making the cancelled consumer wait.
            def close_quietly(_: object = None) -> None:
                with contextlib.suppress(Exception):
                    close()

            if pending is not None and not pending.done():
                pending.add_done_callback(close_quietly)
            else:
                threads.pool("source").submit(close_quietly)
