"""The servers the benchmarks boot: ``tests/servers.py``'s, with the bench twins of the apps."""

from __future__ import annotations

import dataclasses
import resource

from tests.servers import SERVERS, ServerSpec

#: Servers whose adapter runs on an event loop (the ASGI targets apply to them).
ASGI = ("fastapi-uvicorn", "starlette-uvicorn", "django-uvicorn", "quart-hypercorn")
WSGI = ("django-gunicorn", "flask-gunicorn")


def bench_spec(spec: ServerSpec) -> ServerSpec:
    """The same server command line, serving ``bench.apps.*`` instead of ``integrations.*``."""
    argv = tuple(part.replace("integrations.", "bench.apps.") for part in spec.argv)
    return dataclasses.replace(spec, argv=argv)


BENCH_SERVERS = tuple(bench_spec(spec) for spec in SERVERS)
BENCH_BY_ID = {spec.id: spec for spec in BENCH_SERVERS}


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit (inherited by the servers it starts)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
