"""``rais check`` against deliberately broken servers: each must fail, for its own reason.

The servers are small Starlette apps under a real uvicorn on loopback; one route
per fault, and a correct route (rais's own endpoint with a handler) as the control.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from rais.check import Capture, Report, run_checks, stream_checks, timing_check
from rais.starlette import rais_endpoint
from tests.asgi_thread import serve_in_thread

#: Between tokens: a 12-token answer spreads over 0.7 s, far more than the 0.05 s that
#: rais.check calls streamed, so a loaded machine does not make it look buffered.
DELAY = 0.06
SHORT, LONG = "short answer", "long answer"
MODES = ["never-done", "after-done", "wrong-type", "buffered", "crlf", "replays"]
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def token_count(prompt: str) -> int:
    return 40 if prompt == LONG else 12


async def good_handler(messages: list[dict[str, str]]) -> AsyncIterator[str]:
    for i in range(token_count(messages[-1]["content"])):
        await asyncio.sleep(DELAY)
        yield f"w{i} "


def frame(number: int, data: dict[str, str]) -> str:
    return f"id: {number}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def broken(mode: str):  # type: ignore[no-untyped-def]
    """A chat route right in every way but one."""

    async def chat(request: Request) -> Response:
        if request.headers.get("last-event-id") is not None and mode != "replays":
            return Response(status_code=204, headers={"Cache-Control": "no-cache"})
        try:
            prompt = json.loads(await request.body())["messages"][-1]["content"]
        except (ValueError, KeyError, TypeError, IndexError):
            return JSONResponse({"error": {"message": "bad request"}}, status_code=400)
        count = token_count(prompt)
        frames = [frame(i + 1, {"type": "text", "text": f"w{i} "}) for i in range(count)]
        if mode != "never-done":
            frames.append(frame(count + 1, {"type": "done"}))
        if mode == "after-done":
            frames.append(frame(count + 2, {"type": "text", "text": "late"}))
        if mode == "crlf":
            frames = [f.replace("\n", "\r\n") for f in frames]
        media = "text/plain" if mode == "wrong-type" else "text/event-stream"
        if mode == "buffered":
            await asyncio.sleep(DELAY * count)  # made at the same pace, sent all at the end
            return Response("".join(frames), headers=SSE_HEADERS, media_type=media)

        async def paced() -> AsyncIterator[str]:
            for data in frames:
                await asyncio.sleep(DELAY)
                yield data

        return StreamingResponse(paced(), headers=SSE_HEADERS, media_type=media)

    return chat


APP = Starlette(
    routes=[
        Route("/good", rais_endpoint(handler=good_handler), methods=["POST"]),
        Route("/resumable", rais_endpoint(handler=good_handler, resume=True), methods=["POST"]),
        *(Route(f"/{mode}", broken(mode), methods=["POST"]) for mode in MODES),
    ],
    middleware=[
        Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    ],
)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_in_thread(APP) as url:
        yield url


@pytest.fixture(scope="module")
def reports(base_url: str) -> dict[str, Report]:
    """One check run per route, run side by side to keep the module fast."""

    def check(mode: str) -> Report:
        return run_checks(f"{base_url}/{mode}", prompt=SHORT, long_prompt=LONG, timeout=10)

    modes = ["good", "resumable", *MODES]
    with ThreadPoolExecutor(len(modes)) as pool:
        return dict(zip(modes, pool.map(check, modes), strict=True))


def failed(report: Report) -> dict[str, str]:
    return {r.name: r.detail for r in report.failures}


def test_a_correct_endpoint_passes(reports: dict[str, Report]) -> None:
    report = reports["good"]
    assert report.passed, report.table()
    assert report.level == "Recommended"
    assert report["streamed"].passed, report.table()
    assert report["resume"].failed  # rais answers 204: Full needs a resumable server


def test_a_resumable_endpoint_reaches_full(reports: dict[str, Report]) -> None:
    report = reports["resumable"]
    assert report.level == "Full", report.table()
    assert report["resume"].detail.startswith("resumed after id ")


def test_answering_last_event_id_with_a_fresh_stream_fails(reports: dict[str, Report]) -> None:
    report = reports["replays"]
    assert report.level == "Core"
    assert "re-sent delivered events" in failed(report)["last-event-id"]


def test_never_sending_done_fails_one_terminal(reports: dict[str, Report]) -> None:
    report = reports["never-done"]
    assert not report.passed and report.level is None
    assert "no done or error event" in failed(report)["one-terminal"]


def test_an_event_after_done_fails(reports: dict[str, Report]) -> None:
    report = reports["after-done"]
    assert not report.passed
    assert "after 'done'" in failed(report)["nothing-after-terminal"]
    assert report["one-terminal"].passed


def test_wrong_content_type_fails(reports: dict[str, Report]) -> None:
    report = reports["wrong-type"]
    assert not report.passed
    assert "not text/event-stream" in failed(report)["content-type"]


def test_a_buffered_stream_is_caught_by_arrival_timing(reports: dict[str, Report]) -> None:
    report = reports["buffered"]
    assert not report.passed
    assert set(failed(report)) == {"streamed"}, report.table()  # the bytes are perfect
    assert failed(report)["streamed"].startswith("buffered: all 13 events arrived within")


def test_crlf_framing_fails(reports: dict[str, Report]) -> None:
    report = reports["crlf"]
    assert not report.passed
    assert "CRLF" in failed(report)["lf-line-ends"]
    assert report["one-terminal"].passed  # read leniently, so only the framing is blamed


def test_the_table_names_the_failure_and_the_level(reports: dict[str, Report]) -> None:
    table = reports["crlf"].table()
    assert "lf-line-ends            MUST    FAIL" in table
    assert "Level reached: none (a MUST check failed)" in table
    assert "Core needs: lf-line-ends" in table
    assert "Result: FAIL" in table


@pytest.mark.parametrize(("mode", "status"), [("good", 0), ("crlf", 1)])
def test_the_command_line_exit_status(base_url: str, mode: str, status: int) -> None:
    argv = ["check", f"{base_url}/{mode}", "--prompt", SHORT, "--long-prompt", LONG]
    done = subprocess.run(
        [sys.executable, "-m", "rais", *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == status, done.stdout + done.stderr
    assert "Level reached:" in done.stdout


def test_python_m_rais_check_prints_json(base_url: str) -> None:
    argv = [f"{base_url}/never-done", "--prompt", SHORT, "--long-prompt", LONG, "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "rais.check", *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["level"] is None and report["passed"] is False


# -- the pure stream checks, on bytes -------------------------------------------------------


def failures_of(raw: bytes) -> dict[str, str]:
    return {r.name: r.detail for r in stream_checks(raw) if r.failed}


def test_a_well_formed_body_passes_every_stream_check() -> None:
    raw = b': ping\n\nid: 1\ndata: {"type":"text","text":"Hi"}\n\nid: 2\ndata: {"type":"done"}\n\n'
    assert failures_of(raw) == {}


@pytest.mark.parametrize(
    ("raw", "check"),
    [
        (b'data:{"type":"done"}\n\n', "data-prefix"),
        (b'data: {"type":"text",\ndata: "text":"a"}\n\ndata: {"type":"done"}\n\n', "one-data-line"),
        (b'data: {"type":"metadata"}\n\ndata: {"type":"done"}\n\n', "no-reserved-types"),
        (b'data: {"type":"text","text":""}\n\ndata: {"type":"done"}\n\n', "no-empty-text"),
        (b'data: {"type": "done"}\n\n', "compact-json"),
        (b'data: {"type":"done"}\n\n', "event-ids"),
        (
            b'id: 1\ndata: {"type":"done"}\n\nid: 2\ndata: {"type":"error","error":"x"}\n\n',
            "one-terminal",
        ),
        (b'id: 1\ndata: {"type":"done"}\n\n: ping\n\n', "nothing-after-terminal"),
        (b'id: 1\ndata: {"type":"done"}\n\nid: 2\ndata: {"ty', "whole-frames"),
        (b'id: 1\ndata: not json\n\nid: 2\ndata: {"type":"done"}\n\n', "json-events"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_each_stream_fault_is_named(raw: bytes, check: str) -> None:
    assert check in failures_of(raw)


# -- the timing check, on arrival times ---------------------------------------------------


def captured(arrivals: list[float], texts: int = 5) -> Capture:
    raw = b"".join(
        f'id: {i + 1}\ndata: {{"type":"text","text":"t{i}"}}\n\n'.encode() for i in range(texts)
    )
    raw += f'id: {texts + 1}\ndata: {{"type":"done"}}\n\n'.encode()
    return Capture(200, {"content-type": "text/event-stream"}, raw=raw, arrivals=arrivals)


def test_events_spread_out_are_streamed() -> None:
    assert timing_check(captured([0.1, 0.2, 0.3, 0.4, 0.5, 0.5])).passed is True


def test_events_all_at_the_end_of_a_long_answer_are_buffered() -> None:
    result = timing_check(captured([2.0] * 6))
    assert result.failed
    assert result.detail.startswith("buffered: all 6 events arrived within 0 ms, 2.00 s after")


def test_too_fast_or_too_short_an_answer_is_not_judged() -> None:
    assert timing_check(captured([0.01] * 6)).passed is None  # done before anything could wait
    assert timing_check(captured([0.1, 5.0, 5.0], texts=2)).passed is None  # two texts
