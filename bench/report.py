"""Targets, the printed table, the README table and the throughput plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.servers import ASGI, WSGI

ADAPTERS = {
    "fastapi-uvicorn": "FastAPI (uvicorn)",
    "starlette-uvicorn": "Starlette (uvicorn)",
    "django-uvicorn": "Django ASGI (uvicorn)",
    "quart-hypercorn": "Quart (hypercorn)",
    "django-gunicorn": "Django WSGI (gunicorn gthread)",
    "flask-gunicorn": "Flask (gunicorn gthread)",
}

PLOT_LABELS = {
    "fastapi-uvicorn": "FastAPI\nuvicorn",
    "starlette-uvicorn": "Starlette\nuvicorn",
    "django-uvicorn": "Django ASGI\nuvicorn",
    "quart-hypercorn": "Quart\nhypercorn",
    "django-gunicorn": "Django WSGI\ngunicorn",
    "flask-gunicorn": "Flask\ngunicorn",
}


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured value and whether it was met."""
    rows: list[dict[str, Any]] = []
    servers = results.get("servers", {})
    sse = servers.get("starlette-uvicorn", {}).get("throughput", {})
    for server_id, data in servers.items():
        for mode, row in data.get("throughput", {}).items():
            floor = 0.9 if server_id in ASGI else 0.7 if server_id in WSGI else None
            if floor is None or row.get("ratio") is None:
                continue
            rows.append(
                {
                    "target": f"{ADAPTERS[server_id]}, {mode}: >= {floor}x its ceiling",
                    "measured": f"{row['ratio']}x",
                    "met": row["ratio"] >= floor,
                }
            )
            if server_id in ASGI and mode in sse:
                ours = row["per_cpu_second"]["rais"]
                theirs = sse[mode]["per_cpu_second"]["sse-starlette"]
                rows.append(
                    {
                        "target": f"{ADAPTERS[server_id]}, {mode}: ahead of sse-starlette",
                        "measured": f"{ours / theirs:.2f}x sse-starlette's events per CPU-second",
                        "met": ours > theirs,
                    }
                )
    scale = results.get("scale")
    if scale:
        rows.append(
            {
                "target": ">= 5,000 concurrent streams on one uvicorn worker",
                "measured": f"{scale['streams_open_after_hold']:,} held "
                f"({scale['streams_requested']:,} requested)",
                "met": scale["streams_open_after_hold"] >= 5000,
            }
        )
        rows.append(
            {
                "target": "< 20 KiB per open stream",
                "measured": f"{scale['kib_per_stream']} KiB",
                "met": scale["kib_per_stream"] < 20,
            }
        )
    for server_id, row in results.get("abort", {}).items():
        if server_id not in ASGI:
            continue
        for mode, data in row.items():
            worst = data.get("max_ms")
            rows.append(
                {
                    "target": f"{ADAPTERS[server_id]}: disconnect -> upstream cancel < 100 ms "
                    f"({mode} upstream)",
                    "measured": f"max {worst} ms" if worst is not None else "not cancelled",
                    "met": worst is not None and worst < 100,
                }
            )
    return rows


def print_report(results: dict[str, Any]) -> None:
    print()
    print(markdown(results))


