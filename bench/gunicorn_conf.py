"""The documented WSGI configuration for many concurrent streams on one gunicorn worker.

Each open stream holds one gthread thread (the core's sync bridge feeds it from one
shared event loop), so the worker needs as many threads as streams, and as many
connections. Threads start lazily, so idle capacity costs nothing; each thread's stack
is reserved as virtual memory and only touched pages count in RSS, but a small stack
keeps the address space of 1,000 threads modest::

    gunicorn app:app -k gthread --workers 1 --threads 1100 -c bench/gunicorn_conf.py

The thread count comes from the command line (``--threads``); this file sets the rest.
"""

from __future__ import annotations

import resource
import threading
from typing import Any

#: Stack per request thread: plenty for Flask or Django with the bridge (default: 8 MiB).
STACK_SIZE = 256 * 1024
#: Open-file limit the worker asks for (a socket per stream, plus the server's own).
FILES = 20_000

worker_class = "gthread"
workers = 1
worker_connections = 4000  # gthread stops accepting at this many open connections
graceful_timeout = 5


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = FILES if hard == resource.RLIM_INFINITY else min(FILES, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def on_starting(server: Any) -> None:
    _raise_fd_limit()


def post_worker_init(worker: Any) -> None:
    """Before the first request thread starts: every pool thread gets the small stack."""
    _raise_fd_limit()
    threading.stack_size(STACK_SIZE)
