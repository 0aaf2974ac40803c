"""The benchmarks: throughput, latency, scale, abort and import time.

Every number comes from real servers on loopback (``tests/servers.py``), read by the
raw-socket client in :mod:`bench.load`. Each function returns plain data (saved as
JSON); nothing here asserts: targets are compared in :mod:`bench.report`.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import time
from collections.abc import Callable
from typing import Any

import psutil

from bench.config import Config
from bench.load import StreamProtocol, fetch, open_stream, throughput
from bench.servers import BENCH_BY_ID, raise_fd_limit
from tests.fakes.upstreams import FakeUpstream
from tests.servers import PY, ROOT, SERVERS, RunningServer, running

Log = Callable[[str], None]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            total += psutil.Process(pid).memory_info().rss
    return total


# ------------------------------------------------------------------ throughput + latency


ROUTES = {"rais": "/api/chat", "ceiling": "/ceiling", "sse-starlette": "/sse-starlette"}


def measure_server(spec_id: str, config: Config, log: Log) -> dict[str, Any]:
    """Throughput (rais vs ceiling [vs sse-starlette]) and latency on one bench server."""
    spec = BENCH_BY_ID[spec_id]
    targets = ["rais", "ceiling"] + (["sse-starlette"] if spec_id == "starlette-uvicorn" else [])
    result: dict[str, Any] = {"throughput": {}, "latency": {}}
    with running(spec) as server:
        asyncio.run(_warm(server, targets))
        pids = server.pids()
        for mode in config.modes:
            rates: dict[str, list[float]] = {t: [] for t in targets}
            costs: dict[str, list[float]] = {t: [] for t in targets}
            for _ in range(config.rounds):
                for target in targets:  # alternating, so drift hits every target alike
                    measured = asyncio.run(
                        throughput(
                            server.port,
                            ROUTES[target],
                            tokens=config.tokens,
                            connections=config.connections,
                            warmup=config.warmup,
                            seconds=config.window,
                            yield_each=mode == "per-token",
                            cpu=lambda: cpu_seconds(pids),
                        )
                    )
                    rates[target].append(measured.events_per_second)
                    costs[target].append(measured.events_per_cpu_second)
                    if measured.incomplete:
                        log(f"  {spec_id} {target}: {measured.incomplete} incomplete streams")
            row: dict[str, Any] = {t: round(statistics.median(rates[t])) for t in targets}
            row["per_cpu_second"] = {t: round(statistics.median(costs[t])) for t in targets}
            row["us_per_event"] = {
                t: round(1e6 / v, 2) if v else None for t, v in row["per_cpu_second"].items()
            }
            cpu_rate = row["per_cpu_second"]
            row["ratio"] = round(cpu_rate["rais"] / cpu_rate["ceiling"], 2)
            row["ratio_wall"] = round(row["rais"] / row["ceiling"], 2)
            if "sse-starlette" in targets:
                row["vs_sse_starlette"] = round(cpu_rate["rais"] / cpu_rate["sse-starlette"], 2)
            result["throughput"][mode] = row
            us = row["us_per_event"]
            log(
                f"  {spec_id:18} {mode:9} rais {row['rais']:>9,} ev/s ({us['rais']} us CPU/event)"
                f"   ceiling {row['ceiling']:>9,} ev/s ({us['ceiling']} us)"
                f"   x{row['ratio']} (wall x{row['ratio_wall']})"
                + (
                    f"   sse-starlette {row['sse-starlette']:,} ev/s ({us['sse-starlette']} us)"
                    if "sse-starlette" in row
                    else ""
                )
            )
        result["latency"] = asyncio.run(_latency(server, targets, config))
        lat = result["latency"]
        log(
            f"  {spec_id:18} latency   ttfb {lat['ttfb_ms']['rais']} ms "
            f"(ceiling {lat['ttfb_ms']['ceiling']}), per token p50 "
            f"{lat['token_ms']['rais']['p50']} / p99 {lat['token_ms']['rais']['p99']} ms "
            f"(ceiling {lat['token_ms']['ceiling']['p50']} / {lat['token_ms']['ceiling']['p99']})"
        )
    return result


async def _warm(server: RunningServer, targets: list[str]) -> None:
    for target in targets:
        for _ in range(3):
            stream = await fetch(server.port, ROUTES[target], "count=200")
            if stream.status != 200 or not stream.done:
                raise RuntimeError(f"{server.spec.id} {target} is broken: {stream}")


async def _latency(server: RunningServer, targets: list[str], config: Config) -> dict[str, Any]:
    """Time to first event, and per-token delay from production to arrival (same clock)."""
    ttfb: dict[str, float] = {}
    token: dict[str, dict[str, float]] = {}
    interval: dict[str, dict[str, float]] = {}
    for target in targets:
        firsts = []
        for _ in range(config.ttfb_requests):
            stream = await fetch(server.port, ROUTES[target], "count=1")
            assert stream.first_event is not None
            firsts.append(stream.first_event - stream.sent_at)
        ttfb[target] = ms(statistics.median(firsts))
        delays: list[float] = []
        gaps: list[float] = []
        spec = f"count={config.paced_tokens};interval={config.paced_interval};stamp=1"
        for _ in range(config.paced_streams):
            stream = await fetch(server.port, ROUTES[target], spec, stamps=True)
            delays += [arrived - produced for produced, arrived in stream.stamps]
            gaps += [b - a for a, b in zip(stream.arrivals, stream.arrivals[1:], strict=False)]
        token[target] = {"p50": ms(percentile(delays, 50)), "p99": ms(percentile(delays, 99))}
        interval[target] = {"p50": ms(percentile(gaps, 50)), "p99": ms(percentile(gaps, 99))}
    return {
        "ttfb_ms": ttfb,
        "token_ms": token,
        "interval_ms": interval,
        "source_interval_ms": ms(config.paced_interval),
    }


# ------------------------------------------------------------------ scale


def scale(config: Config, log: Log) -> dict[str, Any]:
    """Open many slow streams on one uvicorn worker: memory per stream and token delays."""
    wanted = config.scale_streams
    limit = raise_fd_limit(wanted * 2 + 1000)
    spec = BENCH_BY_ID["fastapi-uvicorn"]
    env = {"RAIS_HEARTBEAT": str(config.scale_heartbeat)}
    with running(spec, env) as server:
        result = asyncio.run(_scale(server, config, log, "/api/chat", config.scale_hold))
    if config.scale_reference:
        log("  the same with the hand-written StreamingResponse (no heartbeats), for reference:")
        with running(spec, env) as server:
            reference = asyncio.run(_scale(server, config, log, "/ceiling", 1.0))
        result["ceiling"] = {
            key: reference[key]
            for key in ("streams_open", "kib_per_stream", "rss_baseline_mib", "rss_loaded_mib")
        }
    result["fd_limit"] = limit
    return result


async def _scale(
    server: RunningServer, config: Config, log: Log, path: str, hold: float
) -> dict[str, Any]:
    spec = f"count=1000000;interval={config.scale_interval};stamp=1"
    pids = server.pids()
    for _ in range(config.scale_warm_rounds):  # warm the server: imports, first allocations
        warm = [await open_stream(server.port, path, spec, stamps=True) for _ in range(50)]
        await asyncio.sleep(0.3)
        for protocol in warm:
            protocol.abort()
        await asyncio.sleep(0.3)
    await asyncio.sleep(1.0)
    baseline = rss(pids)
    streams: list[StreamProtocol] = []
    failed = 0
    opened_at = time.perf_counter()
    while len(streams) + failed < config.scale_streams:
        batch = min(config.scale_batch, config.scale_streams - len(streams) - failed)
        attempts = await asyncio.gather(
            *(open_stream(server.port, path, spec, stamps=True) for _ in range(batch)),
            return_exceptions=True,
        )
        fresh = [a for a in attempts if isinstance(a, StreamProtocol)]
        failed += len(attempts) - len(fresh)
        streams += fresh
        if fresh:
            await asyncio.wait([p.started for p in fresh], timeout=10)
    open_seconds = time.perf_counter() - opened_at
    await asyncio.sleep(1.0)
    live = [p for p in streams if p.stream.status == 200 and not p.stream.closed]
    loaded = rss(pids)
    per_stream = (loaded - baseline) / max(1, len(live))
    log(
        f"  {len(live)} streams open in {open_seconds:.1f} s ({failed} failed to connect); "
        f"RSS {baseline / 2**20:.1f} -> {loaded / 2**20:.1f} MiB = "
        f"{per_stream / 1024:.1f} KiB per stream"
    )
    for protocol in streams:  # only count tokens produced while all streams are open
        protocol.stream.stamps.clear()
        protocol.stream.arrivals.clear()
    cpu_before, held_from = cpu_seconds(pids), time.perf_counter()
    await asyncio.sleep(hold)
    cpu = (cpu_seconds(pids) - cpu_before) / (time.perf_counter() - held_from)
    delays = [a - p for s in streams for p, a in s.stream.stamps]
    gaps = [
        b - a
        for s in streams
        for a, b in zip(s.stream.arrivals, s.stream.arrivals[1:], strict=False)
    ]
    still_open = sum(1 for p in streams if not p.stream.closed)
    fds = sum(psutil.Process(pid).num_fds() for pid in pids)
    for protocol in streams:
        protocol.abort()
    await asyncio.sleep(1.0)
    result = {
        "streams_requested": config.scale_streams,
        "streams_open": len(live),
        "streams_open_after_hold": still_open,
        "connect_failures": failed,
        "open_seconds": round(open_seconds, 1),
        "rss_baseline_mib": round(baseline / 2**20, 1),
        "rss_loaded_mib": round(loaded / 2**20, 1),
        "kib_per_stream": round(per_stream / 1024, 1),
        "server_fds": fds,
        "server_cpu": round(cpu, 2),
        "token_interval_s": config.scale_interval,
        "heartbeat_s": config.scale_heartbeat,
        "tokens_measured": len(delays),
        "token_delay_ms": {
            "p50": ms(percentile(delays, 50)),
            "p99": ms(percentile(delays, 99)),
            "max": ms(max(delays, default=float("nan"))),
        },
        "inter_token_ms": {"p50": ms(percentile(gaps, 50)), "p99": ms(percentile(gaps, 99))},
        "rss_after_close_mib": round(rss(pids) / 2**20, 1),
    }
    log(
        f"  held {hold:.0f} s: {len(delays)} tokens, delay p50 "
        f"{result['token_delay_ms']['p50']} / p99 {result['token_delay_ms']['p99']} ms, "
        f"inter-token p99 {result['inter_token_ms']['p99']} ms (source: "
        f"{config.scale_interval * 1000:.0f} ms), server CPU {cpu:.0%}"
    )
    return result


# ------------------------------------------------------------------ abort


ABORT_ENV = {
    "OPENAI_API_KEY": "sk-bench-not-a-real-key-000000",
    "RAIS_MAX_RETRIES": "0",
    "RAIS_HEARTBEAT": "1",
}


def abort(config: Config, log: Log) -> dict[str, Any]:
    """Client disconnect to upstream cancel, on the integrations with the real OpenAI SDK."""
    results: dict[str, Any] = {}
    with FakeUpstream("openai") as upstream:
        for spec in SERVERS:
            env = {**ABORT_ENV, "OPENAI_BASE_URL": upstream.base_url}
            with running(spec, env) as server:
                row = {
                    mode: asyncio.run(_abort(server, upstream, mode, config.abort_reps))
                    for mode in config.abort_modes
                }
            results[spec.id] = row
            log(
                f"  {spec.id:18} "
                + ";  ".join(
                    f"{mode} upstream: median {data['median_ms']} ms, max {data['max_ms']} ms"
                    for mode, data in row.items()
                )
            )
    return results


async def _abort(
    server: RunningServer, upstream: FakeUpstream, mode: str, reps: int
) -> dict[str, Any]:
    content = "[count:100000][delay:0.02]" if mode == "streaming" else "[fault:hang]"
    times: list[float] = []
    for _ in range(reps):
        before = upstream.cancelled
        protocol = await open_stream(server.port, "/api/chat", content)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stream = protocol.stream
            if mode == "streaming" and stream.events >= 2:
                break
            if mode == "idle" and stream.status is not None:
                break
            await asyncio.sleep(0.005)
        if mode == "idle":
            await asyncio.sleep(0.2)  # the request is in flight upstream, nothing is flowing
        assert protocol.transport is not None
        closed_at = time.monotonic()
        protocol.transport.close()  # what a browser's AbortController does: FIN, not RST
        ok = await asyncio.to_thread(upstream.wait_cancelled, before + 1, 10.0)
        elapsed = time.monotonic() - closed_at
        times.append(elapsed if ok else float("inf"))
        await protocol.finished
    finite = [t for t in times if t != float("inf")]
    return {
        "median_ms": ms(statistics.median(times)) if finite else None,
        "max_ms": ms(max(times)) if finite and len(finite) == len(times) else None,
        "not_cancelled": len(times) - len(finite),
        "samples_ms": [ms(t) if t != float("inf") else None for t in times],
    }


# ------------------------------------------------------------------ import


def import_time(config: Config, log: Log) -> dict[str, Any]:
    """``import rais`` in a fresh interpreter, best of N, against ``import json``."""
    code = "import time; t = time.perf_counter(); import {0}; print(time.perf_counter() - t)"

    def best(module: str) -> float:
        runs = []
        for _ in range(config.import_reps):
            out = subprocess.run(
                [PY, "-c", code.format(module)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            runs.append(float(out.stdout.strip()))
        return min(runs)

    def startup(module: str) -> float:
        runs = []
        for _ in range(config.import_reps):
            started = time.perf_counter()
            subprocess.run([PY, "-c", f"import {module}"], check=True, cwd=ROOT)
            runs.append(time.perf_counter() - started)
        return min(runs)

    result = {
        "rais_ms": ms(best("rais")),
        "json_ms": ms(best("json")),
        "asyncio_ms": ms(best("asyncio")),
        "process_rais_ms": ms(startup("rais")),
        "process_json_ms": ms(startup("json")),
        "heavy_modules": _heavy_modules(),
    }
    log(
        f"  import rais {result['rais_ms']} ms (import json {result['json_ms']} ms, "
        f"import asyncio {result['asyncio_ms']} ms); "
        f"python -c 'import rais' {result['process_rais_ms']} ms vs 'import json' "
        f"{result['process_json_ms']} ms"
    )
    return result


def _heavy_modules() -> list[str]:
    """Frameworks or SDKs that ``import rais`` pulls in (should be none)."""
    code = (
        "import sys, rais; print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'openai','anthropic','httpx','starlette','fastapi','django','flask','quart','pydantic'})))"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.split()
