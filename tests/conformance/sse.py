"""Read a RAIS stream the way the browser clients do, keeping raw bytes and arrival times."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from rais._sse_decode import Block, SSEBlockDecoder


@dataclass
class Received:
    status: int
    headers: httpx.Headers
    raw: bytes = b""
    events: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str | None] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    comments: int = 0
    #: The AI SDK's end marker (``data: [DONE]``, not JSON) arrived.
    done_marker: bool = False

    @property
    def text(self) -> str:
        return "".join(e["text"] for e in self.events if e.get("type") == "text")

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def json(self) -> Any:
        return json.loads(self.raw)

    def add(self, block: Block) -> None:
        self.comments += len(block.comments)
        for data in block.data:
            if data == "[DONE]":
                self.done_marker = True
                continue
            self.events.append(json.loads(data))
            self.ids.append(block.event_id)
            self.arrivals.append(block.arrival)


def split_body(raw: bytes) -> tuple[list[Block], str]:
    """A whole body's blocks, and the unterminated text after the last one."""
    decoder = SSEBlockDecoder()
    blocks = decoder.feed(raw)
    tail, rest = decoder.end()
    return blocks + tail, rest


async def ablocks(response: httpx.Response) -> AsyncIterator[Block]:
    """The blocks of an async streaming response, as they complete."""
    decoder = SSEBlockDecoder()
    async for chunk in response.aiter_raw():
        for block in decoder.feed(chunk):
            yield block


def read_stream(
    response: httpx.Response, received: Received, *, max_events: int | None = None
) -> None:
    """Read events as a browser does: blocks split on ``\\n\\n`` only, one event per ``data:``."""
    decoder = SSEBlockDecoder()
    for chunk in response.iter_raw():
        received.raw += chunk
        for block in decoder.feed(chunk):
            received.add(block)
        if max_events is not None and len(received.events) >= max_events:
            return


def chat(
    client: httpx.Client,
    url: str,
    content: str | None = None,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    max_events: int | None = None,
) -> Received:
    """POST a chat and read the stream (or the error body); stop after ``max_events``."""
    if body is None:
        body = {"messages": [{"role": "user", "content": content or "hello"}]}
    with client.stream(
        "POST",
        url,
        content=json.dumps(body),
        headers={"Content-Type": "application/json", **(headers or {})},
    ) as response:
        received = Received(response.status_code, response.headers)
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            read_stream(response, received, max_events=max_events)
        else:
            received.raw = response.read()
    return received
