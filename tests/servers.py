"""Boot the integrations under their production servers on loopback ports.

Used by the conformance suite, the browser tests and the benchmarks, so every one
of them exercises the same apps over real sockets.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


@dataclass(frozen=True)
class ServerSpec:
    """One integration under one server: ``argv`` is formatted with ``port``."""

    id: str
    framework: str
    argv: tuple[str, ...]
    wsgi: bool = False
    env: Mapping[str, str] = field(default_factory=dict)

    def command(self, port: int) -> list[str]:
        return [part.format(port=port, py=PY) for part in self.argv]


GTHREAD = ("-k", "gthread", "--threads", "64", "--workers", "1", "--graceful-timeout", "5")

SERVERS: tuple[ServerSpec, ...] = (
    ServerSpec(
        "fastapi-uvicorn",
        "fastapi",
        ("{py}", "-m", "uvicorn", "integrations.fastapi_app:app", "--port", "{port}"),
    ),
    ServerSpec(
        "starlette-uvicorn",
        "starlette",
        ("{py}", "-m", "uvicorn", "integrations.starlette_app:app", "--port", "{port}"),
    ),
    ServerSpec(
        "django-uvicorn",
        "django",
        (
            "{py}",
            "-m",
            "uvicorn",
            "integrations.django_project.asgi:application",
            "--port",
            "{port}",
        ),
    ),
    ServerSpec(
        "django-gunicorn",
        "django",
        (
            "{py}",
            "-m",
            "gunicorn",
            "integrations.django_project.wsgi:application",
            "-b",
            "127.0.0.1:{port}",
            *GTHREAD,
        ),
        wsgi=True,
    ),
    ServerSpec(
        "flask-gunicorn",
        "flask",
        (
            "{py}",
            "-m",
            "gunicorn",
            "integrations.flask_app:app",
            "-b",
            "127.0.0.1:{port}",
            *GTHREAD,
        ),
        wsgi=True,
    ),
    ServerSpec(
        "quart-hypercorn",
        "quart",
        ("{py}", "-m", "hypercorn", "integrations.quart_app:app", "--bind", "127.0.0.1:{port}"),
    ),
    ServerSpec(
        "litestar-uvicorn",
        "litestar",
        ("{py}", "-m", "uvicorn", "integrations.litestar_app:app", "--port", "{port}"),
    ),
    ServerSpec(
        "aiohttp-web",
        "aiohttp",
        (
            "{py}",
            "-m",
            "aiohttp.web",
            "-H",
            "127.0.0.1",
            "-P",
            "{port}",
            "integrations.aiohttp_app:init_func",
        ),
    ),
    ServerSpec(
        "aiohttp-gunicorn",
        "aiohttp",
        (
            "{py}",
            "-m",
            "gunicorn",
            "integrations.aiohttp_app:app",
            "-b",
            "127.0.0.1:{port}",
            "-k",
            "aiohttp.GunicornWebWorker",
            "--workers",
            "1",
        ),
    ),
)
SERVERS_BY_ID = {spec.id: spec for spec in SERVERS}


def selected_servers() -> tuple[ServerSpec, ...]:
    """All servers, or those of the frameworks named in ``RAIS_FRAMEWORKS`` (for nox)."""
    wanted = {
        name.strip() for name in os.environ.get("RAIS_FRAMEWORKS", "").split(",") if name.strip()
    }
    return tuple(spec for spec in SERVERS if not wanted or spec.framework in wanted)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    spec: ServerSpec
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + "/api/chat"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pids(self) -> list[int]:
        """The server process and its workers (gunicorn forks one)."""
        import psutil

        parent = psutil.Process(self.process.pid)
        return [parent.pid, *(child.pid for child in parent.children(recursive=True))]

    def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {timeout} s")


def start_server(spec: ServerSpec, env: Mapping[str, str] | None = None) -> RunningServer:
    """Start ``spec`` on a free loopback port and wait until it accepts connections."""
    port = free_port()
    merged = {**os.environ, **spec.env, **(env or {})}
    merged["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), merged.get("PYTHONPATH")]))
    merged.setdefault("PYTHONUNBUFFERED", "1")
    log_path = Path(tempfile.mkstemp(prefix=f"rais-{spec.id}-", suffix=".log")[1])
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            spec.command(port), cwd=ROOT, env=merged, stdout=log, stderr=subprocess.STDOUT
        )
    server = RunningServer(spec, port, process, log_path)
    try:
        wait_for_port(port, process)
    except BaseException:
        server.stop()
        raise RuntimeError(f"{spec.id} did not start:\n{server.log()}") from None
    return server


@contextlib.contextmanager
def running(spec: ServerSpec, env: Mapping[str, str] | None = None) -> Iterator[RunningServer]:
    server = start_server(spec, env)
    try:
        yield server
    finally:
        server.stop()
