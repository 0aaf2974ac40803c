"""What the core answers, as plain data: the endpoint decides it, the writers fill its stream,
and each adapter turns it into its framework's response.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ._bridge import stream_sync
from ._request import RequestError

__all__ = ["Reply", "error_reply", "json_reply"]


@dataclass
class Reply:
    """What to answer: a JSON error (``body``) or an event stream (``stream``)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    #: An :class:`~rais._sse.EventStream` (or a resumable tail): ``async for`` it, or let
    #: it write (``send_to``) where the adapter owns the write loop.
    stream: AsyncIterable[bytes] | None = None

    @property
    def media_type(self) -> str:
        return dict(self.headers).get("Content-Type", "application/json")

    def sync_stream(self) -> Iterator[bytes]:
        """The stream for a WSGI response body, pulled through the shared bridge loop."""
        assert self.stream is not None
        return stream_sync(self.stream)


def json_reply(status: int, data: dict[str, Any], headers: Iterable[tuple[str, str]] = ()) -> Reply:
    body = json.dumps(data, separators=(",", ":")).encode()
    return Reply(status, [("Content-Type", "application/json"), *headers], body)


def error_reply(exc: RequestError) -> Reply:
    return json_reply(exc.status, exc.body(), exc.headers.items())
