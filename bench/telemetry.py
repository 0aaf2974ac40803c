"""``python -m bench.telemetry``: what OpenTelemetry costs per stream, in process.

Short streams (20 per-token tokens each, ``asyncio.sleep(0)`` before each) run through
rais's pipeline with their :class:`~rais._chat.Turn` finished as the endpoint does, three
ways, side by side (best and median of N rounds, microseconds per stream):

- ``off``: no telemetry (as without ``opentelemetry-api``), the anchor;
- ``api``: ``opentelemetry-api`` installed, no SDK configured (its no-op providers);
- ``sdk``: a recording ``TracerProvider`` and ``MeterProvider`` (no exporter), so the span,
  its attributes and the four metrics are really made.

The span is per stream: its cost is per stream, and the per-token path does not change.
Needs ``rais[otel]`` and ``opentelemetry-sdk`` (the dev extra). Nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator

from rais import _telemetry
from rais._chat import Chat, Turn
from rais._pipeline import rais_events

TOKENS = 20


async def tokens() -> AsyncIterator[str]:
    for _ in range(TOKENS):
        await asyncio.sleep(0)
        yield "tok "


async def one_stream(telemetry: bool) -> None:
    turn = Turn(Chat([{"role": "user", "content": "hi"}]), model="bench-model")
    if not telemetry:
        turn.telemetry = None
    async for _ in rais_events(tokens(), turn=turn):
        pass
    turn.finish("done", None)


async def per_stream(streams: int, telemetry: bool) -> float:
    started = time.perf_counter()
    for _ in range(streams):
        await one_stream(telemetry)
    return (time.perf_counter() - started) / streams * 1e6


def measure(streams: int, rounds: int) -> dict[str, list[float]]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    results: dict[str, list[float]] = {"off": [], "api": [], "sdk": []}
    for _ in range(rounds):
        for name in results:
            if name == "sdk":
                _telemetry.use_providers(TracerProvider(), MeterProvider())
            else:
                _telemetry.use_providers(None, None)
            results[name].append(asyncio.run(per_stream(streams, telemetry=name != "off")))
    _telemetry.use_providers(None, None)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.telemetry", description=__doc__)
    parser.add_argument("--streams", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    results = measure(args.streams, args.rounds)
    anchor = min(results["off"])
    print(f"{TOKENS}-token streams, {args.streams} per round, {args.rounds} rounds")
    print(f"{'':6} {'best µs/stream':>15} {'median':>9} {'vs off':>8}")
    for name, values in results.items():
        best = min(values)
        print(
            f"{name:6} {best:15.1f} {statistics.median(values):9.1f}"
            f" {best / anchor:7.2f}x  (+{best - anchor:.1f} µs)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
