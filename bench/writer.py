"""``python -m bench.writer``: the SSE writer's own CPU per event, in process, no server.

32 concurrent streams of a per-token source (``asyncio.sleep(0)`` before each token, as a
network-fed model stream; ``--burst``: tokens that are all ready at once) written to a
``send`` that does nothing, so what is left is the cost of turning tokens into frames.
Printed side by side, best and median of N rounds:

- ``ceiling``: an async generator of frames encoded before the run (what the servers'
  ceiling routes yield);
- ``hand-written``: an f-string + ``json.dumps`` per token (what a user would write);
- ``pipeline``: ``async for`` over rais's ``rais_events`` + ``sse_frame`` (no writer);
- ``rais push``: ``EventStream.send_to`` (Starlette, FastAPI, Litestar, aiohttp);
- ``rais pull``: ``async for`` over the ``EventStream`` (Django, Quart, the WSGI bridge).

Both rais rows run with heartbeats and the send timeout on. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from rais._endpoint import sse_reply
from rais._events import sse_frame
from rais._pipeline import rais_events
from rais._sse import EventStream

TOKEN = "tok "


async def tokens(count: int, paced: bool) -> AsyncIterator[str]:
    for _ in range(count):
        if paced:
            await asyncio.sleep(0)
        yield TOKEN


async def encoded(count: int, paced: bool) -> AsyncIterator[bytes]:
    frames = [
        f'id: {i + 1}\ndata: {{"type":"text","text":"{TOKEN}"}}\n\n'.encode() for i in range(count)
    ]
    for frame in frames:
        if paced:
            await asyncio.sleep(0)
        yield frame


async def send(chunk: bytes) -> None:
    return None


async def ceiling(count: int, paced: bool) -> None:
    async for frame in encoded(count, paced):
        await send(frame)


async def hand_written(count: int, paced: bool) -> None:
    number = 0
    async for token in tokens(count, paced):
        number += 1
        data = json.dumps({"type": "text", "text": token})
        await send(f"id: {number}\ndata: {data}\n\n".encode())


async def pipeline(count: int, paced: bool) -> None:
    number = 0
    async for event in rais_events(tokens(count, paced)):
        number += 1
        await send(sse_frame(event, str(number)))


async def _stream(count: int, paced: bool) -> EventStream:
    reply = await sse_reply(tokens(count, paced), heartbeat=15, send_timeout=30)
    assert isinstance(reply.stream, EventStream)
    return reply.stream


async def rais_push(count: int, paced: bool) -> None:
    await (await _stream(count, paced)).send_to(send)


async def rais_pull(count: int, paced: bool) -> None:
    async for frame in await _stream(count, paced):
        await send(frame)


RUNS: dict[str, Callable[[int, bool], Awaitable[None]]] = {
    "ceiling": ceiling,
    "hand-written": hand_written,
    "pipeline": pipeline,
    "rais push": rais_push,
    "rais pull": rais_pull,
}


async def cpu_per_event(
    run: Callable[[int, bool], Awaitable[None]], streams: int, count: int, paced: bool
) -> float:
    started = time.process_time()
    await asyncio.gather(*(run(count, paced) for _ in range(streams)))
    return (time.process_time() - started) / (streams * count) * 1e6


async def measure(rounds: int, streams: int, count: int, paced: bool) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in RUNS}
    for _ in range(rounds):  # interleaved, so load on the machine hits every row alike
        for name, run in RUNS.items():
            results[name].append(await cpu_per_event(run, streams, count, paced))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writer", description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--burst", action="store_true", help="sources that never wait")
    args = parser.parse_args(argv)
    results = asyncio.run(measure(args.rounds, args.streams, args.tokens, not args.burst))
    anchor = min(results["ceiling"])
    shape = "burst" if args.burst else "per-token"
    print(f"{args.streams} streams x {args.tokens} {shape} events, {args.rounds} rounds")
    print(f"{'':14s} {'best':>10s} {'median':>10s}   vs ceiling")
    for name, values in results.items():
        best = min(values)
        print(
            f"{name:14s} {best:7.2f} µs {statistics.median(values):7.2f} µs   {anchor / best:.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
