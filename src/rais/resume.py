"""Resumable streams (the RAIS "Full" level): the stores that keep each stream's events.

With ``resume=`` (or ``RAIS_RESUME_URL``) every event gets an ``id:`` and a reconnect with
``Last-Event-ID`` gets exactly what it missed, then the live tail. The events live in a
:class:`StreamStore`: an :class:`InMemoryStore` for one process, a :class:`RedisStore` when
a reconnect may land on another worker, or any object with the same methods.
"""

from __future__ import annotations

from ._stores import (
    DEFAULT_TTL,
    InMemoryStore,
    RedisStore,
    StoreFull,
    StoreUnavailable,
    StreamStore,
    resume_ttl,
)

__all__ = [
    "DEFAULT_TTL",
    "InMemoryStore",
    "RedisStore",
    "StoreFull",
    "StoreUnavailable",
    "StreamStore",
    "open_store",
    "resume_ttl",
]

_shared_stores: dict[tuple[str, float], StreamStore] = {}


def open_store(spec: StreamStore | str | bool | None) -> StreamStore | None:
    """The store for a ``resume=`` option (or ``RAIS_RESUME_URL``).

    ``None``/``False``/``""``: resume off. ``True``, ``"memory"`` or ``"memory://"``: an
    :class:`InMemoryStore`. ``redis://``, ``rediss://`` or ``unix://`` URLs: a
    :class:`RedisStore`. A store object is used as is. Anything else fails at start-up.
    """
    if spec is None or spec is False or spec == "":
        return None
    if spec is True:
        spec = "memory://"
    if isinstance(spec, str):
        # One store per URL and process: response helpers build an endpoint per request,
        # and a reconnect must find the stream its first request started.
        key = (spec, resume_ttl())
        shared = _shared_stores.get(key)
        if shared is not None:
            return shared
        if spec in ("memory", "memory://"):
            return _shared_stores.setdefault(key, InMemoryStore())
        if spec.startswith(("redis://", "rediss://", "unix://")):
            return _shared_stores.setdefault(key, RedisStore(spec))
        raise ValueError(
            "resume must be a store, True, 'memory://' or a redis:// URL, "
            f"not {spec.split('://')[0]!r}://..."
        )
    if isinstance(spec, StreamStore):
        return spec
    raise TypeError(f"resume must be a store, a URL or a bool, not {type(spec).__name__}")
