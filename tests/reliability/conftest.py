"""Reliability suite: every integration under its production server, pushed harder.

Shares the conformance suite's servers list and fake upstream, with its own server
processes: they carry a secret API key (no byte of it may leave them) and a probe
(``probe/sitecustomize.py``) that reports live asyncio tasks on request.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest

from tests.fakes.upstreams import FakeUpstream
from tests.servers import RunningServer, ServerSpec, selected_servers, start_server

PROBE = Path(__file__).parent / "probe"
PROBE_SIGNAL = __import__("signal").SIGRTMIN + 5

#: Shaped like a real OpenAI project key, so the generic key patterns would catch it too;
#: the suite checks for the exact bytes.
SECRET_KEY = "sk-proj-R3l1ab1l1tyS3cr3tK3y-9f8e7d6c5b4a39281706f5e4d3c2b1a0"

SERVER_ENV = {
    "OPENAI_API_KEY": SECRET_KEY,
    "RAIS_HEARTBEAT": "0.25",
    "RAIS_MAX_RETRIES": "0",
    "QUART_RESPONSE_TIMEOUT": "1",
}


def server_env(upstream: FakeUpstream, probe_dir: str) -> dict[str, str]:
    return {
        **SERVER_ENV,
        "OPENAI_BASE_URL": upstream.base_url,
        "PYTHONPATH": str(PROBE),
        "RAIS_PROBE_DIR": probe_dir,
    }


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("openai") as fake:
        yield fake


@pytest.fixture(scope="session")
def probe_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="rais-probe-") as directory:
        yield directory


@pytest.fixture(scope="session", params=selected_servers(), ids=lambda spec: spec.id)
def spec(request: pytest.FixtureRequest) -> ServerSpec:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def server(spec: ServerSpec, upstream: FakeUpstream, probe_dir: str) -> Iterator[RunningServer]:
    running = start_server(spec, server_env(upstream, probe_dir))
    try:
        yield running
    finally:
        running.stop()


#: The send timeout of the reliability apps' servers: short, so stalled clients are cut soon.
SEND_TIMEOUT = 2.0


@pytest.fixture(scope="session")
def app_server(spec: ServerSpec, upstream: FakeUpstream, probe_dir: str) -> Iterator[RunningServer]:
    """``spec`` serving its integration's twin app (``apps/``: the integration's routes plus
    ``/api/crash`` and ``/api/owned``), with a short send timeout."""
    from tests.reliability.apps.specs import app_spec

    env = {
        **server_env(upstream, probe_dir),
        "RAIS_SEND_TIMEOUT": str(SEND_TIMEOUT),
        "RAIS_BODY_TIMEOUT": "3",  # tests/reliability/test_trickle.py
    }
    running = start_server(app_spec(spec), env)
    try:
        yield running
    finally:
        running.stop()


@dataclass(frozen=True)
class Usage:
    """What the server processes hold: fds (minus pooled upstream sockets), threads, tasks."""

    fds: int
    upstream_sockets: int
    threads: int
    tasks: int
    task_names: dict[str, int]

    def within(self, baseline: Usage, slack: int) -> bool:
        return (
            self.fds <= baseline.fds + slack
            and self.threads <= baseline.threads + slack
            and self.tasks <= baseline.tasks + slack
        )


def usage(server: RunningServer, upstream: FakeUpstream, probe_dir: str) -> Usage:
    """Sum over the server's processes (gunicorn and hypercorn run a worker process)."""
    fds = threads = tasks = pooled = 0
    names: dict[str, int] = {}
    pids = server.pids()
    upstream_port = urlsplit(upstream.base_url).port
    asked = time.time()
    for pid in pids:
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            os.kill(pid, PROBE_SIGNAL)
    for pid in pids:
        process = psutil.Process(pid)
        fds += process.num_fds()
        threads += process.num_threads()
        # Keep-alive sockets to the upstream are the SDK's pool (bounded, reused): counted apart.
        pooled += sum(
            1
            for conn in process.net_connections("tcp")
            if conn.raddr and conn.raddr.port == upstream_port
        )
        report = Path(probe_dir) / f"{pid}.json"
        deadline = time.monotonic() + 10  # the first scan of a big heap takes a while
        while time.monotonic() < deadline:
            if report.exists() and report.stat().st_mtime >= asked - 0.01:
                break
            time.sleep(0.02)
        data = json.loads(report.read_text())
        tasks += data["tasks"]
        for name, count in data["task_names"].items():
            names[name] = names.get(name, 0) + count
    return Usage(fds - pooled, pooled, threads, tasks, names)


def quiesce(
    server: RunningServer, upstream: FakeUpstream, probe_dir: str, timeout: float = 15.0
) -> Usage:
    """Wait (bounded) until two readings in a row agree: the server is at rest."""
    deadline = time.monotonic() + timeout
    previous = usage(server, upstream, probe_dir)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        current = usage(server, upstream, probe_dir)
        if (current.fds, current.threads, current.tasks) == (
            previous.fds,
            previous.threads,
            previous.tasks,
        ):
            return current
        previous = current
    return previous


def settle(
    server: RunningServer,
    upstream: FakeUpstream,
    probe_dir: str,
    baseline: Usage,
    *,
    slack: int,
    timeout: float = 8.0,
    upstream_sockets: int | None = None,
) -> Usage:
    """Wait (bounded) for the server to return to ``baseline`` (and, if given, to at most
    ``upstream_sockets`` sockets to the upstream: a cancelled call's socket closes a moment
    after its stream ends); return the last reading."""

    def settled(current: Usage) -> bool:
        return current.within(baseline, slack) and (
            upstream_sockets is None or current.upstream_sockets <= upstream_sockets
        )

    deadline = time.monotonic() + timeout
    current = usage(server, upstream, probe_dir)
    while not settled(current) and time.monotonic() < deadline:
        time.sleep(0.25)
        current = usage(server, upstream, probe_dir)
    return current
