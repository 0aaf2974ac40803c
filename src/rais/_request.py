"""Parse and validate a RAIS chat request body, once, for every adapter.

The result is either a :class:`ChatRequest` or a :class:`RequestError` that carries
the HTTP status and the JSON body to answer with before any streaming starts.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import threading
import time
from collections.abc import AsyncIterable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "ROLES",
    "ChatRequest",
    "Headers",
    "Limits",
    "RequestError",
    "chat_request",
    "check_content_length",
    "decode_body",
    "demote_system",
    "parse_chat_request",
    "read_body",
    "read_body_sync",
]

ROLES = frozenset({"system", "user", "assistant", "tool"})

#: JSON Schema of the request body, for OpenAPI documents.
CHAT_REQUEST_SCHEMA: dict[str, Any] = {
    "title": "ChatRequest",
    "type": "object",
    "required": ["messages"],
    "properties": {
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"type": "string", "enum": sorted(ROLES)},
                    "content": {"type": "string"},
                },
            },
        }
    },
    "additionalProperties": True,
}


class Headers(Protocol):
    """Any case-insensitive header mapping (Starlette, Django, Werkzeug, Quart all fit)."""

    def get(self, key: str, /) -> Any: ...


@dataclass(frozen=True)
class Limits:
    """Request limits; the defaults fit a long chat and stop abuse."""

    max_body_bytes: int = 1_048_576
    max_messages: int = 500
    max_content_chars: int = 200_000
    #: Seconds the whole body may take to arrive (``RAIS_BODY_TIMEOUT``, 30); a slower
    #: one (a client trickling it byte by byte, to hold a worker) gets 408. ``None``: no
    #: deadline.
    body_timeout: float | None = field(
        default_factory=lambda: float(os.environ.get("RAIS_BODY_TIMEOUT") or 30.0) or None
    )


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat body: ``messages`` plus any extra fields the client sent."""

    messages: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)


class RequestError(Exception):
    """A client error answered as ``status`` with a JSON body, before any streaming."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        detail: Any = None,
        kind: str = "invalid_request",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.kind = kind  #: the JSON error's ``type``
        self.headers = dict(headers or {})  #: e.g. ``Retry-After`` with a 429

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.kind, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return {"error": error}


def _is_json(content_type: str | None) -> bool:
    """Only JSON media types: a browser cannot send them cross-origin without a CORS
    preflight, so a cross-site form or ``text/plain`` POST can never start a paid answer."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _too_large(limits: Limits) -> RequestError:
    return RequestError(
        413, f"The request body is larger than {limits.max_body_bytes} bytes.", kind="too_large"
    )


def check_content_length(value: str | None, limits: Limits) -> int | None:
    """Refuse a declared body over the limit before reading a byte of it."""
    if value is None or value == "":
        return None
    try:
        length = int(value)
    except ValueError:
        raise RequestError(400, "The Content-Length header is not a number.") from None
    if length < 0:
        raise RequestError(400, "The Content-Length header is not a number.")
    if length > limits.max_body_bytes:
        raise _too_large(limits)
    return length


def _too_slow(limits: Limits) -> RequestError:
    return RequestError(
        408,
        f"The request body did not arrive within {limits.body_timeout:g} seconds.",
        kind="body_timeout",
    )


async def read_body(
    chunks: AsyncIterable[bytes], content_length: str | None, limits: Limits
) -> bytes:
    """Read a request body chunk by chunk, refusing it as soon as it passes the limit,
    so a huge (or chunked) body never sits in memory whole, or its deadline passes."""
    check_content_length(content_length, limits)
    body = bytearray()

    async def take_all() -> None:
        async for chunk in chunks:
            body.extend(chunk)
            if len(body) > limits.max_body_bytes:
                raise _too_large(limits)

    try:
        if limits.body_timeout is None:
            await take_all()
        else:
            await asyncio.wait_for(take_all(), limits.body_timeout)
    except RequestError:
        raise
    except asyncio.TimeoutError:
        raise _too_slow(limits) from None
    except Exception as exc:
        raise _framework_refusal(exc, limits) from exc
    return bytes(body)


