"""Fuzzing over real HTTP: any body gets a JSON 4xx (or a proper stream), never a 5xx or a hang."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conformance.sse import Received, read_stream
from tests.reliability.conftest import SECRET_KEY
from tests.servers import RunningServer

# No "[" anywhere: the fake upstream takes "[fault:...]" in a message as an instruction.
text = st.text(st.characters(blacklist_characters="[", blacklist_categories=["Cs"]), max_size=40)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)
roles = st.one_of(
    st.sampled_from(["system", "user", "assistant", "tool", "robot", ""]), json_values
)
messages = st.lists(
    st.one_of(
        st.fixed_dictionaries({"role": roles, "content": st.one_of(text, json_values)}),
        st.dictionaries(text, json_values, max_size=3),
        json_values,
    ),
    max_size=3,
)
bodies = st.one_of(
    st.binary(max_size=200),
    text.map(str.encode),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"messages": messages}, optional={"model": json_values}).map(
        lambda v: json.dumps(v).encode()
    ),
    st.fixed_dictionaries({"messages": messages}).map(
        lambda v: json.dumps(v).encode()[: max(1, len(json.dumps(v)) // 2)]  # truncated
    ),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "",
    ]
)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(10.0)) as client:  # a hang fails the test
        yield client


def check(response: httpx.Response, received: Received | None) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:300])
    if received is not None:  # a valid request: a complete, well-formed stream
        assert received.status == 200
        assert received.types and received.types[-1] in ("done", "error"), received.raw[-300:]
        assert SECRET_KEY.encode() not in received.raw
        return
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response.headers["content-type"].startswith("application/json")
    error: Any = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert SECRET_KEY.encode() not in response.content


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, content_type=content_types)
def test_any_body_gets_a_json_4xx_or_a_stream(
    server: RunningServer, http: httpx.Client, body: bytes, content_type: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    with http.stream("POST", server.url, content=body, headers=headers) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            received = Received(response.status_code, response.headers)
            read_stream(response, received)
            check(response, received)
        else:
            response.read()
            check(response, None)
