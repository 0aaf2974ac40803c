"""rais's own worker threads, one bounded pool per kind of app code.

A sync ``configure`` or ``owner``, a sync ``on_finish``, a sync tool and a sync generator
each run on a pool of their own, never on asyncio's default executor: that one is small
(``min(32, CPUs + 4)``) and the SDKs' DNS lookups (``getaddrinfo``) queue there. So a flood
of slow ``on_finish`` callbacks (a sync database driver under load, say) delays only the
streams waiting on them; new chats are still configured, and upstream calls still connect.

``RAIS_THREADS`` sizes the callback pools (32 threads each by default; sync generators and
tools get 8 times as many, as they run for a whole answer). Threads start on demand.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import threading
from collections.abc import Callable
from typing import Any, Literal, TypeVar

__all__ = ["Kind", "pool", "run"]

T = TypeVar("T")

#: ``callback``: configure and owner; ``on_finish``; ``tool``; ``source``: sync generators.
Kind = Literal["callback", "on_finish", "tool", "source"]
_LONG_RUNNING: frozenset[Kind] = frozenset({"tool", "source"})

_pools: dict[Kind, concurrent.futures.ThreadPoolExecutor] = {}
_lock = threading.Lock()


def size(kind: Kind) -> int:
    """The number of threads of ``kind``'s pool."""
    base = int(os.environ.get("RAIS_THREADS") or 32)
    return base * 8 if kind in _LONG_RUNNING else base


def pool(kind: Kind) -> concurrent.futures.ThreadPoolExecutor:
    """The pool of ``kind``, made on first use."""
    found = _pools.get(kind)
    if found is None:
        with _lock:
            found = _pools.get(kind)
            if found is None:
                name = "rais-" + kind.replace("_", "-")
                found = concurrent.futures.ThreadPoolExecutor(size(kind), thread_name_prefix=name)
                _pools[kind] = found
    return found


def run(kind: Kind, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """``fn(*args)`` on ``kind``'s pool, awaitable from the running loop."""
    loop = asyncio.get_running_loop()
    return loop.run_in_executor(pool(kind), functools.partial(fn, *args))
