"""The benchmarks: throughput, latency, memory, scale, WSGI scale, end to end, abort, import.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.anchor import OldTree
from bench.config import Config
from bench.hold import Clients
from bench.load import fetch, open_stream, throughput
from bench.servers import (
    BENCH_BY_ID,
    E2E_SPEC,
    WSGI,
    WSGI_THREADS,
    raise_fd_limit,
    with_fd_limit,
)
from bench.upstream import upstream_process
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
#: rais's defaults, spelt out: heartbeats and the send timeout are on while measuring.
THROUGHPUT_ENV = {"RAIS_HEARTBEAT": "15", "RAIS_SEND_TIMEOUT": "30"}


@dataclass(frozen=True)
class Target:
    """One measured route: its path, the request body's protocol, and whether the
    old-code anchor's server (``bench.anchor``) serves it."""

    route: str
    protocol: str = "rais"
    old: bool = False


TARGETS = {
    "rais": Target("/api/chat"),
    "ceiling": Target("/ceiling"),
    "sse-starlette": Target("/sse-starlette"),
    "ai-sdk": Target("/api/ai-sdk", "ai-sdk"),
    "ag-ui": Target("/api/ag-ui", "ag-ui"),
    "fastapi-sse": Target("/fastapi-sse"),
    "litestar-sse": Target("/litestar-sse"),
    "rais-old": Target("/api/chat", old=True),
}
#: The wire protocols measured per token beside RAIS v1, on every adapter.
PROTOCOLS = ("ai-sdk", "ag-ui")
#: Each framework's native SSE response (what its users would pick instead of rais).
NATIVE = {
    "fastapi-uvicorn": ("fastapi-sse",),
    "starlette-uvicorn": ("sse-starlette",),
    "litestar-uvicorn": ("litestar-sse",),
}
NATIVE_NAMES = {
    "sse-starlette": "sse-starlette EventSourceResponse",
    "fastapi-sse": "fastapi.sse.EventSourceResponse",
    "litestar-sse": "litestar.response.ServerSentEvent",
}


def mode_targets(spec_id: str, mode: str, anchor: bool) -> list[str]:
    """What one mode measures on one server, in the order the rounds alternate."""
    targets = ["rais", "ceiling"]
    if spec_id == "starlette-uvicorn":
        targets.append("sse-starlette")
    if mode == "per-token":
        targets += [t for t in NATIVE.get(spec_id, ()) if t not in targets]
        targets += PROTOCOLS
    if anchor:
        targets.append("rais-old")
    return targets


def _spread(ours: list[float], theirs: list[float]) -> list[float]:
    """The lowest and highest of the per-round ratios (each round's pair measured back
    to back): how much the ratio moves from round to round."""
    ratios = [a / b for a, b in zip(ours, theirs, strict=True) if b]
    return [round(min(ratios), 3), round(max(ratios), 3)] if ratios else []


def _compare(us: dict[str, list[float]], ours: str, theirs: str) -> dict[str, Any]:
    """CPU per token of ``ours`` / ``theirs`` (medians), and the per-round spread."""
    a, b = statistics.median(us[ours]), statistics.median(us[theirs])
    return {"ratio": round(a / b, 3) if b else None, "spread": _spread(us[ours], us[theirs])}