def markdown(results: dict[str, Any]) -> str:
    """The tables the README's Performance section shows, from one results file."""
    out: list[str] = []
    meta = results.get("meta", {})
    servers = results.get("servers", {})
    modes = sorted({m for d in servers.values() for m in d.get("throughput", {})})
    if servers:
        out.append("| Adapter (server) | " + " | ".join(_mode_header(m) for m in modes) + " |")
        out.append("|---|" + "---|" * len(modes))
        for server_id, data in servers.items():
            cells = []
            for mode in modes:
                row = data.get("throughput", {}).get(mode)
                if row is None:
                    cells.append("-")
                    continue
                us = row.get("us_per_event", {})
                cell = (
                    f"{row['rais']:,} vs {row['ceiling']:,} ev/s; {us.get('rais')} vs "
                    f"{us.get('ceiling')} µs CPU/event = **{row['ratio']}x**"
                )
                if "sse-starlette" in row:
                    cell += (
                        f" (sse-starlette: {row['sse-starlette']:,} ev/s, "
                        f"{us.get('sse-starlette')} µs)"
                    )
                cells.append(cell)
            out.append(f"| {ADAPTERS.get(server_id, server_id)} | " + " | ".join(cells) + " |")
        out.append("")
        out.append(
            "| Adapter (server) | time to first event (ceiling) | added per token p50 / p99 "
            "(ceiling) | disconnect -> upstream cancel, streaming / idle (max) |"
        )
        out.append("|---|---|---|---|")
        for server_id, data in servers.items():
            lat = data.get("latency", {})
            abort = results.get("abort", {}).get(server_id, {})
            token = lat.get("token_ms", {})
            ttfb = lat.get("ttfb_ms", {})
            ours, theirs = token.get("rais", {}), token.get("ceiling", {})
            cancel = " / ".join(
                f"{abort[m]['max_ms']} ms" if abort.get(m, {}).get("max_ms") is not None else "-"
                for m in ("streaming", "idle")
            )
            out.append(
                f"| {ADAPTERS.get(server_id, server_id)} "
                f"| {ttfb.get('rais')} ms ({ttfb.get('ceiling')} ms) "
                f"| {ours.get('p50')} / {ours.get('p99')} ms "
                f"({theirs.get('p50')} / {theirs.get('p99')} ms) "
                f"| {cancel} |"
            )
        out.append("")
    scale = results.get("scale")
    if scale:
        reference = scale.get("ceiling", {}).get("kib_per_stream")
        out.append(
            f"Scale (FastAPI on one uvicorn worker): **{scale['streams_open_after_hold']:,}** of "
            f"{scale['streams_requested']:,} streams held open, **{scale['kib_per_stream']} KiB** "
            f"RSS per stream ({scale['rss_baseline_mib']} -> {scale['rss_loaded_mib']} MiB"
            + (
                f"; a hand-written StreamingResponse takes {reference} KiB on the same stack), "
                if reference is not None
                else "), "
            )
            + f"token delay p50 {scale['token_delay_ms']['p50']} ms / p99 "
            f"{scale['token_delay_ms']['p99']} ms with a token every "
            f"{scale['token_interval_s']} s per stream and heartbeats every "
            f"{scale['heartbeat_s']} s (server CPU {scale['server_cpu']:.0%})."
        )
        out.append("")
    imp = results.get("import")
    if imp:
        out.append(
            f"Import: `import rais` {imp['rais_ms']} ms (`import json` {imp['json_ms']} ms; "
            f"`import asyncio`, which rais needs, {imp.get('asyncio_ms')} ms); it loads no "
            f"framework or SDK ({', '.join(imp['heavy_modules']) or 'none'} loaded)."
        )
        out.append("")
    rows = targets(results)
    if rows:
        out.append("| Target | Measured | Met |")
        out.append("|---|---|---|")
        for row in rows:
            out.append(f"| {row['target']} | {row['measured']} | {'yes' if row['met'] else 'NO'} |")
        out.append("")
    if meta:
        out.append(
            f"Measured {meta.get('date', '?')} on {meta.get('cpus', '?')} CPUs, Python "
            f"{meta.get('python', '?')}, {meta.get('versions', '')}"
            + (" (--quick)" if meta.get("quick") else "")
            + "."
        )
    return "\n".join(out)


def _mode_header(mode: str) -> str:
    return {
        "burst": "fast source: rais vs hand-written ceiling",
        "per-token": "one token per event-loop turn: rais vs ceiling",
    }.get(mode, mode)


def plot(results: dict[str, Any], path: Path) -> bool:
    """Grouped bars: rais, the hand-written ceiling (and sse-starlette) per adapter."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    servers = results.get("servers", {})
    modes = sorted({m for d in servers.values() for m in d.get("throughput", {})})
    if not modes:
        return False
    fig, axes = plt.subplots(1, len(modes), figsize=(6.5 * len(modes), 4.6), squeeze=False)
    for ax, mode in zip(axes[0], modes, strict=True):
        labels, ours, ceiling, sse = [], [], [], []
        for server_id, data in servers.items():
            row = data.get("throughput", {}).get(mode)
            if row is None:
                continue
            labels.append(PLOT_LABELS.get(server_id, server_id))
            per_cpu = row["per_cpu_second"]
            ours.append(per_cpu["rais"] / 1000)
            ceiling.append(per_cpu["ceiling"] / 1000)
            sse.append(per_cpu.get("sse-starlette", 0) / 1000)
        x = range(len(labels))
        width = 0.27
        ax.bar([i - width for i in x], ours, width, label="rais", color="#2f6fde")
        ax.bar(list(x), ceiling, width, label="hand-written ceiling", color="#9aa5b1")
        ax.bar([i + width for i in x], sse, width, label="sse-starlette (uvicorn)", color="#e8a33d")
        for i, (a, b) in enumerate(zip(ours, ceiling, strict=True)):
            if b:
                ax.text(i - width, a, f"{a / b:.2f}x", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_ylim(0, max(ours + ceiling + sse) * 1.35)
        ax.set_ylabel("thousand events per server CPU-second")
        ax.set_title(_mode_header(mode), fontsize=10)
        ax.legend(fontsize=8, loc="upper right", ncols=3)
    fig.suptitle("Throughput per adapter on its production server: RAIS events per CPU-second")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