def read_body_sync(
    read: Callable[[int], bytes],
    content_length: str | None,
    limits: Limits,
    *,
    interrupt: Callable[[], None] | None = None,
) -> bytes:
    """:func:`read_body` for WSGI: ``read`` is ``wsgi.input.read`` (or a wrapper).

    A blocked ``read`` cannot be timed out from here: ``interrupt`` (which shuts the
    client socket's reading side, when the server exposes it) is called at the deadline
    from a timer thread, so a trickled body frees its worker thread in time."""
    length = check_content_length(content_length, limits)
    body = bytearray()
    remaining = limits.max_body_bytes + 1 if length is None else length
    deadline = None if limits.body_timeout is None else time.monotonic() + limits.body_timeout
    timer = None
    if interrupt is not None and limits.body_timeout is not None:
        timer = threading.Timer(limits.body_timeout, interrupt)
        timer.daemon = True
        timer.start()
    try:
        while remaining > 0:
            chunk = read(min(65536, remaining))
            if deadline is not None and time.monotonic() > deadline:
                raise _too_slow(limits)
            if not chunk:
                break
            body += chunk
            remaining -= len(chunk)
            if len(body) > limits.max_body_bytes:
                raise _too_large(limits)
    except RequestError:
        raise
    except Exception as exc:
        if deadline is not None and time.monotonic() > deadline:
            raise _too_slow(limits) from None
        raise _framework_refusal(exc, limits) from exc
    finally:
        if timer is not None:
            timer.cancel()
    return bytes(body)


def _framework_refusal(exc: Exception, limits: Limits) -> Exception:
    """A framework's own body limit (Werkzeug/Quart 413, Django's RequestDataTooBig) is
    answered with the core's 413 JSON, not the framework's HTML page."""
    code = getattr(exc, "code", None) or getattr(exc, "status_code", None)
    if code == 413 or type(exc).__name__ == "RequestDataTooBig":
        return _too_large(limits)
    if isinstance(exc, (ConnectionError, OSError)) or type(exc).__name__ == "ClientDisconnect":
        return RequestError(400, "The request body was cut short.")
    return exc


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); echoed back they would break the client.
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # 1e999 would be inf: no more JSON than NaN is, and it breaks clients it is echoed to.
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"{text} is out of range for a JSON number")
    return value


def parse_chat_request(
    body: bytes, content_type: str | None = "application/json", limits: Limits | None = None
) -> ChatRequest:
    """Validate ``body`` into a :class:`ChatRequest` or raise :class:`RequestError`.

    ``content_type`` is the request's header: a missing one (``None``) is refused, since
    only JSON media types need a CORS preflight from another origin."""
    limits = limits or Limits()
    return chat_request(decode_body(body, content_type, limits), limits)


def decode_body(body: bytes, content_type: str | None, limits: Limits) -> dict[str, Any]:
    """The JSON object of a request body, whatever the protocol: size, media type, syntax."""
    if len(body) > limits.max_body_bytes:
        raise _too_large(limits)
    if not _is_json(content_type):
        raise RequestError(
            415,
            "The request body must be JSON (Content-Type: application/json).",
            kind="unsupported_media_type",
        )
    try:
        data = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise RequestError(400, "The request body is not valid JSON.", detail=str(exc)) from None
    if not isinstance(data, dict):
        raise RequestError(422, "The request body must be a JSON object with a 'messages' list.")
    return data


def chat_request(data: dict[str, Any], limits: Limits) -> ChatRequest:
    """A RAIS v1 body (``{"messages": [{role, content}], ...extra}``) as a :class:`ChatRequest`."""
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(422, "'messages' must be a non-empty list of {role, content} objects.")
    check_count(messages, limits)
    clean: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise RequestError(422, f"{where} must be an object with 'role' and 'content'.")
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:  # a list or dict is unhashable
            raise RequestError(
                422,
                f"{where}.role must be one of {', '.join(sorted(ROLES))}.",
                detail={"role": role},
            )
        content = message.get("content")
        if not isinstance(content, str):
            raise RequestError(422, f"{where}.content must be a string.")
        check_content(content, where, limits)
        clean.append({"role": role, "content": content})
    extra = {key: value for key, value in data.items() if key != "messages"}
    return ChatRequest(messages=clean, extra=extra)


def check_count(messages: list[Any], limits: Limits) -> None:
    """Refuse a conversation with more messages than the limit (every protocol)."""
    if len(messages) > limits.max_messages:
        raise RequestError(413, f"Too many messages: at most {limits.max_messages} are allowed.")


def check_content(content: str, where: str, limits: Limits) -> None:
    """Refuse one message's text over the limit (every protocol)."""
    if len(content) > limits.max_content_chars:
        raise RequestError(
            413, f"{where}.content is longer than {limits.max_content_chars} characters."
        )


def demote_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A client's ``system`` messages as ``user`` ones: only the server's own prompt may
    speak with the operator's voice (a browser could otherwise add instructions next to
    it). ``client_system=True`` on an endpoint keeps them."""
    if not any(message.get("role") == "system" for message in messages):
        return messages
    return [
        {**message, "role": "user"} if message.get("role") == "system" else message
        for message in messages
    ]
