"""What a resumable-stream store must do, and the error it raises when it cannot."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .._events import Event

__all__ = [
    "DEFAULT_TTL",
    "StoreFull",
    "StoreUnavailable",
    "StreamStore",
    "read_until",
    "resume_ttl",
    "watched_until",
]

#: Seconds a stream stays resumable after its last event (``RAIS_RESUME_TTL``).
DEFAULT_TTL = 300.0


def resume_ttl() -> float:
    """The retention window: ``RAIS_RESUME_TTL`` seconds, or :data:`DEFAULT_TTL`."""
    value = os.environ.get("RAIS_RESUME_TTL")
    return float(value) if value else DEFAULT_TTL


class StoreUnavailable(Exception):
    """The store cannot be reached (Redis down, hung or refusing); never carries secrets."""


class StoreFull(StoreUnavailable):
    """The store holds as many streams or bytes as it may: a new stream must wait."""


@runtime_checkable
class StreamStore(Protocol):
    """Append-only event logs, one per stream, that expire ``ttl`` seconds after their last write.

    Positions count from 1 within a stream. A store keeps the already-encoded
    :class:`~rais._events.Event` (type + compact JSON) so the hot path never re-encodes.
    Every method raises :class:`StoreUnavailable` when the backend cannot be reached.
    """

    ttl: float

    async def start(self, stream_id: str) -> None:
        """Register a new, empty stream, so readers can wait on it before its first event."""

    async def append(self, stream_id: str, after: int, events: Sequence[Event]) -> None:
        """Store ``events`` at positions ``after + 1 ...``; a terminal event finishes the stream."""

    async def read(self, stream_id: str, after: int, wait: float) -> list[Event] | None:
        """The events after position ``after``, in order and without gaps.

        Waits up to ``wait`` seconds for new events when there are none yet, then
        returns ``[]``. Returns ``None`` when nothing after ``after`` can ever be read:
        the stream is unknown or expired, ``after`` is past its end, the stream already
        ended at ``after``, or events after ``after`` were trimmed away.
        """

    async def aclose(self) -> None:
        """Release connections held for the running event loop."""


def read_until(wait: float) -> float:
    """The wall-clock time until which a read that may wait ``wait`` seconds is reading."""
    return time.time() + max(wait, 0.0)


async def watched_until(store: StreamStore, stream_id: str) -> float | None:
    """Until when (wall-clock) a reader of ``stream_id`` last said it is reading, if the
    store records it (``InMemoryStore`` and ``RedisStore`` do); ``None`` if unknown."""
    method = getattr(store, "watched_until", None)
    return None if method is None else await method(stream_id)  # type: ignore[no-any-return]