def measure_server(
    spec_id: str, config: Config, log: Log, anchor: OldTree | None = None
) -> dict[str, Any]:
    """Throughput (rais vs ceiling [vs native SSE] [vs the old code], and per protocol)
    and latency on one bench server.

    With ``anchor``, a second server of the same app imports the old code's rais and
    serves ``rais-old``; it runs beside the first and takes its turn in every round.
    """
    spec = BENCH_BY_ID[spec_id]
    modes = {mode: mode_targets(spec_id, mode, anchor is not None) for mode in config.modes}
    result: dict[str, Any] = {"throughput": {}, "latency": {}, "env": THROUGHPUT_ENV}
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(running(spec, THROUGHPUT_ENV))
        servers = {False: server}
        if anchor is not None:
            servers[True] = stack.enter_context(running(spec, {**THROUGHPUT_ENV, **anchor.env}))
        every = sorted({t for targets in modes.values() for t in targets}, key=list(TARGETS).index)
        overhead = asyncio.run(_warm(servers, every))
        result["imported"] = _imported(servers, anchor)
        pids = {old: running_server.pids() for old, running_server in servers.items()}
        for mode, targets in modes.items():
            rates: dict[str, list[float]] = {t: [] for t in targets}
            costs: dict[str, list[float]] = {t: [] for t in targets}
            per_token: dict[str, list[float]] = {t: [] for t in targets}  # µs CPU per token
            for _ in range(config.rounds):
                for target in targets:  # alternating, so drift hits every target alike
                    where = TARGETS[target]
                    on = servers[where.old]
                    measured = asyncio.run(
                        throughput(
                            on.port,
                            where.route,
                            tokens=config.tokens,
                            connections=config.connections,
                            warmup=config.warmup,
                            seconds=config.window,
                            yield_each=mode == "per-token",
                            cpu=lambda old=where.old: cpu_seconds(pids[old]),  # type: ignore[misc]
                            protocol=where.protocol,
                        )
                    )
                    rates[target].append(measured.events_per_second)
                    costs[target].append(measured.events_per_cpu_second)
                    # tokens among the events: each answer has `overhead` more (done; the
                    # protocols' start/end frames) than tokens
                    tokens = measured.events * config.tokens / (config.tokens + overhead[target])
                    per_token[target].append(
                        measured.cpu_seconds / tokens * 1e6 if tokens else float("inf")
                    )
                    if measured.incomplete:
                        log(f"  {spec_id} {target}: {measured.incomplete} incomplete streams")
            row: dict[str, Any] = {t: round(statistics.median(rates[t])) for t in targets}
            row["per_cpu_second"] = {t: round(statistics.median(costs[t])) for t in targets}
            row["us_per_event"] = {
                t: round(1e6 / v, 2) if v else None for t, v in row["per_cpu_second"].items()
            }
            row["us_per_token"] = {t: round(statistics.median(v), 2) for t, v in per_token.items()}
            row["rounds_us_per_token"] = {t: [round(x, 2) for x in v] for t, v in per_token.items()}
            row["events_per_answer"] = {t: config.tokens + overhead[t] for t in targets}
            cpu_rate = row["per_cpu_second"]
            row["ratio"] = round(cpu_rate["rais"] / cpu_rate["ceiling"], 2)
            row["ratio_wall"] = round(row["rais"] / row["ceiling"], 2)
            if "sse-starlette" in targets:
                row["vs_sse_starlette"] = round(cpu_rate["rais"] / cpu_rate["sse-starlette"], 2)
            # the new comparisons, all as CPU per token: <1 means cheaper than the other
            row["protocols"] = {
                p: _compare(per_token, p, "rais") for p in targets if p in PROTOCOLS
            }
            if "rais-old" in targets:
                row["vs_old"] = _compare(per_token, "rais", "rais-old")
                row["ratio_old"] = round(cpu_rate["rais-old"] / cpu_rate["ceiling"], 2)
            row["vs_native"] = {
                # the other way round (peer / rais), as the goal is stated: >= 2x
                peer: _compare(per_token, peer, "rais")
                for peer in NATIVE.get(spec_id, ())
                if peer in targets
            }
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
            extra = [t for t in targets if t not in ("rais", "ceiling", "sse-starlette")]
            if extra:
                tok = row["us_per_token"]
                log(
                    f"  {'':18} {mode:9} us CPU/token: rais {tok['rais']}"
                    + "".join(f", {t} {tok[t]}" for t in extra)
                )
        latency_targets: list[str] = [t for t in ("rais", "ceiling", "sse-starlette") if t in every]
        result["latency"] = asyncio.run(_latency(server, latency_targets, config))
        lat = result["latency"]
        log(
            f"  {spec_id:18} latency   ttfb {lat['ttfb_ms']['rais']} ms "
            f"(ceiling {lat['ttfb_ms']['ceiling']}), per token p50 "
            f"{lat['token_ms']['rais']['p50']} / p99 {lat['token_ms']['rais']['p99']} ms "
            f"(ceiling {lat['token_ms']['ceiling']['p50']} / {lat['token_ms']['ceiling']['p99']})"
        )
    return result


