"""Unit tests of the async-to-sync bridge used by WSGI adapters.

``iterate_sync`` hands over one item per call; ``stream_sync`` (what the adapters
use for a response body) runs ahead and joins chunks that are ready. Where both
promise the same, one test runs on both.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from rais._bridge import iterate_sync, run_on_bridge, run_sync, stream_sync

pytestmark = pytest.mark.timeout(60)

#: A bound for work that takes milliseconds on an idle machine.
DEADLINE = 20.0

Bridge = Callable[[AsyncIterator[bytes]], Iterator[bytes]]
BRIDGES = pytest.mark.parametrize("bridge", [iterate_sync, stream_sync], ids=lambda b: b.__name__)


def in_thread(fn, *args):  # type: ignore[no-untyped-def]
    """Run ``fn`` in a plain thread (like a WSGI worker) and return its result or raise.

    A ``fn`` still running after :data:`DEADLINE` fails the test (it is left behind as
    a daemon thread), so a bridge that waits when it must not cannot hang the suite.
    """
    result: list[object] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn(*args))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    assert not thread.is_alive(), f"still running after {DEADLINE} s"
    if error:
        raise error[0]
    return result[0]


async def numbers(n: int, log: list[str]) -> AsyncIterator[int]:
    try:
        for i in range(n):
            await asyncio.sleep(0.001)
            log.append(f"made {i}")
            yield i
    finally:
        log.append("finally")


async def numbered(n: int, log: list[str]) -> AsyncIterator[bytes]:
    try:
        for i in range(n):
            await asyncio.sleep(0)
            yield f"{i},".encode()
    finally:
        log.append("finally")


async def waits_after_first(log: list[str]) -> AsyncIterator[bytes]:
    """A model that sends one token and then nothing for an hour."""
    try:
        yield b"first"
        await asyncio.sleep(3600)
        yield b"never"
    finally:
        log.append("finally")


def test_iterate_sync_yields_in_order_from_a_plain_thread() -> None:
    log: list[str] = []
    assert in_thread(lambda: list(iterate_sync(numbers(50, log)))) == list(range(50))
    assert log[-1] == "finally"


def test_iterate_sync_is_lazy() -> None:
    log: list[str] = []

    def consume() -> list[str]:
        seen = []
        for item in iterate_sync(numbers(5, log)):
            seen.append(f"got {item}")
            log.append(f"got {item}")
        return seen

    in_thread(consume)
    # each item is produced only when the sync side asks for it: no read-ahead buffering
    assert log[:4] == ["made 0", "got 0", "made 1", "got 1"]


def test_iterate_sync_from_the_main_thread() -> None:
    log: list[str] = []
    assert list(iterate_sync(numbers(3, log))) == [0, 1, 2]


@BRIDGES
def test_closing_early_closes_the_async_stream_before_close_returns(bridge: Bridge) -> None:
    log: list[str] = []

    def consume() -> None:
        iterator = bridge(numbered(10**9, log))
        assert next(iterator).startswith(b"0,")
        iterator.close()  # what a WSGI server does when the client disconnects
        assert log == ["finally"], "closed synchronously, before close() returned"

    in_thread(consume)


@BRIDGES
def test_breaking_out_of_a_for_loop_closes_too(bridge: Bridge) -> None:
    log: list[str] = []

    def consume() -> None:
        for chunk in bridge(numbered(10**9, log)):
            if b"3," in chunk:
                break

    in_thread(consume)
    assert log == ["finally"]


@BRIDGES
def test_closing_does_not_wait_for_the_next_item(bridge: Bridge) -> None:
    log: list[str] = []

    def consume() -> None:
        iterator = bridge(waits_after_first(log))
        assert next(iterator) == b"first"
        iterator.close()  # must not wait the hour for "never": in_thread's deadline

    in_thread(consume)
    assert log == ["finally"]


@BRIDGES
def test_the_streams_error_is_raised_after_what_came_before(bridge: Bridge) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"a"
        raise ValueError("async side failed")

    got: list[bytes] = []

    def consume() -> None:
        for chunk in bridge(broken()):
            got.append(chunk)

    with pytest.raises(ValueError, match="async side failed"):
        in_thread(consume)
    assert got == [b"a"]


@BRIDGES
def test_each_chunk_is_handed_over_before_the_next_exists(bridge: Bridge) -> None:
    """Streamed, not buffered: the source makes chunk i+1 only after the sync side has i."""
    received: list[bytes] = []
    handed: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def lockstep() -> AsyncIterator[bytes]:
        for i in range(4):
            handed.append((asyncio.get_running_loop(), asyncio.Event()))
            yield f"{i},".encode()
            await handed[-1][1].wait()  # a bridge that waits for more would wait forever

    def consume() -> None:
        for chunk in bridge(lockstep()):
            received.append(chunk)
            loop, got = handed[-1]
            loop.call_soon_threadsafe(got.set)

    in_thread(consume)
    assert received == [b"0,", b"1,", b"2,", b"3,"]


def test_stream_sync_delivers_every_byte_in_order_and_joins_what_is_ready() -> None:
    log: list[str] = []
    chunks = in_thread(lambda: list(stream_sync(numbered(2000, log))))
    assert b"".join(chunks) == b"".join(f"{i},".encode() for i in range(2000))
    assert len(chunks) < 2000  # chunks already there are written together
    assert log == ["finally"]


def test_concurrent_sync_consumers_share_the_loop() -> None:
    def consume(n: int) -> list[int]:
        return list(iterate_sync(numbers(n, [])))

    results: dict[int, list[int]] = {}

    def worker(n: int) -> None:
        results[n] = consume(n)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(5, 25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert results == {n: list(range(n)) for n in range(5, 25)}


def test_run_sync_returns_results() -> None:
    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0.001)
        return a + b

    assert in_thread(lambda: run_sync(add(2, 3))) == 5
    assert run_sync(add(4, 5)) == 9


def test_run_sync_propagates_exceptions() -> None:
    class Boom(Exception):
        pass

    async def fail() -> None:
        await asyncio.sleep(0)
        raise Boom("from the loop")

    with pytest.raises(Boom, match="from the loop"):
        in_thread(lambda: run_sync(fail()))


def test_run_sync_runs_on_one_shared_loop() -> None:
    async def loop_id() -> int:
        return id(asyncio.get_running_loop())

    first = in_thread(lambda: run_sync(loop_id()))
    second = in_thread(lambda: run_sync(loop_id()))
    assert first == second == run_sync(loop_id())


async def test_run_on_bridge_from_another_loop() -> None:
    async def where() -> tuple[int, str]:
        return id(asyncio.get_running_loop()), threading.current_thread().name

    loop_id, thread_name = await run_on_bridge(where())
    assert loop_id != id(asyncio.get_running_loop())
    assert thread_name == "rais-bridge"
