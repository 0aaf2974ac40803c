"""The one async API every in-process client offers, whatever its framework's test client.

A client builds a tiny app per test from the adapter's one-liner (at :data:`CHAT_PATH`)
and a hand-written view that calls the framework's ``rais_response`` helper (at
:data:`HELPER_PATH`), both with the endpoint options the test passed, then answers
``post``/``get``/``options`` with a plain :class:`Response`. Tests never see the
framework, so adding a framework is adding one subclass.
"""

from __future__ import annotations

import json as jsonlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from rais._sse_decode import SSEBlockDecoder

__all__ = ["CHAT_PATH", "HELPER_PATH", "METHODS", "Client", "Response", "helper_handler"]

#: Where each app mounts the adapter's one-liner.
CHAT_PATH = "/api/chat"
#: Where each app mounts a hand-written view calling the framework's ``rais_response``.
HELPER_PATH = "/api/helper"
#: Every method a hand-written view accepts, so the core answers each one.
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@dataclass
class Response:
    """What came back: the status, the headers (case-insensitive) and the whole body."""

    status: int
    headers: httpx.Headers
    body: bytes
    events: list[dict[str, Any]] = field(init=False)
    ids: list[str | None] = field(init=False)
    comments: int = field(init=False)
    #: Every ``data:`` payload as sent (the AI SDK's ``[DONE]`` included, which is not JSON).
    data: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.events, self.ids, self.comments, self.data = [], [], 0, []
        if self.headers.get("content-type", "").startswith("text/event-stream"):
            decoder = SSEBlockDecoder()
            blocks = decoder.feed(self.body)
            tail, _rest = decoder.end()
            for block in blocks + tail:
                self.comments += len(block.comments)
                for data in block.data:
                    self.data.append(data)
                    if data == "[DONE]":
                        continue
                    self.events.append(jsonlib.loads(data))
                    self.ids.append(block.event_id)

    @property
    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    @property
    def text(self) -> str:
        return "".join(e["text"] for e in self.events if e.get("type") == "text")

    def json(self) -> Any:
        return jsonlib.loads(self.body)


def helper_handler(options: dict[str, Any]) -> Any:
    """The hand-written view's handler: the test's, or the endpoint's provider via ``chat``."""
    handler = options.get("handler")
    if handler is not None:
        return handler

    def via_provider(chat: Any) -> Any:
        return chat.stream()

    return via_provider


def response_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options of ``rais_response``: all the endpoint's but ``handler``."""
    return {key: value for key, value in options.items() if key != "handler"}


class Client(ABC):
    """One framework's app, built from ``options``, driven through its test client."""

    #: The test id, e.g. ``"django-wsgi"``.
    name: ClassVar[str]
    #: WSGI apps may not send hop-by-hop headers (``Connection``).
    wsgi: ClassVar[bool] = False

    def __init__(self, options: dict[str, Any]) -> None:
        self.endpoint_options = options

    def helper_args(self) -> tuple[Any, dict[str, Any]]:
        """The hand-written view's ``rais_response(handler, **options)`` arguments."""
        return helper_handler(self.endpoint_options), response_options(self.endpoint_options)

    @classmethod
    @abstractmethod
    def request_types(cls) -> tuple[type, ...]:
        """What ``chat.request`` is on this framework (its own request type)."""

    @abstractmethod
    async def start(self) -> None:
        """Build the app from ``self.endpoint_options`` and open the test client."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def request(
        self, method: str, path: str, content: bytes | None, headers: list[tuple[str, str]]
    ) -> Response: ...

    async def post(
        self,
        path: str = CHAT_PATH,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """POST ``json`` (sent as ``application/json``) or raw ``content`` with ``headers``."""
        sent = dict(headers or {})
        if json is not None:
            content = jsonlib.dumps(json).encode()
            sent.setdefault("Content-Type", "application/json")
        return await self.request("POST", path, content, list(sent.items()))

    async def get(
        self, path: str = CHAT_PATH, *, headers: dict[str, str] | None = None
    ) -> Response:
        return await self.request("GET", path, None, list((headers or {}).items()))

    async def options(
        self, path: str = CHAT_PATH, *, headers: dict[str, str] | None = None
    ) -> Response:
        return await self.request("OPTIONS", path, None, list((headers or {}).items()))


def headers_of(pairs: Iterable[tuple[str, str]]) -> httpx.Headers:
    return httpx.Headers(list(pairs))