async def _warm(servers: dict[bool, RunningServer], targets: list[str]) -> dict[str, int]:
    """A few whole answers per target; returns how many events each answer has beyond
    its tokens (RAIS: ``done``; the AI SDK and AG-UI: their start and end frames)."""
    count = 200
    overhead: dict[str, int] = {}
    for target in targets:
        where = TARGETS[target]
        server = servers[where.old]
        for _ in range(3):
            stream = await fetch(
                server.port, where.route, f"count={count}", protocol=where.protocol
            )
            if stream.status != 200 or not stream.done:
                raise RuntimeError(f"{server.spec.id} {target} is broken: {stream}")
        overhead[target] = stream.events - count
    return overhead


def _imported(servers: dict[bool, RunningServer], anchor: OldTree | None) -> dict[str, str]:
    """Which rais each server imported, from its log (the bench apps print it); the
    anchor's server must have the old tree's, the other must not."""
    found: dict[str, str] = {}
    for old, server in servers.items():
        lines = [line for line in server.log().splitlines() if "bench app: rais from " in line]
        if not lines:
            raise RuntimeError(f"{server.spec.id}: no 'bench app: rais from' line in its log")
        path = lines[-1].split("bench app: rais from ", 1)[1].strip()
        in_old = anchor is not None and Path(path).is_relative_to(anchor.src)
        if in_old != old:
            raise RuntimeError(f"{server.spec.id} ({'anchor' if old else 'new'}) imported {path}")
        found["old" if old else "new"] = path
    return found


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


# ------------------------------------------------------------------ memory + scale


def _idle_spec() -> str:
    """One token at once, then nothing for an hour: the stream stays open and idle."""
    return "count=2;interval=3600;stamp=1"


def _paced_spec(interval: float) -> str:
    return f"count=1000000;interval={interval};stamp=1"


async def _warm_streams(server: RunningServer, path: str, spec: str, rounds: int) -> None:
    """Open and drop a few streams: imports, first allocations and caches are paid."""
    for _ in range(rounds):
        warm = [await open_stream(server.port, path, spec, stamps=True) for _ in range(50)]
        await asyncio.wait([p.started for p in warm], timeout=10)
        await asyncio.sleep(0.3)
        for protocol in warm:
            protocol.abort()
        await asyncio.sleep(0.3)
    await asyncio.sleep(1.0)


