"""What the in-process tests share: request bodies, bounded waits, an ``on_finish`` recorder."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from rais import StreamResult
from tests.fakes.upstreams import FakeUpstream, RecordedRequest
from tests.inprocess.clients import CHAT_PATH, Client

#: A bound for what takes milliseconds on an idle machine.
DEADLINE = 20.0


def ask(content: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], **extra}


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll (bounded): ``on_finish`` runs as a task after the stream has ended."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Finished:
    """An ``on_finish`` that records results by the ``tag`` body field of their request."""

    def __init__(self) -> None:
        self.results: list[StreamResult] = []

    def __call__(self, result: StreamResult) -> None:
        self.results.append(result)

    def tagged(self, tag: str) -> list[StreamResult]:
        return [r for r in self.results if r.chat is not None and r.chat.extra.get("tag") == tag]

    async def one(self, tag: str) -> StreamResult:
        await wait_until(lambda: bool(self.tagged(tag)), f"on_finish of {tag!r}")
        return self.tagged(tag)[0]

    async def exactly_once(self, client: Client, tag: str, path: str = CHAT_PATH) -> StreamResult:
        """The result of ``tag``, after a later stream has finished too: were ``on_finish``
        called twice for ``tag``, the second call would have been seen by then."""
        result = await self.one(tag)
        later = await client.post(path, json=ask("[count:1]", tag=f"{tag}-later"))
        assert later.status == 200, later.body
        await self.one(f"{tag}-later")
        assert len(self.tagged(tag)) == 1, self.tagged(tag)
        return result


def unique(directives: str) -> str:
    """A user message no other test sends: the fake upstream records every request."""
    return f"{directives} {uuid.uuid4().hex}"


def sent_with(upstream: FakeUpstream, marker: str) -> RecordedRequest:
    """The request the fake upstream received whose last message contains ``marker``."""
    found = [r for r in upstream.requests if r.json and marker in str(r.json["messages"][-1])]
    assert len(found) == 1, found
    return found[0]
