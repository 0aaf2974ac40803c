"""How long and how hard each benchmark runs: the default (a few minutes) and ``--quick``."""

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
    # scale (one uvicorn worker)
    scale_streams: int = 5000
    scale_batch: int = 250
    scale_interval: float = 5.0
    scale_hold: float = 11.0
    scale_heartbeat: float = 2.0
    scale_warm_rounds: int = 3
    scale_reference: bool = True  # also measure the hand-written StreamingResponse
    # abort
    abort_reps: int = 5
    abort_modes: tuple[str, ...] = ("streaming", "idle")
    # import
    import_reps: int = 7


DEFAULT = Config()
QUICK = Config(
    rounds=1,
    warmup=0.25,
    modes=("burst",),
    ttfb_requests=8,
    paced_streams=1,
    paced_tokens=40,
    window=0.6,
    scale_streams=1000,
    scale_hold=3.0,
    scale_interval=1.0,
    scale_heartbeat=0.5,
    scale_warm_rounds=1,
    scale_reference=False,
    abort_reps=2,
    abort_modes=("streaming",),
    import_reps=3,
)