def hold(
    server: RunningServer,
    path: str,
    *,
    spec: str,
    streams: int,
    clients: int,
    batch: int,
    hold_seconds: float,
    warm_rounds: int,
    log: Log,
    idle: bool = False,
) -> dict[str, Any]:
    """Open ``streams`` streams from ``clients`` load processes, hold them, measure.

    RSS per stream is (RSS with all open - RSS after warm-up) / streams open, over the
    server's processes; token delays are production -> arrival (same clock) during the
    hold only, when every stream is open.
    """
    asyncio.run(_warm_streams(server, path, spec, warm_rounds))
    pids = server.pids()
    baseline = rss(pids)
    load = Clients(server.port, path, spec, streams, clients, batch)
    try:
        opened = load.opened()
        time.sleep(1.0)
        loaded = rss(pids)
        load.step("clear")
        cpu_before, held_from = cpu_seconds(pids), time.perf_counter()
        time.sleep(hold_seconds)
        held = load.report()
        cpu = (cpu_seconds(pids) - cpu_before) / (time.perf_counter() - held_from)
        fds = 0
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                fds += psutil.Process(pid).num_fds()
    finally:
        load.close()
    per_stream = (loaded - baseline) / max(1, opened.live)
    result: dict[str, Any] = {
        "streams_requested": streams,
        "streams_open": opened.live,
        "streams_open_after_hold": held.still_open,
        "streams_silent": held.silent,
        "connect_failures": opened.failed,
        "open_seconds": round(opened.seconds, 1),
        "client_processes": clients,
        "rss_baseline_mib": round(baseline / 2**20, 1),
        "rss_loaded_mib": round(loaded / 2**20, 1),
        "kib_per_stream": round(per_stream / 1024, 1),
        "server_fds": fds,
        "server_cpu": round(cpu, 2),
        "hold_s": hold_seconds,
        "tokens_measured": len(held.delays),
        "token_delay_ms": {
            "p50": ms(percentile(held.delays, 50)),
            "p99": ms(percentile(held.delays, 99)),
            "max": ms(max(held.delays, default=float("nan"))),
        },
        "inter_token_ms": {
            "p50": ms(percentile(held.gaps, 50)),
            "p99": ms(percentile(held.gaps, 99)),
        },
    }
    tokens = (
        f", {held.silent} without a token, {len(held.delays):,} tokens, delay p50 "
        f"{result['token_delay_ms']['p50']} / p99 {result['token_delay_ms']['p99']} ms"
        if held.delays or not idle
        else ""
    )
    log(
        f"  {server.spec.id} {path}: {opened.live:,} of {streams:,} streams open in "
        f"{opened.seconds:.1f} s ({opened.failed} failed to connect); RSS "
        f"{baseline / 2**20:.1f} -> {loaded / 2**20:.1f} MiB = {per_stream / 1024:.1f} KiB "
        f"per stream; after {hold_seconds:.0f} s {held.still_open:,} open{tokens}, "
        f"server CPU {cpu:.0%}"
    )
    return result


MEMORY_SERVERS = ("fastapi-uvicorn", "starlette-uvicorn")


def memory(config: Config, log: Log) -> dict[str, Any]:
    """RSS per open idle stream: rais (heartbeats on) vs the bare StreamingResponse."""
    raise_fd_limit(config.memory_streams * 2 + 1000)
    env = {"RAIS_HEARTBEAT": str(config.memory_heartbeat)}
    results: dict[str, Any] = {}
    for spec_id in MEMORY_SERVERS:
        row: dict[str, Any] = {}
        for target in ("rais", "ceiling"):  # a fresh server each: RSS does not mix
            with running(BENCH_BY_ID[spec_id], env) as server:
                row[target] = hold(
                    server,
                    ROUTES[target],
                    spec=_idle_spec(),
                    streams=config.memory_streams,
                    clients=1,
                    batch=config.scale_batch,
                    hold_seconds=config.memory_hold,
                    warm_rounds=2,
                    log=log,
                    idle=True,
                )
        ours, theirs = row["rais"]["kib_per_stream"], row["ceiling"]["kib_per_stream"]
        row["heartbeat_s"] = config.memory_heartbeat
        row["ratio"] = round(ours / theirs, 2) if theirs > 0 else None
        results[spec_id] = row
    return results


def scale(config: Config, log: Log) -> dict[str, Any]:
    """Many slow streams on one uvicorn worker (FastAPI): none dropped, token delay."""
    files = config.scale_streams * 2 + 1000
    limit = raise_fd_limit(files)
    spec = with_fd_limit(BENCH_BY_ID["fastapi-uvicorn"], files)
    env = {"RAIS_HEARTBEAT": str(config.scale_heartbeat)}
    with running(spec, env) as server:
        result = hold(
            server,
            "/api/chat",
            spec=_paced_spec(config.scale_interval),
            streams=config.scale_streams,
            clients=config.scale_clients,
            batch=config.scale_batch,
            hold_seconds=config.scale_hold,
            warm_rounds=config.scale_warm_rounds,
            log=log,
        )
    result["token_interval_s"] = config.scale_interval
    result["heartbeat_s"] = config.scale_heartbeat
    result["fd_limit"] = limit
    return result


