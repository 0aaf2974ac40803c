"""OpenTelemetry (issue 21) under the real framework instrumentors of the WSGI-bridged and
Django adapters: ``FlaskInstrumentor.instrument_app`` on the Flask app, ``DjangoInstrumentor``
with Django under WSGI and under ASGI. rais's ``chat {model}`` span is the child of the
instrumentor's server span (one trace), there is one per stream, and what the source opens
(an upstream call's span) is the child of rais's, whether the source is an async generator
(on the bridge loop) or a sync one (in a worker thread).

FastAPI and Starlette under opentelemetry-instrumentation-asgi are in test_telemetry.py.
Each instrumentor is undone after its test: Flask's is per app, Django's edits the
process-wide ``settings.MIDDLEWARE`` (checked empty again afterwards).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip(
    "opentelemetry.sdk.trace",
    reason="the OpenTelemetry SDK is not installed: pip install -e '.[dev]'",
)

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from tests.inprocess.clients import CHAT_PATH, HELPER_PATH, Client, selected_clients
from tests.inprocess.helpers import ask, unique, wait_until
from tests.inprocess.test_telemetry import (  # noqa: F401 (telemetry: a fixture)
    Telemetry,
    tag_it,
    telemetry,
    upstream_sources,
)

pytestmark = pytest.mark.timeout(60)

#: client name -> (its framework, the instrumentation package's module).
INSTRUMENTED = {
    "flask": ("flask", "opentelemetry.instrumentation.flask"),
    "django-wsgi": ("django", "opentelemetry.instrumentation.django"),
    "django-asgi": ("django", "opentelemetry.instrumentation.django"),
}


def selected(name: str) -> tuple[Any, Any]:
    """The in-process client class ``name`` and its framework's instrumentation module, or
    a skip: ``RAIS_FRAMEWORKS`` leaves the framework out, or the instrumentation is not
    installed (a matrix cell installs ``.[test]`` and a few frameworks only)."""
    framework, instrumentation = INSTRUMENTED[name]
    found = [cls for cls in selected_clients() if cls.name == name]
    if not found:
        pytest.skip(f"RAIS_FRAMEWORKS leaves {framework} out")
    module = pytest.importorskip(
        instrumentation, reason=f"{instrumentation} is not installed: pip install -e '.[dev]'"
    )
    return found[0], module


async def instrumented_flask(recorded: Telemetry, options: dict[str, Any]) -> Client:
    base, instrumentation = selected("flask")
    FlaskInstrumentor = instrumentation.FlaskInstrumentor

    class InstrumentedFlask(base):  # type: ignore[misc,valid-type]
        async def start(self) -> None:
            await super().start()
            FlaskInstrumentor.instrument_app(
                self.app,
                tracer_provider=recorded.tracer_provider,
                meter_provider=recorded.meter_provider,
            )

        async def close(self) -> None:
            FlaskInstrumentor.uninstrument_app(self.app)
            await super().close()

    return InstrumentedFlask(options)


def instrumented_django(name: str) -> Callable[[Telemetry, dict[str, Any]], Any]:
    async def make(recorded: Telemetry, options: dict[str, Any]) -> Client:
        base, instrumentation = selected(name)
        DjangoInstrumentor = instrumentation.DjangoInstrumentor
        from django.conf import settings

        from tests.inprocess.clients import django_client

        class InstrumentedDjango(base):  # type: ignore[misc,valid-type]
            async def start(self) -> None:
                # Configured first: the instrumentor would configure empty settings itself.
                django_client._setup()
                self.instrumentor = DjangoInstrumentor()
                self.instrumentor.instrument(
                    tracer_provider=recorded.tracer_provider,
                    meter_provider=recorded.meter_provider,
                )
                try:
                    await super().start()  # the handler loads the middleware now
                except BaseException:
                    self.instrumentor.uninstrument()
                    raise

            async def close(self) -> None:
                self.instrumentor.uninstrument()
                assert settings.MIDDLEWARE == [], settings.MIDDLEWARE
                await super().close()

        return InstrumentedDjango(options)

    return make


MAKERS = {
    "flask": instrumented_flask,
    "django-wsgi": instrumented_django("django-wsgi"),
    "django-asgi": instrumented_django("django-asgi"),
}


def servers(recorded: Telemetry) -> list[ReadableSpan]:
    return [s for s in recorded.spans if s.kind is SpanKind.SERVER]


@pytest.mark.parametrize("path", [CHAT_PATH, HELPER_PATH], ids=["view", "rais_response"])
@pytest.mark.parametrize("source", ["async", "sync"])
@pytest.mark.parametrize("name", list(INSTRUMENTED))
async def test_the_stream_span_is_a_child_of_the_instrumentor_server_span(
    name: str,
    source: str,
    path: str,
    telemetry: Telemetry,  # noqa: F811 (the fixture imported above)
    openai_options: dict[str, Any],
) -> None:
    handler = upstream_sources(telemetry.tracer_provider.get_tracer("upstream"))[source]
    options = {**openai_options, "heartbeat": None, "configure": tag_it, "handler": handler}
    client = await MAKERS[name](telemetry, options)
    await client.start()
    try:
        tag = unique("otel-instrumented")
        response = await client.post(path, json=ask("hi", tag=tag))
        assert response.status == 200, response.body
        assert response.text == "one two"
        stream = await telemetry.one(tag)
        await wait_until(lambda: bool(servers(telemetry)), "the server span")
    finally:
        await client.close()
    (server,) = servers(telemetry)
    _, instrumentation = INSTRUMENTED[name]
    scope = server.instrumentation_scope
    assert scope is not None and scope.name == instrumentation  # the instrumentor's own
    assert server.name.startswith("POST")
    assert len(telemetry.streams()) == 1  # one rais span for the one stream
    assert stream.name.startswith("chat") and stream.kind is SpanKind.CLIENT
    assert stream.parent is not None
    assert stream.parent.span_id == server.context.span_id
    assert stream.context.trace_id == server.context.trace_id
    upstream = [s for s in telemetry.spans if s.name == "upstream call"]
    assert len(upstream) == 2, telemetry.spans
    for call in upstream:
        assert call.parent is not None and call.parent.span_id == stream.context.span_id
        assert call.context.trace_id == stream.context.trace_id
