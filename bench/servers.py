"""The servers the benchmarks boot: ``tests/servers.py``'s, with the bench twins of the apps.

The WSGI servers run the documented many-streams configuration
(:mod:`bench.gunicorn_conf`, ``--threads`` :data:`WSGI_THREADS`) in every benchmark, so
the per-token ratio and the 1,000-stream figure come from the same setup.
"""

from __future__ import annotations

import dataclasses

from bench.fdlimit import raise_fd_limit
from tests.servers import SERVERS, ServerSpec

__all__ = [
    "ASGI",
    "BENCH_BY_ID",
    "BENCH_SERVERS",
    "E2E_SPEC",
    "WSGI",
    "WSGI_THREADS",
    "raise_fd_limit",
    "with_fd_limit",
]

#: Servers whose adapter runs on an ASGI server (the per-token targets apply to them).
ASGI = (
    "fastapi-uvicorn",
    "starlette-uvicorn",
    "django-uvicorn",
    "quart-hypercorn",
    "litestar-uvicorn",
)
WSGI = ("django-gunicorn", "flask-gunicorn")
#: gthread threads per worker: one per open stream, 1,000 streams plus headroom.
WSGI_THREADS = 1100
GUNICORN_CONF = "bench/gunicorn_conf.py"


def _wsgi_args(argv: tuple[str, ...]) -> tuple[str, ...]:
    out = list(argv)
    at = out.index("--threads")
    out[at + 1] = str(WSGI_THREADS)
    return (*out, "-c", GUNICORN_CONF)


def bench_spec(spec: ServerSpec) -> ServerSpec:
    """The same server command line, serving ``bench.apps.*`` instead of ``integrations.*``."""
    argv = tuple(part.replace("integrations.", "bench.apps.") for part in spec.argv)
    if spec.id in WSGI:
        argv = _wsgi_args(argv)
    return dataclasses.replace(spec, argv=argv)


def with_fd_limit(spec: ServerSpec, files: int) -> ServerSpec:
    """``spec`` started through :mod:`bench.fdlimit`, so the server raises its own limit."""
    py, dash_m, *rest = spec.argv
    if dash_m != "-m":
        raise ValueError(f"{spec.id}: expected '{{py}} -m MODULE ...', got {spec.argv}")
    return dataclasses.replace(spec, argv=(py, "-m", "bench.fdlimit", str(files), "-m", *rest))


BENCH_SERVERS = tuple(bench_spec(spec) for spec in SERVERS)
BENCH_BY_ID = {spec.id: spec for spec in BENCH_SERVERS}
#: FastAPI on uvicorn with rais's openai provider and the hand-written AsyncOpenAI loop.
E2E_SPEC = ServerSpec(
    "openai-fastapi-uvicorn",
    "fastapi",
    ("{py}", "-m", "uvicorn", "bench.apps.openai_app:app", "--port", "{port}"),
)
