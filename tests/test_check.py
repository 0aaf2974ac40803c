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


# -- the AI SDK's UI message stream and AG-UI (--protocol) ---------------------------------


def ui_chunks(protocol: str, count: int, body: dict[str, object]) -> list[object]:
    """A correct stream of ``count`` tokens: chunk dicts, and the AI SDK's [DONE]."""
    if protocol == "ai-sdk":
        deltas = [{"type": "text-delta", "id": "t1", "delta": f"w{i} "} for i in range(count)]
        return [
            {"type": "start", "messageId": "msg-1"},
            {"type": "text-start", "id": "t1"},
            *deltas,
            {"type": "text-end", "id": "t1"},
            {"type": "finish", "finishReason": "stop"},
            "[DONE]",
        ]
    run = {"threadId": body.get("threadId"), "runId": body.get("runId")}
    contents = [
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": f"w{i} "} for i in range(count)
    ]
    return [
        {"type": "RUN_STARTED", **run},
        {"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "assistant"},
        *contents,
        {"type": "TEXT_MESSAGE_END", "messageId": "m1"},
        {"type": "RUN_FINISHED", **run},
    ]


def ui_fault(protocol: str, mode: str, chunks: list[object]) -> list[object]:
    """The correct stream, broken in one way."""
    if mode == "no-start":
        return chunks[1:]  # no start, or no RUN_STARTED
    if mode == "delta-outside-part":
        return [chunks[0], *chunks[2:]]  # no text-start: deltas for a part never opened
    if mode == "extra-key":
        return [chunks[0], chunks[1], {**chunks[2], "text": "w0 "}, *chunks[3:]]  # type: ignore[dict-item]
    if mode == "no-done":
        return chunks[:-1]
    if mode == "done-twice":
        return [*chunks, "[DONE]"]
    if mode == "content-after-end":
        return [chunks[0], chunks[1], chunks[-2], *chunks[2:-2], chunks[-1]]
    if mode == "finished-open":
        return [*chunks[:-2], chunks[-1]]  # no TEXT_MESSAGE_END before RUN_FINISHED
    if mode == "empty-delta":
        return [chunks[0], chunks[1], {**chunks[2], "delta": ""}, *chunks[3:]]  # type: ignore[dict-item]
    if mode == "after-end":
        return [*chunks, chunks[2]]  # a token after RUN_FINISHED
    return chunks


def ui_route(protocol: str, mode: str):  # type: ignore[no-untyped-def]
    """A handwritten endpoint of ``protocol``, right in every way but ``mode``."""

    async def chat(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            content = body["messages"][-1]
            prompt = content["parts"][0]["text"] if protocol == "ai-sdk" else content["content"]
        except (ValueError, KeyError, TypeError, IndexError):
            return JSONResponse({"error": {"message": "bad request"}}, status_code=422)
        chunks = ui_fault(protocol, mode, ui_chunks(protocol, token_count(prompt), body))
        headers = dict(SSE_HEADERS)
        if protocol == "ai-sdk" and mode != "no-header":
            headers["x-vercel-ai-ui-message-stream"] = "v1"

        async def paced() -> AsyncIterator[str]:
            for chunk in chunks:
                await asyncio.sleep(DELAY)
                data = chunk if isinstance(chunk, str) else json.dumps(chunk, separators=(",", ":"))
                yield f"data: {data}\n\n"

        return StreamingResponse(paced(), headers=headers, media_type="text/event-stream")

    return chat


#: (protocol, fault) -> the checks it must fail (and no others), and what one of them says.
UI_FAULTS = {
    ("ai-sdk", "no-header"): ({"x-vercel-ai-ui-message-stream"}, "is 'missing', not 'v1'"),
    ("ai-sdk", "no-start"): ({"chunk-sequence"}, "the first chunk is 'text-start', not 'start'"),
    ("ai-sdk", "delta-outside-part"): (
        {"chunk-sequence"},
        "'text-delta' for text part 't1', which is not open (and 12 more)",
    ),
    ("ai-sdk", "extra-key"): (
        {"chunk-schema"},
        "'text-delta' with keys the schema does not list: 'text'",
    ),
    ("ai-sdk", "no-done"): ({"done-marker"}, "no 'data: [DONE]' after the finish"),
    ("ai-sdk", "done-twice"): (
        {"done-marker", "nothing-after-terminal"},
        "2 '[DONE]' markers: it must come once",
    ),
    ("ag-ui", "no-start"): ({"chunk-sequence"}, "the first event is TEXT_MESSAGE_START"),
    ("ag-ui", "content-after-end"): (
        {"chunk-sequence"},
        "TEXT_MESSAGE_CONTENT for message 'm1', which is not open (no TEXT_MESSAGE_START)",
    ),
    ("ag-ui", "finished-open"): (
        {"chunk-sequence"},
        "RUN_FINISHED while message 'm1' is open",
    ),
    ("ag-ui", "empty-delta"): (
        {"no-empty-text"},
        "1 TEXT_MESSAGE_CONTENT event(s) with empty delta",
    ),
    ("ag-ui", "after-end"): (
        {"nothing-after-terminal"},
        "1 event(s) after 'RUN_FINISHED': ['TEXT_MESSAGE_CONTENT']",
    ),
}
UI_GOOD = rais_endpoint(handler=good_handler, protocol="auto")
UI_RESUMABLE = rais_endpoint(handler=good_handler, protocol="auto", resume=True)
UI_APP = Starlette(
    routes=[
        Route("/ui", UI_GOOD, methods=["POST"]),
        Route("/resumable-ui", UI_RESUMABLE, methods=["POST"]),
        Route("/resumable-ui/{chat_id}/stream", UI_RESUMABLE.resume, methods=["GET"]),
        *(
            Route(f"/{protocol}/{mode}", ui_route(protocol, mode), methods=["POST"])
            for protocol, mode in [*UI_FAULTS, ("ai-sdk", "good"), ("ag-ui", "good")]
        ),
    ],
    middleware=[
        Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"])
    ],
)


@pytest.fixture(scope="module")
def ui_base_url() -> Iterator[str]:
    with serve_in_thread(UI_APP) as url:
        yield url


@pytest.fixture(scope="module")
def ui_reports(ui_base_url: str) -> dict[tuple[str, str], Report]:
    """One check run per (protocol, route), side by side."""
    routes = [
        *UI_FAULTS,
        ("ai-sdk", "good"),
        ("ag-ui", "good"),
        ("ai-sdk", "ui"),
        ("ag-ui", "ui"),
        ("ai-sdk", "resumable-ui"),
    ]

    def check(route: tuple[str, str]) -> Report:
        protocol, mode = route
        path = mode if mode.endswith("ui") else f"{protocol}/{mode}"
        return run_checks(
            f"{ui_base_url}/{path}", prompt=SHORT, long_prompt=LONG, timeout=10, protocol=protocol
        )

    with ThreadPoolExecutor(8) as pool:
        return dict(zip(routes, pool.map(check, routes), strict=True))


@pytest.mark.parametrize("mode", ["ui", "good"])
@pytest.mark.parametrize("protocol", ["ai-sdk", "ag-ui"])
def test_a_correct_ui_endpoint_passes(
    ui_reports: dict[tuple[str, str], Report], protocol: str, mode: str
) -> None:
    report = ui_reports[protocol, mode]
    assert report.passed, report.table()
    assert report.level == "Recommended", report.table()
    assert report.protocol == protocol
    names = {r.name for r in report.results}
    assert {"chunk-schema", "chunk-sequence", "streamed", "abort", "bad-input-4xx-json"} <= names
    assert not [r.name for r in report.results if r.passed is None], report.table()
    if protocol == "ai-sdk":
        assert report["x-vercel-ai-ui-message-stream"].passed and report["done-marker"].passed
        assert report["resume"].failed  # not resumable: Full needs the AI SDK's resume
    else:
        assert "resume" not in names  # AG-UI has no resume, so no Full level
        assert report["no-empty-text"].level == "MUST"


def test_the_ai_sdk_resume_reaches_full(ui_reports: dict[tuple[str, str], Report]) -> None:
    report = ui_reports["ai-sdk", "resumable-ui"]
    assert report.level == "Full", report.table()
    assert report["resume"].detail.startswith("GET {url}/{chatId}/stream replayed the reply")


@pytest.mark.parametrize(
    ("protocol", "mode"), list(UI_FAULTS), ids=[f"{p}-{m}" for p, m in UI_FAULTS]
)
def test_each_ui_fault_fails_for_its_own_reason(
    ui_reports: dict[tuple[str, str], Report], protocol: str, mode: str
) -> None:
    report = ui_reports[protocol, mode]
    checks, message = UI_FAULTS[protocol, mode]
    assert not report.passed, report.table()
    assert set(failed(report)) == checks, report.table()
    assert any(message in detail for detail in failed(report).values()), report.table()


def test_the_table_names_the_protocol(ui_reports: dict[tuple[str, str], Report]) -> None:
    table = ui_reports["ag-ui", "finished-open"].table()
    assert table.startswith("AG-UI compliance of http://")
    assert (
        "chunk-sequence          MUST    FAIL    RUN_FINISHED while message 'm1' is open" in table
    )
    assert "Result: FAIL" in table


@pytest.mark.parametrize(
    ("path", "protocol", "status"),
    [
        ("ui", "ai-sdk", 0),
        ("ai-sdk/no-done", "ai-sdk", 1),
        ("ui", "ag-ui", 0),
        ("ag-ui/no-start", "ag-ui", 1),
    ],
)
def test_the_command_line_with_a_protocol(
    ui_base_url: str, path: str, protocol: str, status: int
) -> None:
    argv = ["check", f"{ui_base_url}/{path}", "--protocol", protocol, "--prompt", SHORT]
    done = subprocess.run(
        [sys.executable, "-m", "rais", *[*argv, "--long-prompt", LONG]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == status, done.stdout + done.stderr
    assert "Level reached:" in done.stdout


def test_ag_ui_has_no_full_level(ui_base_url: str) -> None:
    argv = ["check", f"{ui_base_url}/ui", "--protocol", "ag-ui", "--require", "full"]
    done = subprocess.run(
        [sys.executable, "-m", "rais", *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "AG-UI has no Full level" in done.stderr


AI_SDK_BODY = (
    b'data: {"type":"start","messageId":"m"}\n\n'
    b'data: {"type":"text-start","id":"t"}\n\n'
    b'data: {"type":"text-delta","id":"t","delta":"Hi"}\n\n'
    b'data: {"type":"text-end","id":"t"}\n\n'
    b'data: {"type":"finish","finishReason":"stop"}\n\n'
    b"data: [DONE]\n\n"
)
AG_UI_BODY = (
    b'data: {"type":"RUN_STARTED","threadId":"t","runId":"r"}\n\n'
    b'data: {"type":"TEXT_MESSAGE_START","messageId":"m","role":"assistant"}\n\n'
    b'data: {"type":"TEXT_MESSAGE_CONTENT","messageId":"m","delta":"Hi"}\n\n'
    b'data: {"type":"TEXT_MESSAGE_END","messageId":"m"}\n\n'
    b'data: {"type":"RUN_FINISHED","threadId":"t","runId":"r"}\n\n'
)


@pytest.mark.parametrize(("protocol", "raw"), [("ai-sdk", AI_SDK_BODY), ("ag-ui", AG_UI_BODY)])
def test_well_formed_ui_bodies_pass_every_stream_check(protocol: str, raw: bytes) -> None:
    results = stream_checks(b": ping\n\n" + raw, protocol=protocol)
    assert {r.name: r.detail for r in results if r.failed} == {}
    assert {"chunk-schema", "chunk-sequence"} <= {r.name for r in results}


@pytest.mark.parametrize(
    ("protocol", "raw", "check", "message"),
    [
        ("ai-sdk", AI_SDK_BODY.replace(b"\n", b"\r\n"), "lf-line-ends", "CRLF"),
        ("ai-sdk", AI_SDK_BODY.replace(b'"delta":"Hi"', b'"delta": "Hi"'), "compact-json", ""),
        ("ai-sdk", AI_SDK_BODY.replace(b"start", b"begin", 1), "chunk-schema", "'begin'"),
        (
            "ai-sdk",
            AI_SDK_BODY.replace(b'"stop"', b'"tired"'),
            "chunk-schema",
            "unknown finishReason 'tired'",
        ),
        (
            "ai-sdk",
            AI_SDK_BODY.replace(b'{"type":"text-end","id":"t"}', b'{"type":"text-end","id":"u"}'),
            "chunk-sequence",
            "'text-end' for text part 'u', which is not open",
        ),
        (
            "ai-sdk",
            AI_SDK_BODY.replace(b'data: {"type":"text-end","id":"t"}\n\n', b""),
            "chunk-sequence",
            "'finish' while text part 't' is open",
        ),
        ("ai-sdk", AI_SDK_BODY[: -len(b"data: [DONE]\n\n")] + b": ping\n\n", "done-marker", ""),
        ("ai-sdk", AI_SDK_BODY + b": ping\n\n", "nothing-after-terminal", "bytes after the end"),
        (
            "ai-sdk",
            AI_SDK_BODY.replace(b'"finish","finishReason":"stop"', b'"error"'),
            "chunk-schema",
            "'error' without 'errorText'",
        ),
        (
            "ag-ui",
            AG_UI_BODY.replace(
                b'FINISHED","threadId":"t","runId":"r"', b'FINISHED","threadId":"t","runId":"x"'
            ),
            "chunk-sequence",
            "RUN_FINISHED for thread/run ('t', 'x'), but RUN_STARTED was ('t', 'r')",
        ),
        ("ag-ui", AG_UI_BODY.replace(b'"delta":"Hi"', b'"text":"Hi"'), "chunk-schema", "delta"),
        ("ag-ui", AG_UI_BODY.replace(b"RUN_FINISHED", b"RUN_DONE"), "one-terminal", "RUN_ERROR"),
        (
            "ag-ui",
            AG_UI_BODY.replace(b'"role":"assistant"', b'"role":"robot"'),
            "chunk-schema",
            "unknown role 'robot'",
        ),
    ],
)
def test_each_ui_stream_fault_is_named(protocol: str, raw: bytes, check: str, message: str) -> None:
    failures = {r.name: r.detail for r in stream_checks(raw, protocol=protocol) if r.failed}
    assert check in failures, failures
    assert message in failures[check]
