"""``python -m bench``: run the benchmarks, print the tables, write JSON (and the plot)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import suite
from bench.anchor import DEFAULT_REF, OldTree, check, old_tree
from bench.config import DEFAULT, QUICK
from bench.report import markdown, plot, print_report
from bench.servers import BENCH_SERVERS
from tests.servers import ROOT

RESULTS = ROOT / "bench" / "results"
SNAPSHOT = RESULTS / "README-snapshot.json"
PLOT = ROOT / "docs" / "throughput.png"
BENCHMARKS = ("throughput", "memory", "scale", "wsgi-scale", "e2e", "abort", "import")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="a short run (a few minutes) with smaller numbers"
    )
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of {', '.join(BENCHMARKS)} (throughput includes latency)",
    )
    parser.add_argument(
        "--servers", default="", help="comma-separated server ids (default: all of them)"
    )
    parser.add_argument(
        "--modes",
        default="",
        help="throughput modes, comma-separated: burst, per-token (default: both)",
    )
    parser.add_argument(
        "--anchor",
        default=DEFAULT_REF,
        metavar="REF",
        help=f"the old code measured beside rais in the throughput runs (git revision, "
        f"default {DEFAULT_REF}: before the wire protocols); 'none' to skip it",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    parser.add_argument(
        "--snapshot",
        action="store_true",
        help=f"also write {SNAPSHOT.relative_to(ROOT)} and {PLOT.relative_to(ROOT)} (the README's)",
    )
    parser.add_argument(
        "--markdown", type=Path, metavar="RESULTS.json", help="print a results file's tables"
    )
    parser.add_argument(
        "--plot", type=Path, metavar="RESULTS.json", help=f"redraw {PLOT.relative_to(ROOT)} from it"
    )
    args = parser.parse_args(argv)

    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    if args.plot:
        return 0 if plot(json.loads(args.plot.read_text()), PLOT) else 1

    config = QUICK if args.quick else DEFAULT
    if args.modes:
        modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
        if not modes or set(modes) - {"burst", "per-token"}:
            parser.error(f"unknown modes: {args.modes}")
        config = dataclasses.replace(config, modes=modes)
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    server_ids = [s.strip() for s in args.servers.split(",") if s.strip()] or [
        spec.id for spec in BENCH_SERVERS
    ]

    def log(line: str) -> None:
        print(line, flush=True)

    results: dict[str, Any] = {"meta": _meta(args.quick)}
    started = time.perf_counter()
    if "throughput" in wanted:
        log("throughput and latency (rais vs the framework's hand-written streaming response)")
        results["servers"] = {}
        with contextlib.ExitStack() as stack:
            anchor: OldTree | None = None
            if args.anchor.lower() != "none":
                anchor = stack.enter_context(old_tree(args.anchor))
                found = check(anchor)
                results["meta"]["anchor"] = {
                    "ref": anchor.ref,
                    "commit": anchor.commit,
                    "rais_file": found,
                }
                log(f"  the old code: {anchor.ref} ({anchor.commit[:12]}), rais from {found}")
            for sid in server_ids:
                try:
                    results["servers"][sid] = suite.measure_server(sid, config, log, anchor)
                except (RuntimeError, OSError, TimeoutError) as exc:  # one broken server: go on
                    log(f"  {sid}: FAILED: {exc}")
                    results["servers"][sid] = {"error": str(exc)[:2000]}
    if "memory" in wanted:
        log(
            f"memory: {config.memory_streams:,} idle streams, rais (heartbeats every "
            f"{config.memory_heartbeat} s) vs the bare StreamingResponse"
        )
        results["memory"] = suite.memory(config, log)
    if "scale" in wanted:
        log(
            f"scale: {config.scale_streams:,} streams on one uvicorn worker "
            f"({config.scale_clients} load processes)"
        )
        results["scale"] = suite.scale(config, log)
    if "wsgi-scale" in wanted:
        log(f"WSGI scale: {config.wsgi_streams:,} streams on one gunicorn gthread worker")
        results["wsgi_scale"] = suite.wsgi_scale(config, log)
    if "e2e" in wanted:
        log("end to end: the openai SDK against the fake upstream, rais vs a hand-written loop")
        results["e2e"] = suite.end_to_end(config, log)
    if "abort" in wanted:
        log("abort: client disconnect -> upstream request cancelled (OpenAI SDK, fake upstream)")
        results["abort"] = suite.abort(config, log)
    if "import" in wanted:
        log("import time")
        results["import"] = suite.import_time(config, log)
    results["meta"]["seconds"] = round(time.perf_counter() - started, 1)

    print_report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"\nwrote {_show(args.out)}")
    if args.snapshot:
        SNAPSHOT.write_text(json.dumps(results, indent=2) + "\n")
        log(f"wrote {_show(SNAPSHOT)}")
        if plot(results, PLOT):
            log(f"wrote {_show(PLOT)}")
        else:
            log("matplotlib is missing: pip install -e '.[bench]' for the plot")
    log(f"done in {results['meta']['seconds']} s")
    return 0


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _meta(quick: bool) -> dict[str, Any]:
    versions = []
    for package in ("uvicorn", "gunicorn", "hypercorn", "starlette", "django", "flask", "quart"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "quick": quick,
        "versions": ", ".join(versions),
        "argv": sys.argv[1:],
    }
