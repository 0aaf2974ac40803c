"""Stores for resumable streams: in-process (one worker) and Redis (any number of workers)."""

from __future__ import annotations

from .base import DEFAULT_TTL, StoreFull, StoreUnavailable, StreamStore, resume_ttl
from .memory import InMemoryStore
from .redis import RedisStore

__all__ = [
    "DEFAULT_TTL",
    "InMemoryStore",
    "RedisStore",
    "StoreFull",
    "StoreUnavailable",
    "StreamStore",
    "resume_ttl",
]
