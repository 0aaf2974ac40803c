"""Read a RAIS stream the way the browser clients do, keeping raw bytes and arrival times."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Received:
    status: int
    headers: httpx.Headers
    raw: bytes = b""
    events: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str | None] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    comments: int = 0

    @property
    def text(self) -> str:
        return "".join(e["text"] for e in self.events if e.get("type") == "text")

    @property
    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def json(self) -> Any:
        return json.loads(self.raw)


def parse_blocks(buffer: str) -> tuple[list[str], str]:
    """Split on blank lines exactly as ``useAIChat`` does (``\\n\\n``)."""
    *blocks, rest = buffer.split("\n\n")
    return blocks, rest


def read_stream(
    response: httpx.Response, received: Received, *, max_events: int | None = None
) -> None:
    buffer = ""
    decoder = __import__("codecs").getincrementaldecoder("utf-8")()
    for chunk in response.iter_raw():
        received.raw += chunk
        buffer += decoder.decode(chunk)
        blocks, buffer = parse_blocks(buffer)
        now = time.monotonic()
        for block in blocks:
            event_id = None
            for line in block.split("\n"):
                if line.startswith(":"):
                    received.comments += 1
                elif line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    received.events.append(json.loads(line[6:]))
                    received.ids.append(event_id)
                    received.arrivals.append(now)
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
