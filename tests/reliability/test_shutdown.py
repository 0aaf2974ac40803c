"""SIGTERM with streams open: each stream ends with a terminal event, then the server exits.

The upstream answers would take hours (or never come), so a server that waits for
open streams never exits within the deadline, and one that gives up on them (e.g.
gunicorn's graceful timeout) cuts them without the "shutting down" error event.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import socket
import subprocess
import threading
import time

import pytest

from tests.fakes.upstreams import FakeUpstream
from tests.reliability.conftest import server_env
from tests.servers import ROOT, SERVERS_BY_ID, RunningServer, ServerSpec, start_server

STREAMS = 3

#: What a shutdown that leaves asyncio work behind prints.
UNCLEAN = (
    "Task exception was never retrieved",
    "asynchronous generator is already running",
    "no running event loop",
    "Exception ignored in",
    "Task was destroyed but it is pending",
)

#: How long a server may take to exit after SIGTERM: generous, not a speed figure.
EXIT_DEADLINE = 30.0


class OpenStream:
    """A raw client reading one stream in a thread, noting every event and the end."""

    def __init__(self, server: RunningServer, content: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        body = json.dumps({"messages": [{"role": "user", "content": content}]}).encode()
        self.sock.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self.raw = b""
        self.events: list[dict[str, str]] = []
        self.ended = False  #: the connection was closed
        self.started = threading.Event()  #: the response head arrived (or the socket closed)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buffer = b""
        try:
            while chunk := self.sock.recv(65536):
                self.raw += chunk
                if b"\r\n\r\n" in self.raw:
                    self.started.set()
                buffer += chunk
                *blocks, buffer = buffer.split(b"\n\n")
                for block in blocks:
                    for line in block.split(b"\n"):
                        if line.startswith(b"data: "):
                            self.events.append(json.loads(line[6:]))
        except OSError:
            pass
        finally:
            self.ended = True
            self.started.set()
            self.sock.close()


@pytest.fixture(params=["streaming", "idle"])
def content(request: pytest.FixtureRequest) -> str:
    """Tokens flowing, or an upstream that sent nothing yet (only heartbeats go out)."""
    return "[count:100000][delay:0.05]" if request.param == "streaming" else "[fault:hang]"


def test_sigterm_ends_open_streams_and_the_server_exits(
    spec: ServerSpec, upstream: FakeUpstream, probe_dir: str, content: str
) -> None:
    server = start_server(spec, server_env(upstream, probe_dir))
    try:
        before = upstream.cancelled
        streams = [OpenStream(server, content) for _ in range(STREAMS)]
        for stream in streams:
            assert stream.started.wait(10) and stream.raw.startswith(b"HTTP/1.1 200")
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)  # the main process: master or supervisor
        try:
            server.process.wait(timeout=EXIT_DEADLINE)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"{spec.id} still running {EXIT_DEADLINE:.0f} s after SIGTERM:\n"
                + server.log()[-3000:]
            )
        for stream in streams:
            stream.thread.join(EXIT_DEADLINE)
            assert stream.ended
            types = [e["type"] for e in stream.events]
            assert types and types[-1] == "error", (types[-3:], stream.raw[-300:])
            assert sum(t in ("done", "error") for t in types) == 1
            assert "shutting down" in stream.events[-1]["error"]
            assert stream.raw.endswith(b"\n\n") or stream.raw.endswith(b"0\r\n\r\n")
        assert upstream.wait_cancelled(before + STREAMS, timeout=EXIT_DEADLINE)
        # Issue 20.5: sources and upstream streams are closed on the loop that ran them.
        log = server.log()
        left = [line for line in UNCLEAN if line in log]
        assert not left, f"{spec.id} logged {left} at shutdown:\n{log[-4000:]}"
    finally:
        server.stop()


#: Issue 20.6: the unit the deployment docs give for Hypercorn, stopped the way it says.
HYPERCORN_UNIT = ROOT / "docs" / "deploy" / "rais-hypercorn.service"


def test_hypercorn_stopped_as_its_systemd_unit_says_ends_streams_with_the_event(
    upstream: FakeUpstream, probe_dir: str
) -> None:
    """``KillMode=mixed``: SIGTERM to the main process, then (after ``TimeoutStopSec``)
    SIGKILL to whatever is left of the group. Hypercorn runs its workers in processes of
    their own here, which a group-wide SIGTERM would kill before rais could end a stream."""
    unit = dict(
        line.split("=", 1) for line in HYPERCORN_UNIT.read_text().splitlines() if "=" in line
    )
    assert unit["KillMode"] == "mixed" and unit["KillSignal"] == "SIGTERM"
    assert "hypercorn" in unit["ExecStart"] and "--workers" in unit["ExecStart"]
    spec = SERVERS_BY_ID["quart-hypercorn"]
    spec = dataclasses.replace(spec, argv=(*spec.argv, "--workers", "2"))
    server = start_server(spec, server_env(upstream, probe_dir))
    try:
        assert len(server.pids()) > 1, "hypercorn runs no worker process of its own here"
        streams = [OpenStream(server, "[count:100000][delay:0.05]") for _ in range(2)]
        for stream in streams:
            assert stream.started.wait(10) and stream.raw.startswith(b"HTTP/1.1 200")
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)  # KillMode=mixed: the main process only
        try:
            server.process.wait(timeout=float(unit["TimeoutStopSec"]))
        except subprocess.TimeoutExpired:
            pytest.fail("hypercorn outlived TimeoutStopSec:\n" + server.log()[-3000:])
        for stream in streams:
            stream.thread.join(EXIT_DEADLINE)
            assert stream.events and stream.events[-1]["type"] == "error", stream.raw[-300:]
            assert "shutting down" in stream.events[-1]["error"]
    finally:
        server.stop()
