"""Unit tests of request parsing: valid bodies, every error path, and fuzzing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rais import ChatRequest, Limits, RequestError, parse_chat_request
from rais._request import ROLES


def body(data: Any) -> bytes:
    return json.dumps(data).encode()


def parse_error(raw: bytes, content_type: str | None = "application/json", **limits: int):
    with pytest.raises(RequestError) as info:
        parse_chat_request(raw, content_type, Limits(**limits) if limits else None)
    exc = info.value
    # the answer is always a JSON object naming the problem
    encoded = json.dumps(exc.body(), allow_nan=False)
    assert json.loads(encoded)["error"]["message"] == exc.message
    assert exc.message
    return exc


# ---------------------------------------------------------------- valid bodies


def test_minimal_body() -> None:
    req = parse_chat_request(body({"messages": [{"role": "user", "content": "hi"}]}))
    assert req == ChatRequest(messages=[{"role": "user", "content": "hi"}], extra={})


def test_every_role_and_order_is_kept() -> None:
    messages = [{"role": role, "content": f"c-{role}"} for role in sorted(ROLES)]
    messages.append({"role": "user", "content": ""})  # empty content is allowed
    req = parse_chat_request(body({"messages": messages}), "application/json")
    assert req.messages == messages


def test_extra_fields_are_kept_and_message_extras_dropped() -> None:
    data = {
        "messages": [{"role": "user", "content": "hi", "id": "m1", "createdAt": 5}],
        "model": "gpt-4o",
        "temperature": 0.2,
        "metadata": {"a": [1, 2]},
    }
    req = parse_chat_request(body(data), "application/json; charset=utf-8")
    assert req.messages == [{"role": "user", "content": "hi"}]
    assert req.extra == {"model": "gpt-4o", "temperature": 0.2, "metadata": {"a": [1, 2]}}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "APPLICATION/JSON",
        "application/vnd.api+json",
        " application/json ; charset=utf-8",
    ],
)
def test_json_like_content_types_are_accepted(content_type: str | None) -> None:
    req = parse_chat_request(body({"messages": [{"role": "user", "content": "x"}]}), content_type)
    assert req.messages[0]["content"] == "x"


def test_unicode_and_utf16_bodies() -> None:
    content = 'héllo 🎉 \n "q" \\'
    req = parse_chat_request(body({"messages": [{"role": "user", "content": content}]}))
    assert req.messages[0]["content"] == content
    raw = json.dumps({"messages": [{"role": "user", "content": content}]}).encode("utf-16")
    assert parse_chat_request(raw).messages[0]["content"] == content


def test_limits_at_the_boundary_pass() -> None:
    data = body({"messages": [{"role": "user", "content": "abcd"}] * 3})
    req = parse_chat_request(data, "application/json", Limits(len(data), 3, 4))
    assert len(req.messages) == 3


# ---------------------------------------------------------------- error paths


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"not json",
        b"{'messages': []}",
        b"\xff\xfe\xfa",
        b'{"messages": [}',
        b"NaN",
        b'{"messages": NaN}',
        b'{"messages": [], "temperature": 1e999}',  # would be inf
        b'{"messages": [], "temperature": -1E+400}',
    ],
)
def test_bad_json_is_400(raw: bytes) -> None:
    exc = parse_error(raw)
    assert exc.status == 400
    assert "JSON" in exc.message


def test_deeply_nested_json_is_400_not_a_crash() -> None:
    exc = parse_error(b"[" * 200_000 + b"]" * 200_000, max_body_bytes=1_000_000)
    assert exc.status == 400


def test_too_big_is_413() -> None:
    data = body({"messages": [{"role": "user", "content": "x" * 100}]})
    exc = parse_error(data, max_body_bytes=len(data) - 1)
    assert exc.status == 413
    assert str(len(data) - 1) in exc.message


def test_too_many_messages_is_413() -> None:
    exc = parse_error(body({"messages": [{"role": "user", "content": "x"}] * 4}), max_messages=3)
    assert exc.status == 413
    assert "messages" in exc.message.lower()


def test_content_too_long_is_413() -> None:
    messages = [{"role": "user", "content": "ok"}, {"role": "user", "content": "y" * 11}]
    exc = parse_error(body({"messages": messages}), max_content_chars=10)
    assert exc.status == 413
    assert "messages[1].content" in exc.message


@pytest.mark.parametrize(
    "content_type",
    [
        None,  # no header: fetch() sends a Blob that way without a CORS preflight
        "",
        "text/plain;charset=UTF-8",  # a cross-site "simple" POST
        "text/html",
        "application/x-www-form-urlencoded",
        "multipart/form-data; b=x",
    ],
)
def test_wrong_content_type_is_415(content_type: str) -> None:
    exc = parse_error(body({"messages": [{"role": "user", "content": "x"}]}), content_type)
    assert exc.status == 415
    assert "application/json" in exc.message


@pytest.mark.parametrize("data", [[], [{"role": "user", "content": "x"}], "text", 3, None, True])
def test_not_an_object_is_422(data: Any) -> None:
    exc = parse_error(body(data))
    assert exc.status == 422
    assert "object" in exc.message


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"messages": None},
        {"messages": []},
        {"messages": "hi"},
        {"messages": {"role": "user", "content": "x"}},
        {"msgs": [{"role": "user"}]},
    ],
)
def test_messages_missing_empty_or_not_a_list_is_422(data: Any) -> None:
    exc = parse_error(body(data))
    assert exc.status == 422
    assert "'messages'" in exc.message


@pytest.mark.parametrize("message", ["hi", 3, None, ["user", "hi"]])
def test_message_not_an_object_is_422(message: Any) -> None:
    exc = parse_error(body({"messages": [{"role": "user", "content": "a"}, message]}))
    assert exc.status == 422
    assert "messages[1]" in exc.message


@pytest.mark.parametrize("role", ["bot", "USER", "", None, 3, ["user"], {"r": "user"}])
def test_bad_role_is_422(role: Any) -> None:
    exc = parse_error(body({"messages": [{"role": role, "content": "x"}]}))
    assert exc.status == 422
    assert "messages[0].role" in exc.message
    assert all(name in exc.message for name in ROLES)


def test_missing_role_is_422() -> None:
    exc = parse_error(body({"messages": [{"content": "x"}]}))
    assert exc.status == 422
    assert "role" in exc.message


@pytest.mark.parametrize("content", [None, 3, ["a"], {"text": "a"}, True])
def test_non_string_content_is_422(content: Any) -> None:
    exc = parse_error(body({"messages": [{"role": "user", "content": content}]}))
    assert exc.status == 422
    assert "messages[0].content" in exc.message


def test_missing_content_is_422() -> None:
    exc = parse_error(body({"messages": [{"role": "assistant"}]}))
    assert exc.status == 422
    assert "content" in exc.message


def test_size_is_checked_before_content_type() -> None:
    exc = parse_error(b"x" * 20, "text/html", max_body_bytes=10)
    assert exc.status == 413


def test_error_body_shape() -> None:
    exc = RequestError(422, "nope", detail={"role": "bot"})
    assert exc.body() == {
        "error": {"type": "invalid_request", "message": "nope", "detail": {"role": "bot"}}
    }
    assert RequestError(400, "bad").body() == {
        "error": {"type": "invalid_request", "message": "bad"}
    }


# ---------------------------------------------------------------- fuzzing

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
messages_like = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from([*sorted(ROLES), "bot"]) | json_values,
                "content": st.text() | json_values,
            }
        ),
        st.dictionaries(st.sampled_from(["role", "content", "x"]), json_values),
        json_values,
    ),
    max_size=5,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.just("messages"), messages_like | json_values, min_size=1).map(
        lambda d: json.dumps(d).encode()
    ),
    st.builds(
        lambda m, extra: json.dumps({**extra, "messages": m}).encode(),
        messages_like,
        st.dictionaries(st.text(max_size=6), json_values, max_size=3),
    ),
)


def check_valid(req: ChatRequest, limits: Limits) -> None:
    assert isinstance(req, ChatRequest)
    assert isinstance(req.messages, list) and 1 <= len(req.messages) <= limits.max_messages
    for message in req.messages:
        assert set(message) == {"role", "content"}
        assert message["role"] in ROLES
        assert isinstance(message["content"], str)
        assert len(message["content"]) <= limits.max_content_chars
    assert "messages" not in req.extra
    json.dumps(req.extra)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=bodies,
    content_type=st.none() | st.sampled_from(["application/json", "text/plain", "text/html"]),
    limits=st.builds(
        Limits,
        max_body_bytes=st.integers(0, 400),
        max_messages=st.integers(1, 6),
        max_content_chars=st.integers(0, 20),
    ),
)
def test_fuzz_only_request_errors_or_valid_requests(
    raw: bytes, content_type: str | None, limits: Limits
) -> None:
    try:
        req = parse_chat_request(raw, content_type, limits)
    except RequestError as exc:
        assert exc.status in (400, 413, 415, 422)
        json.dumps(exc.body(), allow_nan=False)
        return
    check_valid(req, limits)


@settings(max_examples=200, deadline=None)
@given(messages=messages_like)
def test_fuzz_valid_looking_bodies(messages: list[Any]) -> None:
    try:
        req = parse_chat_request(json.dumps({"messages": messages}).encode(), "application/json")
    except RequestError as exc:
        assert exc.status in (413, 422)
        return
    check_valid(req, Limits())
    assert [m["content"] for m in req.messages] == [m["content"] for m in messages]
