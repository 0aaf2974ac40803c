"""The token source every bench route shares, and its pre-encoded twin for the ceilings.

``count`` tokens, ``interval`` seconds apart (0: as fast as the consumer takes them);
with ``yield=1`` an async source lets the event loop run after every token (as a
network-fed model stream does), so each token reaches the server on its own; with
``stamp=1`` each token is the ``time.monotonic()`` at which it was produced, so the
client (same machine, same clock) can measure the latency each stack adds.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal, NamedTuple

import rais

TOKEN = "tok "
DONE_FRAME = 'data: {"type":"done"}\n\n'

#: The wire protocols the imported rais serves besides RAIS v1 (``protocol=``). Empty
#: under the code before them (the bench's old-code anchor imports that ``rais``), so
#: the same apps serve both and only the routes that code has.
PROTOCOLS: tuple[Literal["ai-sdk", "ag-ui"], ...] = (
    ("ai-sdk", "ag-ui") if importlib.util.find_spec("rais._codecs") is not None else ()
)
# In the server's log: the bench checks which rais each of its servers imported.
print(f"bench app: rais from {rais.__file__}", flush=True)


class Spec(NamedTuple):
    count: int = 1000  # type: ignore[assignment]  # shadows tuple.count, on purpose
    interval: float = 0.0
    stamp: bool = False
    yield_each: bool = False


def parse_spec(text: str) -> Spec:
    values = dict(part.split("=", 1) for part in text.split(";") if "=" in part)
    return Spec(
        count=int(values.get("count", 1000)),
        interval=float(values.get("interval", 0)),
        stamp=values.get("stamp", "0") == "1",
        yield_each=values.get("yield", "0") == "1",
    )


def spec_from_body(body: bytes) -> Spec:
    data: Any = json.loads(body)
    return parse_spec(str(data["messages"][-1]["content"]))


def text(spec: Spec) -> str:
    """One token: ``TOKEN``, or its production time when stamped."""
    return f"{time.monotonic():.6f} " if spec.stamp else TOKEN


async def tokens(messages: list[dict[str, Any]]) -> AsyncIterator[str]:
    """The rais ``handler=``: plain text chunks, the common case for a model stream."""
    spec = parse_spec(str(messages[-1]["content"]))
    for i in range(spec.count):
        if spec.interval and i:
            await asyncio.sleep(spec.interval)
        elif spec.yield_each:
            await asyncio.sleep(0)
        yield text(spec)


def _frame(number: int, text: str) -> bytes:
    return f'id: {number}\ndata: {{"type":"text","text":"{text}"}}\n\n'.encode()


_DONE = DONE_FRAME.encode()


async def ceiling_frames(spec: Spec) -> AsyncIterator[bytes]:
    """Hand-written async generator of pre-encoded frames (no JSON encoding per token)."""
    for i in range(spec.count):
        if spec.interval and i:
            await asyncio.sleep(spec.interval)
        elif spec.yield_each:
            await asyncio.sleep(0)
        yield _frame(i + 1, text(spec))
    yield f"id: {spec.count + 1}\n".encode() + _DONE


def ceiling_frames_sync(spec: Spec) -> Iterator[bytes]:
    """The same for WSGI: a plain generator, written straight to the socket by the server.

    Per token (``yield=1``) it gives up the GIL after every token (``time.sleep(0)``),
    the thread's counterpart of the async sources' ``asyncio.sleep(0)``.
    """
    for i in range(spec.count):
        if spec.interval and i:
            time.sleep(spec.interval)
        elif spec.yield_each:
            time.sleep(0)
        yield _frame(i + 1, text(spec))
    yield f"id: {spec.count + 1}\n".encode() + _DONE


async def sse_starlette_events(spec: Spec) -> AsyncIterator[dict[str, Any]]:
    """sse-starlette's input: one dict per event (it encodes and frames them)."""
    for i in range(spec.count):
        if spec.interval and i:
            await asyncio.sleep(spec.interval)
        elif spec.yield_each:
            await asyncio.sleep(0)
        yield {"id": str(i + 1), "data": '{"type":"text","text":"' + text(spec) + '"}'}
    yield {"id": str(spec.count + 1), "data": '{"type":"done"}'}
