"""Unit tests of the async-to-sync bridge used by WSGI adapters."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import pytest

from rais.bridge import iterate_sync, run_on_bridge, run_sync

pytestmark = pytest.mark.timeout(30)


def in_thread(fn, *args):  # type: ignore[no-untyped-def]
    """Run ``fn`` in a plain thread (like a WSGI worker) and return its result or raise."""
    result: list[object] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn(*args))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(20)
    assert not thread.is_alive()
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


def test_closing_early_runs_the_async_generators_finally() -> None:
    log: list[str] = []

    def consume() -> None:
        iterator = iterate_sync(numbers(1000, log))
        assert next(iterator) == 0
        assert next(iterator) == 1
        iterator.close()  # what a WSGI server does when the client disconnects
        assert log[-1] == "finally", "closed synchronously, before close() returned"

    in_thread(consume)
    assert "made 999" not in log


def test_breaking_out_of_a_for_loop_closes_too() -> None:
    log: list[str] = []

    def consume() -> None:
        for item in iterate_sync(numbers(1000, log)):
            if item == 3:
                break

    in_thread(consume)
    assert log[-1] == "finally"


def test_closing_does_not_wait_for_the_next_item() -> None:
    events: list[str] = []

    async def slow() -> AsyncIterator[str]:
        try:
            yield "first"
            await asyncio.sleep(60)  # the model would take a minute for the next token
            yield "never"
        finally:
            events.append("closed")

    def consume() -> None:
        iterator = iterate_sync(slow())
        assert next(iterator) == "first"
        iterator.close()

    started = time.monotonic()
    in_thread(consume)
    assert time.monotonic() - started < 5
    assert events == ["closed"]


def test_iterate_sync_propagates_errors() -> None:
    async def broken() -> AsyncIterator[int]:
        yield 1
        raise ValueError("async side failed")

    def consume() -> list[int]:
        out = []
        for item in iterate_sync(broken()):
            out.append(item)
        return out

    with pytest.raises(ValueError, match="async side failed"):
        in_thread(consume)


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
