"""How long and how hard each benchmark runs: the default (the final run) and ``--quick``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    # throughput: streams of `tokens` events on `connections` connections, measured in
    # `rounds` windows of `window` seconds, rais and its ceiling alternating
    tokens: int = 1000
    connections: int = 8
    rounds: int = 3
    window: float = 1.5
    warmup: float = 0.4
    modes: tuple[str, ...] = ("burst", "per-token")
    # latency
    ttfb_requests: int = 20
    paced_streams: int = 2
    paced_tokens: int = 100
    paced_interval: float = 0.010
    # memory: idle open streams (one token, then heartbeats only), rais vs the bare
    # StreamingResponse, on FastAPI and Starlette (uvicorn), a fresh server for each
    memory_streams: int = 1000
    memory_heartbeat: float = 2.0
    memory_hold: float = 5.0
    # scale (one uvicorn worker, FastAPI): `scale_clients` load processes share the streams
    scale_streams: int = 10_000
    scale_clients: int = 4
    scale_batch: int = 250
    scale_interval: float = 5.0
    scale_hold: float = 11.0
    scale_heartbeat: float = 2.0
    scale_warm_rounds: int = 3
    # WSGI scale (Flask and Django on one gunicorn gthread worker, bench/gunicorn_conf.py)
    wsgi_streams: int = 1000
    wsgi_hold: float = 11.0
    # end to end: the real openai SDK against the fake upstream (its own process)
    e2e_streams: int = 256
    e2e_tokens: int = 100
    e2e_delay: float = 0.02
    e2e_rounds: int = 3
    e2e_window: float = 5.0
    e2e_warmup: float = 2.0
    # abort
    abort_reps: int = 5
    abort_modes: tuple[str, ...] = ("streaming", "idle")
    # import
    import_reps: int = 7


DEFAULT = Config()
QUICK = Config(
    rounds=1,
    warmup=0.25,
    window=0.6,
    ttfb_requests=8,
    paced_streams=1,
    paced_tokens=40,
    memory_streams=300,
    memory_hold=2.0,
    scale_streams=1000,
    scale_clients=2,
    scale_hold=3.0,
    scale_interval=1.0,
    scale_heartbeat=0.5,
    scale_warm_rounds=1,
    wsgi_streams=200,
    wsgi_hold=3.0,
    e2e_streams=64,
    e2e_tokens=50,
    e2e_rounds=1,
    e2e_window=1.5,
    e2e_warmup=1.0,
    abort_reps=2,
    abort_modes=("streaming",),
    import_reps=3,
)
