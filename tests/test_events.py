"""Unit tests of event encoding: the documented helper, the compact wire form, SSE frames."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rais import rais_event
from rais._events import (
    DONE,
    HEARTBEAT,
    RESERVED_TYPES,
    Event,
    error_event,
    event_from_dict,
    sse_frame,
    text_event,
)

TRICKY = [
    "Hello",
    "héllo wörld",
    "日本語のテキスト",
    "emoji 🎉👩‍👩‍👧‍👦 and flags 🇺🇦",
    "line one\nline two\n\nafter a blank line",
    "carriage\r\nreturn",
    "quotes \" and 'single'",
    "back\\slash \\n not a newline",
    "tab\tand nul\x00 and bell\x07",
    "data: looks like a frame\n\n",
    "\u2028 line separator \u2029",
    " ",
]


def parse_frame(frame: bytes) -> tuple[str | None, dict[str, object]]:
    """Parse one SSE frame the way a useAIChat client does: LF-split, ``data: `` lines."""
    text = frame.decode("utf-8")
    assert text.endswith("\n\n")
    assert "\r" not in text.replace("\\r", "")
    lines = text[:-2].split("\n")
    event_id = None
    data_lines = []
    for line in lines:
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data_lines.append(line[6:])
        else:
            raise AssertionError(f"unexpected line {line!r}")
    assert len(data_lines) == 1, "exactly one data: line per event"
    return event_id, json.loads(data_lines[0])


# ---------------------------------------------------------------- rais_event (documented)


def test_rais_event_documented_output() -> None:
    assert rais_event({"type": "text", "text": "Hello"}) == (
        'data: {"type": "text", "text": "Hello"}\n\n'
    )


@pytest.mark.parametrize(
    "data",
    [{"type": "done"}, {"type": "error", "error": "boom"}, {"type": "text", "text": "a\nb"}],
)
def test_rais_event_is_json_dumps_framed(data: dict[str, str]) -> None:
    out = rais_event(data)
    assert out == "data: " + json.dumps(data) + "\n\n"
    assert out.count("\n") == 2, "a newline inside the text must be escaped, not sent raw"
    assert json.loads(out[len("data: ") : -2]) == data


def test_rais_event_lone_surrogate_is_escaped() -> None:
    out = rais_event({"type": "text", "text": "bad \ud800 half"})
    out.encode("utf-8")  # would raise if the surrogate were left raw
    assert json.loads(out[6:-2])["text"] == "bad \ud800 half"


# ---------------------------------------------------------------- compact wire encoding


def test_text_event_is_compact() -> None:
    event = text_event("Hi")
    assert event.type == "text"
    assert event.data == '{"type":"text","text":"Hi"}'
    assert not event.terminal


def test_error_event_is_compact_and_terminal() -> None:
    event = error_event("it broke")
    assert event.data == '{"type":"error","error":"it broke"}'
    assert event.terminal


def test_done_is_compact_and_terminal() -> None:
    assert DONE.data == '{"type":"done"}'
    assert DONE.terminal
    assert json.loads(DONE.data) == {"type": "done"}


def test_non_ascii_is_sent_as_utf8_not_escaped() -> None:
    # The wire carries UTF-8 directly (smaller frames); json parsing gives it back.
    assert "é" in text_event("é").data
    assert sse_frame(text_event("é"), None) == 'data: {"type":"text","text":"é"}\n\n'.encode()


@pytest.mark.parametrize("text", TRICKY)
def test_text_round_trips_through_the_sse_frame(text: str) -> None:
    for event_id in (None, "7"):
        got_id, data = parse_frame(sse_frame(text_event(text), event_id))
        assert got_id == event_id
        assert data == {"type": "text", "text": text}


@pytest.mark.parametrize("text", TRICKY)
def test_error_round_trips_through_the_sse_frame(text: str) -> None:
    _, data = parse_frame(sse_frame(error_event(text), "1"))
    assert data == {"type": "error", "error": text}


@given(st.text())
def test_any_text_round_trips(text: str) -> None:
    _, data = parse_frame(sse_frame(text_event(text), "3"))
    assert data == {"type": "text", "text": text}


@pytest.mark.parametrize(
    "text", ["\ud800", "a\udfffb", "pair \ud83d\ude00 mixed \ud83d", "🎉\udc00"]
)
def test_lone_surrogates_do_not_crash_the_frame(text: str) -> None:
    for event in (text_event(text), error_event(text)):
        for event_id in (None, "12"):
            frame = sse_frame(event, event_id)
            got_id, data = parse_frame(frame)
            assert got_id == event_id
            key = "text" if event.type == "text" else "error"
            # escaped as \\udXXX; parsed back exactly as JSON itself reads the string
            assert data[key] == json.loads(json.dumps(text))


def test_heartbeat_is_a_comment() -> None:
    assert sse_frame(HEARTBEAT, None) == b": ping\n\n"
    assert sse_frame(HEARTBEAT, "4") == b": ping\n\n"
    assert not HEARTBEAT.terminal


# ---------------------------------------------------------------- event_from_dict


def test_event_from_dict_text() -> None:
    event = event_from_dict({"type": "text", "text": "yo"})
    assert event == text_event("yo")


def test_event_from_dict_empty_text_is_dropped() -> None:
    assert event_from_dict({"type": "text", "text": ""}) is None


def test_event_from_dict_text_needs_a_string() -> None:
    with pytest.raises(TypeError):
        event_from_dict({"type": "text", "text": 3})
    with pytest.raises(TypeError):
        event_from_dict({"type": "text"})


def test_event_from_dict_done_and_error() -> None:
    assert event_from_dict({"type": "done"}) is DONE
    error = event_from_dict({"type": "error", "error": "nope"})
    assert error is not None and error.terminal
    assert json.loads(error.data) == {"type": "error", "error": "nope"}
    blank = event_from_dict({"type": "error"})
    assert blank is not None and json.loads(blank.data)["error"]  # never an empty message


@pytest.mark.parametrize("kind", [*sorted(RESERVED_TYPES), "heartbeat"])
def test_event_from_dict_filters_reserved_types(kind: str) -> None:
    assert event_from_dict({"type": kind, "data": {"x": 1}}) is None


@pytest.mark.parametrize("data", [{}, {"type": None}, {"type": 5}, {"text": "no type"}])
def test_event_from_dict_without_a_string_type_is_dropped(data: dict[str, object]) -> None:
    assert event_from_dict(data) is None


def test_event_from_dict_unknown_type_passes_through_compact() -> None:
    event = event_from_dict({"type": "custom", "value": "ü", "n": [1, 2]})
    assert event is not None
    assert event == Event("custom", '{"type":"custom","value":"ü","n":[1,2]}')
    assert not event.terminal


@pytest.mark.parametrize("text", ["plain", "ünïcödé 世界 🚀", "broken \ud800 surrogate", "\udfff"])
def test_sse_text_is_always_valid_utf8_and_round_trips(text: str) -> None:
    from rais._events import sse_text

    frame = sse_text(text_event(text))
    frame.encode("utf-8")  # must not raise, even for a lone surrogate
    assert frame.startswith("data: ") and frame.endswith("\n\n")
    assert json.loads(frame[6:-2]) == {"type": "text", "text": text}


def test_text_event_is_an_ordinary_event() -> None:
    """The per-token constructor skips NamedTuple's ``__new__``; what it builds must not differ."""
    event = text_event('say "hi"\n')
    assert type(event) is Event
    assert event == Event("text", '{"type":"text","text":"say \\"hi\\"\\n"}')
    assert (event.type, event.data) == tuple(event)
    assert not event.terminal
    assert event._replace(type="done").terminal
    assert json.loads(event.data) == {"type": "text", "text": 'say "hi"\n'}