def wsgi_scale(config: Config, log: Log) -> dict[str, Any]:
    """Flask and Django on one gunicorn gthread worker (bench/gunicorn_conf.py)."""
    raise_fd_limit(config.wsgi_streams * 2 + 1000)
    env = {"RAIS_HEARTBEAT": str(config.scale_heartbeat)}
    results: dict[str, Any] = {}
    for spec_id in WSGI:
        spec = BENCH_BY_ID[spec_id]
        with running(spec, env) as server:
            row = hold(
                server,
                "/api/chat",
                spec=_paced_spec(config.scale_interval),
                streams=config.wsgi_streams,
                clients=1,
                batch=100,
                hold_seconds=config.wsgi_hold,
                warm_rounds=2,
                log=log,
            )
        row["threads"] = WSGI_THREADS
        row["command"] = " ".join(spec.command(0)).replace(PY, "python")
        row["token_interval_s"] = config.scale_interval
        row["heartbeat_s"] = config.scale_heartbeat
        results[spec_id] = row
    return results


# ------------------------------------------------------------------ end to end


E2E_ENV = {
    "OPENAI_API_KEY": "sk-bench-not-a-real-key-000000",
    "RAIS_MAX_RETRIES": "0",
}


def end_to_end(config: Config, log: Log) -> dict[str, Any]:
    """The real openai SDK against the fake upstream: rais vs a hand-written loop."""
    raise_fd_limit(config.e2e_streams * 4 + 1000)
    content = f"[count:{config.e2e_tokens}][delay:{config.e2e_delay}]"
    rates: dict[str, list[float]] = {"rais": [], "ceiling": []}
    costs: dict[str, list[float]] = {"rais": [], "ceiling": []}
    incomplete = {"rais": 0, "ceiling": 0}
    with upstream_process() as base_url:
        env = {**E2E_ENV, "OPENAI_BASE_URL": base_url}
        with running(E2E_SPEC, env) as server:
            pids = server.pids()
            per_stream: dict[str, int] = {}  # data: lines of one whole answer
            for target in ("rais", "ceiling"):
                stream = asyncio.run(fetch(server.port, ROUTES[target], content))
                if stream.status != 200 or not stream.done:
                    raise RuntimeError(f"{E2E_SPEC.id} {target} is broken: {stream}")
                per_stream[target] = stream.events
            for _ in range(config.e2e_rounds):
                for target in ("rais", "ceiling"):
                    measured = asyncio.run(
                        throughput(
                            server.port,
                            ROUTES[target],
                            tokens=config.e2e_tokens,
                            connections=config.e2e_streams,
                            warmup=config.e2e_warmup,
                            seconds=config.e2e_window,
                            cpu=lambda: cpu_seconds(pids),
                            content=content,
                            drain=60.0,
                        )
                    )
                    # per upstream token, whatever events each side adds (done, usage)
                    tokens = measured.events * config.e2e_tokens / per_stream[target]
                    rates[target].append(tokens / measured.seconds)
                    costs[target].append(
                        measured.cpu_seconds / tokens * 1e6 if tokens else float("inf")
                    )
                    incomplete[target] += measured.incomplete
    us = {t: round(statistics.median(v), 2) for t, v in costs.items()}
    result: dict[str, Any] = {
        "streams": config.e2e_streams,
        "tokens_per_stream": config.e2e_tokens,
        "upstream_delay_s": config.e2e_delay,
        "tokens_per_second": {t: round(statistics.median(v)) for t, v in rates.items()},
        "us_cpu_per_token": us,
        "ratio": round(us["rais"] / us["ceiling"], 3) if us["ceiling"] else None,
        "incomplete": incomplete,
        "events_per_answer": per_stream,
    }
    log(
        f"  {config.e2e_streams} streams: rais {us['rais']} us CPU/token "
        f"({result['tokens_per_second']['rais']:,} tokens/s), hand-written AsyncOpenAI loop "
        f"{us['ceiling']} us ({result['tokens_per_second']['ceiling']:,} tokens/s): "
        f"x{result['ratio']} the CPU per token"
        + (f"; incomplete streams {incomplete}" if any(incomplete.values()) else "")
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
