"""``python -m bench.inprocess``: each bench app's CPU per event in process, new vs old rais.

The server runs (``python -m bench``) compare rais with the old code over loopback, where
the kernel, the server and the load generator share two CPUs and a round varies by
±10-30%. This drives the same bench apps' ASGI or WSGI callable directly, with no server
and no socket: 32 concurrent streams of a per-token source (``yield=1``, the event loop
runs after each token; ``--burst``: all ready at once) written to a ``send`` (or read from
a WSGI iterable) that only counts frames. What is left is rais plus the framework, which
is where the two codes differ. Each (app, code) pair runs in a child process (the old
code's ``src`` first on ``PYTHONPATH``, as the server bench's anchor does); children
alternate new/old so that load on the machine hits both alike. aiohttp has no ASGI/WSGI
callable to drive and is left to the server bench.

Printed: median µs of process CPU per event for RAIS v1 under the old and the new code,
and the new code's AI SDK and AG-UI streams, with the ratios the issue sets targets on
(RAIS new/old <= 1, each protocol / RAIS <= 1.15). Nothing here asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.anchor import DEFAULT_REF, old_tree
from bench.load import request_body
from tests.servers import PY, ROOT

#: name -> (module, attribute, interface)
APPS: dict[str, tuple[str, str, str]] = {
    "fastapi": ("bench.apps.fastapi_app", "app", "asgi"),
    "starlette": ("bench.apps.starlette_app", "app", "asgi"),
    "litestar": ("bench.apps.litestar_app", "app", "asgi"),
    "quart": ("bench.apps.quart_app", "app", "asgi"),
    "django-asgi": ("bench.apps.django_project.asgi", "application", "asgi"),
    "django-wsgi": ("bench.apps.django_project.wsgi", "application", "wsgi"),
    "flask": ("bench.apps.flask_app", "app", "wsgi"),
}
PATHS = {"rais": "/api/chat", "ai-sdk": "/api/ai-sdk", "ag-ui": "/api/ag-ui"}


def _body(protocol: str, tokens: int, burst: bool) -> bytes:
    content = f"count={tokens};interval=0;stamp=0;yield={int(not burst)}"
    return json.dumps(request_body(content, protocol)).encode()


async def _asgi_round(app: Any, path: str, body: bytes, streams: int) -> tuple[float, int]:
    frames = 0
    never = asyncio.Event()

    async def one() -> None:
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await never.wait()  # the client stays: no disconnect
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            nonlocal frames
            if message["type"] == "http.response.body":
                frames += message.get("body", b"").count(b"\n\n")

        headers = [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        await app(scope, receive, send)

    started = time.process_time()
    await asyncio.gather(*(one() for _ in range(streams)))
    return time.process_time() - started, frames


def _wsgi_round(app: Any, path: str, body: bytes, streams: int) -> tuple[float, int]:
    def one() -> int:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "bench",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_HOST": "bench",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        result = app(environ, lambda status, headers, exc_info=None: None)
        try:
            return sum(chunk.count(b"\n\n") for chunk in result)
        finally:
            getattr(result, "close", lambda: None)()

    started = time.process_time()
    with ThreadPoolExecutor(streams) as pool:
        frames = sum(pool.map(lambda _: one(), range(streams)))
    return time.process_time() - started, frames


def child(
    name: str, protocol: str, rounds: int, streams: int, tokens: int, burst: bool
) -> list[float]:
    """µs of this process's CPU per frame, one value per round (the first is a warm-up)."""
    module, attribute, interface = APPS[name]
    app = getattr(importlib.import_module(module), attribute)
    body, path = _body(protocol, tokens, burst), PATHS[protocol]
    run: Callable[[], tuple[float, int]]
    if interface == "asgi":
        loop = asyncio.new_event_loop()
        run = lambda: loop.run_until_complete(_asgi_round(app, path, body, streams))  # noqa: E731
    else:
        run = lambda: _wsgi_round(app, path, body, streams)  # noqa: E731
    values = []
    for _ in range(rounds + 1):
        cpu, frames = run()
        if frames < streams * tokens:
            raise SystemExit(f"{name} {protocol}: {frames} frames, expected {streams * tokens}+")
        values.append(cpu / frames * 1e6)
    return values[1:]


def _spawn(
    name: str, protocol: str, args: argparse.Namespace, pythonpath: str | None
) -> list[float]:
    env = {**os.environ}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    argv = [PY, "-m", "bench.inprocess", "--child", name, "--protocol", protocol]
    argv += ["--rounds", str(args.rounds), "--streams", str(args.streams)]
    argv += ["--tokens", str(args.tokens)] + (["--burst"] if args.burst else [])
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{name} {protocol} failed:\n{done.stderr[-2000:]}")
    values: list[float] = json.loads(done.stdout.strip().splitlines()[-1])
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("--apps", default=",".join(APPS))
    parser.add_argument("--anchor", default=DEFAULT_REF, help="the old code's git revision")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=1000)
    parser.add_argument("--burst", action="store_true", help="tokens all ready at once")
    parser.add_argument("--repeat", type=int, default=2, help="children per (app, code)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--protocol", default="rais", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        values = child(
            args.child, args.protocol, args.rounds, args.streams, args.tokens, args.burst
        )
        print(json.dumps(values))
        return 0
    header = f"{'app':12s} {'RAIS old':>9s} {'RAIS new':>9s} {'new/old':>8s}"
    header += f" {'AI SDK':>8s} {'/RAIS':>6s} {'AG-UI':>8s} {'/RAIS':>6s}"
    shape = "burst" if args.burst else "per-token"
    print(f"{args.streams} streams x {args.tokens} {shape} events, median µs CPU/event")
    print(header)
    with old_tree(args.anchor) as old:
        for name in args.apps.split(","):
            runs: dict[str, list[float]] = {"old": [], "rais": [], "ai-sdk": [], "ag-ui": []}
            for _ in range(args.repeat):  # interleaved: load hits every row alike
                runs["old"] += _spawn(name, "rais", args, str(old.src))
                for protocol in PATHS:
                    runs[protocol] += _spawn(name, protocol, args, None)
            med = {key: statistics.median(values) for key, values in runs.items()}
            print(
                f"{name:12s} {med['old']:9.2f} {med['rais']:9.2f} {med['rais'] / med['old']:8.2f}"
                f" {med['ai-sdk']:8.2f} {med['ai-sdk'] / med['rais']:6.2f}"
                f" {med['ag-ui']:8.2f} {med['ag-ui'] / med['rais']:6.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
