"""A client that stops reading must not make the server buffer without bound."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import psutil
import pytest

from bench.servers import bench_spec
from tests.fakes.upstreams import FakeUpstream
from tests.servers import RunningServer, ServerSpec, running

MIB = 2**20


def rss(server: RunningServer) -> int:
    return sum(psutil.Process(pid).memory_info().rss for pid in server.pids())


def stalled_client(server: RunningServer, content: str) -> socket.socket:
    """Ask for a long, fast answer with a tiny receive window, read its start, then stop."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
    sock.connect(("127.0.0.1", server.port))
    body = json.dumps({"messages": [{"role": "user", "content": content}]}).encode()
    sock.sendall(
        b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    sock.settimeout(10)
    received = b""
    while b'"type":"text"' not in received:
        chunk = sock.recv(1024)
        assert chunk, received
        received += chunk
    assert received.startswith(b"HTTP/1.1 200"), received[:200]
    return sock


@pytest.fixture(scope="module")
def fast_server(spec: ServerSpec) -> Iterator[RunningServer]:
    """The benchmark twin of the integration: same server and wiring, a local fast source."""
    with running(bench_spec(spec)) as server:
        yield server


def cpu_seconds(server: RunningServer) -> float:
    return sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in server.pids())


def test_a_stalled_client_holds_bounded_memory(fast_server: RunningServer) -> None:
    # A source that never ends, each token as soon as the loop allows: only backpressure
    # from the socket can hold it (unbounded, the server grows by ~30 MB/s here).
    sock = stalled_client(fast_server, "count=1000000000;yield=1")
    try:
        time.sleep(1.0)  # the kernel's socket buffers fill first
        filled = rss(fast_server)
        samples = []
        for _ in range(8):
            time.sleep(0.25)
            samples.append(rss(fast_server))
        growth = max(samples) - filled
        assert growth < 4 * MIB, f"server RSS grew {growth / MIB:.1f} MiB while the client stalled"
        assert_serves_others(fast_server)
    finally:
        sock.close()
    # Once the client is gone the endless source is closed: the server goes idle.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        before = cpu_seconds(fast_server)
        time.sleep(0.5)
        if cpu_seconds(fast_server) - before < 0.1:
            break
    else:
        raise AssertionError("the server kept working after the stalled client left")


def test_a_stalled_client_still_cancels_upstream_when_it_leaves(
    server: RunningServer, upstream: FakeUpstream
) -> None:
    before = upstream.cancelled
    sock = stalled_client(server, "[count:1000000]")
    try:
        time.sleep(0.5)
        assert_serves_others(server)
    finally:
        sock.close()
    assert upstream.wait_cancelled(before + 1, timeout=10), server.log()[-2000:]


def assert_serves_others(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as other:
        body = json.dumps({"messages": [{"role": "user", "content": "count=3"}]}).encode()
        other.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        answer = b""
        while chunk := other.recv(65536):
            answer += chunk
    assert b'"type":"done"' in answer, answer[-300:]
