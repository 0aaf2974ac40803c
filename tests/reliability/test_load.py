"""Hundreds of concurrent streams with faults and random disconnects, then nothing leaked."""

from __future__ import annotations

import asyncio
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from rais._sse_decode import SSEBlockDecoder
from tests.fakes.upstreams import ERROR_MID_AFTER, FakeUpstream
from tests.reliability.conftest import SECRET_KEY, Usage, quiesce, settle
from tests.servers import RunningServer

STREAMS = 200
TERMINAL = {"done", "error"}


@dataclass
class Plan:
    """One client: what it asks for and when (if ever) it hangs up."""

    n: int
    kind: str  # "ok" | "error_mid" | "slow" | "long" (a 4 s answer its client leaves early)
    tokens: list[str]
    leave_after: int | None  # disconnect after this many events (None: read to the end)

    @property
    def content(self) -> str:
        joined = "|".join(self.tokens)
        if self.kind == "error_mid":
            return f"[tokens:{joined}][fault:error_mid]"
        if self.kind == "slow":
            return f"[tokens:{joined}][fault:slow]"
        if self.kind == "long":
            return f"[tokens:{joined}][delay:0.01]"
        return f"[tokens:{joined}][delay:0.005]"


@dataclass
class Outcome:
    plan: Plan
    status: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str | None] = field(default_factory=list)
    raw: bytes = b""


def plans(seed: int) -> list[Plan]:
    rng = random.Random(seed)
    out = []
    for n in range(STREAMS):
        if n % 3 == 0:  # a third hang up mid-way through a long answer
            tokens = [f"c{n}-{i} " for i in range(400)]
            out.append(Plan(n, "long", tokens, leave_after=rng.randint(0, 5)))
            continue
        kind = ("ok", "ok", "error_mid", "slow")[n % 4]
        count = rng.randint(3, 6) if kind == "slow" else rng.randint(5, 25)
        out.append(Plan(n, kind, [f"c{n}-{i} " for i in range(count)], leave_after=None))
    return out


async def run_client(http: httpx.AsyncClient, url: str, plan: Plan) -> Outcome:
    outcome = Outcome(plan)
    body = {"messages": [{"role": "user", "content": plan.content}]}
    # Connection: close, so that idle keep-alive sockets do not blur the fd count.
    async with http.stream("POST", url, json=body, headers={"Connection": "close"}) as response:
        outcome.status = response.status_code
        decoder = SSEBlockDecoder()
        async for chunk in response.aiter_raw():
            outcome.raw += chunk
            for block in decoder.feed(chunk):
                outcome.events += [json.loads(data) for data in block.data]
                outcome.ids += [block.event_id] * len(block.data)
            if plan.leave_after is not None and len(outcome.events) >= plan.leave_after:
                return outcome  # leaving the block closes the connection mid-stream
    return outcome


async def load(url: str, seed: int) -> list[Outcome]:
    limits = httpx.Limits(max_connections=STREAMS + 10, max_keepalive_connections=0)
    timeout = httpx.Timeout(30.0)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        return await asyncio.gather(*(run_client(http, url, plan) for plan in plans(seed)))


def check_intact(outcome: Outcome) -> None:
    """A stream read to its end: every token in order, ids 1..n, exactly one terminal, last."""
    plan = outcome.plan
    assert outcome.status == 200, outcome.raw[:300]
    types = [e["type"] for e in outcome.events]
    assert sum(t in TERMINAL for t in types) == 1 and types[-1] in TERMINAL, types
    assert outcome.ids == [str(i) for i in range(1, len(types) + 1)]
    text = "".join(e["text"] for e in outcome.events if e["type"] == "text")
    if plan.kind == "error_mid":
        assert types[-1] == "error"
        assert text == "".join(plan.tokens[:ERROR_MID_AFTER])
    else:
        assert types[-1] == "done"
        assert text == "".join(plan.tokens)
    assert SECRET_KEY.encode() not in outcome.raw


def check_partial(outcome: Outcome) -> None:
    """A client that hung up: what it did get was a correct prefix."""
    plan = outcome.plan
    assert outcome.status == 200, outcome.raw[:300]
    text = "".join(e["text"] for e in outcome.events if e["type"] == "text")
    assert "".join(plan.tokens).startswith(text)
    assert outcome.ids == [str(i) for i in range(1, len(outcome.events) + 1)]


def test_load_with_faults_and_disconnects_leaks_nothing(
    server: RunningServer, upstream: FakeUpstream, probe_dir: str
) -> None:
    # A first round warms every pool (gthread's threads, the SDK's connections, ...).
    mark = Mark(upstream)
    asyncio.run(load(server.url, seed=1))
    assert mark.wait_idle(), "upstream calls still open after the warm-up"
    baseline = quiesce(server, upstream, probe_dir)

    mark = Mark(upstream)
    outcomes = asyncio.run(load(server.url, seed=2))

    finished = [o for o in outcomes if o.plan.leave_after is None]
    left = [o for o in outcomes if o.plan.leave_after is not None]
    assert len(finished) > STREAMS // 2 and len(left) > STREAMS // 4
    for outcome in finished:
        check_intact(outcome)
    for outcome in left:
        check_partial(outcome)

    # Every upstream call ended: completed, failed or cancelled because its client left.
    assert mark.wait_idle(), mark.describe()
    # A client that leaves on its first chunk (a heartbeat during the first-event hold) may
    # go before its upstream call is made: then there is no call to make or cancel.
    never_asked = {o.plan.n for o in outcomes} - mark.asked_for()
    for n in never_asked:
        assert outcomes[n].plan.leave_after is not None and not outcomes[n].events, n
    assert mark.requests() == STREAMS - len(never_asked)
    assert mark.cancelled() == len(left) - len(never_asked), (
        "each client that left cancelled its upstream call"
    )

    after = settle(server, upstream, probe_dir, baseline, slack=3, timeout=30, upstream_sockets=100)
    assert after.within(baseline, slack=3), describe(baseline, after)
    assert after.upstream_sockets <= 100, "the SDK's keep-alive pool is bounded"


class Mark:
    """Upstream calls since now: how many came in, and how many have ended (any way)."""

    def __init__(self, upstream: FakeUpstream) -> None:
        self.upstream = upstream
        self.requests_at = len(upstream.requests)
        self.ended_at = self._ended()
        self.cancelled_at = upstream.cancelled

    def _ended(self) -> int:
        up = self.upstream
        return up.completed + up.errored + up.cancelled

    def requests(self) -> int:
        return len(self.upstream.requests) - self.requests_at

    def asked_for(self) -> set[int]:
        """The plans (by number) whose upstream call was made."""
        found = (
            re.search(r"c(\d+)-0 ", json.dumps(r.json))
            for r in self.upstream.requests[self.requests_at :]
        )
        return {int(match.group(1)) for match in found if match}

    def ended(self) -> int:
        return self._ended() - self.ended_at

    def cancelled(self) -> int:
        return self.upstream.cancelled - self.cancelled_at

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self.upstream.wait_for(lambda: self.ended() >= self.requests(), timeout)

    def describe(self) -> str:
        return f"{self.requests()} upstream calls, {self.ended()} ended"


def describe(baseline: Usage, after: Usage) -> str:
    grown = {
        name: count - baseline.task_names.get(name, 0)
        for name, count in after.task_names.items()
        if count > baseline.task_names.get(name, 0)
    }
    return f"before {baseline}, after {after}; task kinds that grew: {grown}"


pytestmark = pytest.mark.timeout(120)
