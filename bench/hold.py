"""Hold many open streams from several load processes (one process runs out of sockets,
and one event loop reading 10,000 of them would add its own delay to every token).

The parent starts :func:`hold_streams` in ``clients`` processes; each opens its share
(raising its own open-file limit), and they all follow the parent's steps: ``clear``
(forget what arrived so far: only the hold counts), ``report`` (token delays and gaps,
how many streams are still open and how many got no token), ``close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from bench.fdlimit import raise_fd_limit
from bench.load import StreamProtocol, open_stream


@dataclass
class Opened:
    live: int
    failed: int
    seconds: float


@dataclass
class Held:
    delays: list[float] = field(default_factory=list)  #: production -> arrival, seconds
    gaps: list[float] = field(default_factory=list)  #: between tokens of one stream
    still_open: int = 0
    silent: int = 0  #: open streams that got no token during the hold


def hold_streams(pipe: Connection, port: int, path: str, spec: str, count: int, batch: int) -> None:
    """A load process: open ``count`` streams, then answer the parent's steps."""
    raise_fd_limit(count + 256)
    asyncio.run(_hold(pipe, port, path, spec, count, batch))


async def _hold(pipe: Connection, port: int, path: str, spec: str, count: int, batch: int) -> None:
    loop = asyncio.get_running_loop()
    streams: list[StreamProtocol] = []
    failed = 0
    started = time.perf_counter()
    while len(streams) + failed < count:
        size = min(batch, count - len(streams) - failed)
        attempts = await asyncio.gather(
            *(open_stream(port, path, spec, stamps=True) for _ in range(size)),
            return_exceptions=True,
        )
        fresh = [a for a in attempts if isinstance(a, StreamProtocol)]
        failed += len(attempts) - len(fresh)
        streams += fresh
        if fresh:
            await asyncio.wait([p.started for p in fresh], timeout=30)
    live = sum(1 for p in streams if p.stream.status == 200 and not p.stream.closed)
    pipe.send(Opened(live, failed, time.perf_counter() - started))
    while True:
        step = await loop.run_in_executor(None, pipe.recv)
        if step == "clear":
            for protocol in streams:
                protocol.stream.stamps.clear()
                protocol.stream.arrivals.clear()
            pipe.send("cleared")
        elif step == "report":
            held = Held()
            for protocol in streams:
                stream = protocol.stream
                held.delays += [arrived - produced for produced, arrived in stream.stamps]
                held.gaps += [
                    b - a for a, b in zip(stream.arrivals, stream.arrivals[1:], strict=False)
                ]
                if not stream.closed:
                    held.still_open += 1
                    held.silent += not stream.stamps
            pipe.send(held)
        else:  # "close"
            for protocol in streams:
                protocol.abort()
            await asyncio.sleep(0.2)
            pipe.send("closed")
            return


class Clients:
    """The parent's side: ``clients`` load processes sharing ``count`` streams."""

    def __init__(self, port: int, path: str, spec: str, count: int, clients: int, batch: int):
        context = multiprocessing.get_context("spawn")  # no threads or loops inherited
        self.pipes: list[Connection] = []
        self.processes: list[Any] = []
        shares = [count // clients + (i < count % clients) for i in range(clients)]
        for share in shares:
            if not share:
                continue
            ours, theirs = context.Pipe()
            process = context.Process(
                target=hold_streams, args=(theirs, port, path, spec, share, batch), daemon=True
            )
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)

    def _all(self, timeout: float) -> list[Any]:
        answers = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise TimeoutError(f"a load process did not answer within {timeout} s")
            answers.append(pipe.recv())
        return answers

    def opened(self, timeout: float = 600) -> Opened:
        answers: list[Opened] = self._all(timeout)
        return Opened(
            sum(a.live for a in answers),
            sum(a.failed for a in answers),
            max(a.seconds for a in answers),
        )

    def step(self, name: str, timeout: float = 120) -> list[Any]:
        for pipe in self.pipes:
            pipe.send(name)
        return self._all(timeout)

    def report(self) -> Held:
        total = Held()
        for held in self.step("report"):
            total.delays += held.delays
            total.gaps += held.gaps
            total.still_open += held.still_open
            total.silent += held.silent
        return total

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError, TimeoutError):
            self.step("close", timeout=30)
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()
