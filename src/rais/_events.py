"""RAIS v1 events and their encodings.

An event is encoded to JSON exactly once (``Event.data``); the SSE and WebSocket
writers only frame that string. ``rais_event`` keeps the documented, spaced
``json.dumps`` output; the wire uses compact JSON like the spec's examples.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, NamedTuple

__all__ = [
    "DONE",
    "HEARTBEAT",
    "PING",
    "RESERVED_TYPES",
    "TERMINAL_TYPES",
    "Event",
    "error_event",
    "event_from_dict",
    "part_event",
    "rais_event",
    "sse_frame",
    "text_event",
]

#: The event types that end a stream (``done``, ``error``): nothing may follow them.
TERMINAL_TYPES = frozenset({"done", "error"})

#: Types a v1 server must not emit (PROTOCOL.md); sources that yield them are filtered.
RESERVED_TYPES = frozenset({"metadata", "tool_call", "reasoning", "partial_tool_result"})

_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Event(NamedTuple):
    """One RAIS event: its ``type`` and its compact JSON ``data``, encoded once."""

    type: str
    data: str

    @property
    def terminal(self) -> bool:
        """``done`` and ``error`` end a stream; nothing may follow them."""
        return self.type in TERMINAL_TYPES


def rais_event(data: dict[str, Any]) -> str:
    """Encode any dict as a RAIS SSE line: ``'data: ' + json.dumps(data) + '\\n\\n'``.

    This is the documented low-level helper for hand-written generators; its output
    is kept byte-for-byte as documented.
    """
    return "data: " + json.dumps(data) + "\n\n"


#: ``Event(type, data)`` without the Python-level ``__new__`` NamedTuple generates (half
#: the cost of building the per-token event).
_new_event: Callable[[type[Event], tuple[str, str]], Event] = tuple.__new__  # type: ignore[assignment]


def text_event(text: str) -> Event:
    """The per-token hot path: one C-level string escape, one concatenation."""
    return _new_event(Event, ("text", '{"type":"text","text":' + encode_basestring(text) + "}"))


def error_event(message: str) -> Event:
    return Event("error", '{"type":"error","error":' + encode_basestring(message) + "}")


DONE = Event("done", '{"type":"done"}')

#: Sentinel yielded while the source is idle; SSE writes it as :data:`PING`.
HEARTBEAT = Event("heartbeat", "")

#: The SSE keep-alive comment; clients ignore lines that start with ``:``.
PING = b": ping\n\n"


def event_from_dict(data: dict[str, Any]) -> Event | None:
    """Normalise a source-provided event dict; ``None`` means "emit nothing"."""
    kind = data.get("type")
    if kind == "text":
        text = data.get("text")
        if not isinstance(text, str):
            raise TypeError("a text event needs a string 'text'")
        return text_event(text) if text else None
    if kind == "done":
        return DONE
    if kind == "error":
        return error_event(str(data.get("error") or "The response failed."))
    if not isinstance(kind, str) or kind in RESERVED_TYPES or kind == "heartbeat":
        return None
    return Event(kind, _compact(data))


def part_event(kind: str, data: dict[str, Any]) -> Event:
    """A neutral event for a part RAIS v1 does not carry (reasoning, tools, steps); only
    the codecs of the protocols that do carry them ever see one. A value JSON cannot hold
    (a tool's output object) becomes its ``str()``."""
    return Event(kind, json.dumps({"type": kind, **data}, ensure_ascii=False, default=str))


def sse_frame(event: Event, event_id: str | None) -> bytes:
    """Frame one event for ``text/event-stream``: LF line ends, one ``data:`` line."""
    if event is HEARTBEAT:
        return PING
    if event_id is None:
        frame = "data: " + event.data + "\n\n"
    else:
        frame = "id: " + event_id + "\ndata: " + event.data + "\n\n"
    try:
        return frame.encode()
    except UnicodeEncodeError:  # lone surrogates from a broken tokenizer: escape them
        return _ascii_frame(event, event_id)


def sse_text(event: Event) -> str:
    """``data: {json}\n\n`` as a str that is always valid UTF-8 (for str-yielding APIs)."""
    frame = "data: " + event.data + "\n\n"
    if not frame.isascii():  # rare: only non-ASCII text can hide a lone surrogate
        try:
            frame.encode()
        except UnicodeEncodeError:
            return _ascii_frame(event, None).decode("ascii")
    return frame


def _ascii_frame(event: Event, event_id: str | None) -> bytes:
    data = json.loads(event.data)
    body = "data: " + json.dumps(data, separators=(",", ":")) + "\n\n"
    if event_id is not None:
        body = "id: " + event_id + "\n" + body
    return body.encode("ascii")
