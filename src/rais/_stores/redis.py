"""The Redis store: resume on any worker or machine, with Redis Streams.

One Redis stream per RAIS stream, key ``{prefix}{stream_id}``. Event ``n`` is the
entry with id ``n-1`` (an ``open`` marker sits at ``0-1``), so "the events after
position n" is exactly ``XREAD ... STREAMS key n-1``. Each write is one round trip
(``XADD ... MAXLEN ~`` per event plus ``PEXPIRE``, pipelined); live readers block
in ``XREAD BLOCK``. Short connect and socket timeouts and a single retry turn a
down or hung Redis into :class:`StoreUnavailable` within seconds, never a hang.

Writers (generations) and readers (reconnects, tails) use separate connection pools, so
a reconnect storm cannot take the connections a running answer writes with; the readers'
quick commands share a bounded pool (``max_readers``) and wait at most ``socket_timeout``
for a connection, past which a reconnect gets ``503``. A reader marks only a stream that
exists, so forged reconnects write nothing.

``redis`` (``pip install 'rais[redis]'``) is imported only when a store is used.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from typing import Any

from .._errors import redact
from .._events import Event
from .base import StoreUnavailable, read_until, resume_ttl

__all__ = ["RedisStore"]

logger = logging.getLogger("rais")

_TERMINAL = ("done", "error")

#: Mark a stream as being read until ARGV[1] (for ``resume_grace``), only if it exists.
_MARK_READ = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then "
    "redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2]) return 1 end return 0"
)


class RedisStore:
    """Resumable streams shared by every worker that points at the same Redis.

    ``url`` is any redis-py URL (``redis://``, ``rediss://``, ``unix://``). Streams
    keep their last ``max_events`` events and expire ``ttl`` seconds after their last
    event. ``max_wait`` caps one blocking read (readers loop, sending heartbeats).
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        ttl: float | None = None,
        max_events: int = 10_000,
        prefix: str = "rais:stream:",
        connect_timeout: float = 1.0,
        socket_timeout: float = 2.0,
        max_wait: float = 15.0,
        max_readers: int = 64,
    ) -> None:
        self.url = url
        self.ttl = resume_ttl() if ttl is None else ttl
        self.max_events = max_events
        self.prefix = prefix
        self.connect_timeout = connect_timeout
        self.socket_timeout = socket_timeout
        self.max_wait = max_wait
        self.max_readers = max_readers
        # redis.asyncio clients belong to one event loop: keep a set per loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Clients] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:  # never show the URL: it may carry a password
        return f"RedisStore(ttl={self.ttl})"

    async def start(self, stream_id: str) -> None:
        client = self._here().writer
        async with _available("start"):
            pipe = client.pipeline(transaction=False)
            pipe.xadd(self.prefix + stream_id, {"t": "open", "d": ""}, id="0-1")
            pipe.pexpire(self.prefix + stream_id, self._ttl_ms)
            await pipe.execute()

    async def append(self, stream_id: str, after: int, events: Sequence[Event]) -> None:
        if not events:
            return
        key = self.prefix + stream_id
        client = self._here().writer
        async with _available("append"):
            pipe = client.pipeline(transaction=False)
            for position, event in enumerate(events, after + 1):
                pipe.xadd(
                    key,
                    {"t": event.type, "d": event.data},
                    id=f"{position}-1",
                    maxlen=self.max_events,
                    approximate=True,
                )
            pipe.pexpire(key, self._ttl_ms)
            await pipe.execute()

    async def read(self, stream_id: str, after: int, wait: float) -> list[Event] | None:
        key = self.prefix + stream_id
        clients = self._here()
        client, blocking = clients.reader, clients.blocking
        async with _available("read"):
            # Readers say until when they read, so a resumable stream's grace period can
            # tell an answer nobody reads (on any worker) from one that is being read.
            until = repr(read_until(min(wait, self.max_wait)))
            await client.eval(_MARK_READ, 2, key, key + ":read", until, self._ttl_ms)
            if wait > 0:
                block = max(1, int(min(wait, self.max_wait) * 1000))
                found = await blocking.xread({key: f"{after}-1"}, count=1000, block=block)
            else:
                found = await client.xread({key: f"{after}-1"}, count=1000)
            if found:
                entries = found[0][1]
                if int(entries[0][0].partition("-")[0]) != after + 1:
                    return None  # trimmed past what the reader has: cannot resume exactly
                return [Event(fields["t"], fields["d"]) for _, fields in entries]
            # Nothing new: tell "still open" from "unknown, expired, past the end or ended".
            last = await client.xrevrange(key, "+", "-", count=1)
        if not last:
            return None
        last_id, fields = last[0]
        position = int(last_id.partition("-")[0])
        if position < after or (position == after and fields.get("t") in _TERMINAL):
            return None
        return []

    async def set_active(self, key: str, stream_id: str) -> None:
        """Remember ``stream_id`` as the chat ``key``'s reply in progress (for ``ttl``)."""
        client = self._here().writer
        async with _available("start"):
            await client.set(self.prefix + "active:" + key, stream_id, px=self._ttl_ms)

    async def active(self, key: str) -> str | None:
        """The stream last set active for the chat ``key``, unless it has expired."""
        client = self._here().reader
        async with _available("read"):
            value = await client.get(self.prefix + "active:" + key)
        return None if value is None else str(value)

    async def watched_until(self, stream_id: str) -> float | None:
        client = self._here().writer  # the generation asks: never queued behind readers
        async with _available("read"):
            value = await client.get(self.prefix + stream_id + ":read")
        return None if value is None else float(value)

    async def aclose(self) -> None:
        clients = self._clients.pop(asyncio.get_running_loop(), None)
        if clients is not None:
            for client in (clients.writer, clients.reader, clients.blocking):
                await client.aclose()

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    def _here(self) -> _Clients:
        """This loop's clients: the writers', the readers' quick commands, blocking reads."""
        loop = asyncio.get_running_loop()
        clients = self._clients.get(loop)
        if clients is None:
            clients = self._clients[loop] = _Clients(
                writer=self._connect(self.socket_timeout),
                reader=self._connect(self.socket_timeout, bounded=self.max_readers),
                blocking=self._connect(self.max_wait + self.socket_timeout),
            )
        return clients

    def _connect(self, socket_timeout: float, *, bounded: int | None = None) -> Any:
        from redis.asyncio import BlockingConnectionPool, ConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        options: dict[str, Any] = {
            "socket_connect_timeout": self.connect_timeout,
            "socket_timeout": socket_timeout,
            "retry": Retry(NoBackoff(), 1),  # one quick retry for a pooled connection gone stale
            "decode_responses": True,
            "encoding_errors": "surrogatepass",  # a broken tokenizer's lone surrogates survive
            "protocol": 2,
        }
        if bounded is None:
            pool = ConnectionPool.from_url(self.url, **options)
        else:  # wait briefly for a free connection, then fail (503) rather than queue
            pool = BlockingConnectionPool.from_url(
                self.url, max_connections=bounded, timeout=self.socket_timeout, **options
            )
        return Redis.from_pool(pool)  # the client owns (and closes) its pool


class _Clients:
    """One event loop's Redis clients."""

    __slots__ = ("blocking", "reader", "writer")

    def __init__(self, *, writer: Any, reader: Any, blocking: Any) -> None:
        self.writer = writer
        self.reader = reader
        self.blocking = blocking


class _available:
    """Turn any Redis or socket failure into :class:`StoreUnavailable` (logged, no URL)."""

    def __init__(self, operation: str) -> None:
        self.operation = operation

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type[BaseException] | None, exc: object, tb: object) -> None:
        if kind is None or not isinstance(exc, Exception) or isinstance(exc, StoreUnavailable):
            return
        from redis.exceptions import RedisError

        if isinstance(exc, (RedisError, OSError, asyncio.TimeoutError)):
            # Redis errors can quote the URL they dialled; never log its credentials.
            logger.warning(
                "rais resume store: redis %s failed: %s", self.operation, redact(repr(exc))
            )
            raise StoreUnavailable("The stream store is unavailable.") from exc
