"""Parse and validate a RAIS chat request body, once, for every adapter.

The result is either a :class:`ChatRequest` or a :class:`RequestError` that carries
the HTTP status and the JSON body to answer with before any streaming starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ROLES", "ChatRequest", "Limits", "RequestError", "parse_chat_request"]

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


@dataclass(frozen=True)
class Limits:
    """Request limits; the defaults fit a long chat and stop abuse."""

    max_body_bytes: int = 1_048_576
    max_messages: int = 500
    max_content_chars: int = 200_000


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat body: ``messages`` plus any extra fields the client sent."""

    messages: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)


class RequestError(Exception):
    """A client error answered as ``status`` with a JSON body, before any streaming."""

    def __init__(self, status: int, message: str, *, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": "invalid_request", "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return {"error": error}


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # be lenient with clients that omit it; the body still has to parse
    media = content_type.split(";", 1)[0].strip().lower()
    # text/plain is what fetch() sends for a bare string body (a CORS "simple" request).
    return media in ("application/json", "text/plain") or (
        media.startswith("application/") and media.endswith("+json")
    )


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); echoed back they would break the client.
    raise ValueError(f"{name} is not valid JSON")


def parse_chat_request(
    body: bytes, content_type: str | None = None, limits: Limits | None = None
) -> ChatRequest:
    """Validate ``body`` into a :class:`ChatRequest` or raise :class:`RequestError`."""
    limits = limits or Limits()
    if len(body) > limits.max_body_bytes:
        raise RequestError(413, f"The request body is larger than {limits.max_body_bytes} bytes.")
    if not _is_json(content_type):
        raise RequestError(415, "The request body must be JSON (Content-Type: application/json).")
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise RequestError(400, "The request body is not valid JSON.", detail=str(exc)) from None
    if not isinstance(data, dict):
        raise RequestError(422, "The request body must be a JSON object with a 'messages' list.")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(422, "'messages' must be a non-empty list of {role, content} objects.")
    if len(messages) > limits.max_messages:
        raise RequestError(413, f"Too many messages: at most {limits.max_messages} are allowed.")
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
        if len(content) > limits.max_content_chars:
            raise RequestError(
                413, f"{where}.content is longer than {limits.max_content_chars} characters."
            )
        clean.append({"role": role, "content": content})
    extra = {key: value for key, value in data.items() if key != "messages"}
    return ChatRequest(messages=clean, extra=extra)
