"""OpenTelemetry: every stream's span and metrics, printed to the console.

The app is FastAPI with the offline demo model (no key needed), wrapped in the ASGI
instrumentor's middleware, so each stream's ``chat {model}`` span is a child of the
request's span. Swap the console exporters for OTLP ones to send them to a collector.

Needs: pip install 'rais[fastapi,otel]' opentelemetry-sdk opentelemetry-instrumentation-asgi
Run:   python examples/otel_console.py              (http://127.0.0.1:8000/api/chat)
Once:  python examples/otel_console.py --once       (one chat in process, then the spans)
"""

import asyncio
import os
import sys

from fastapi import FastAPI
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from rais import Chat
from rais.fastapi import rais_router

# Set the SDK's providers once, before serving: rais asks for them at each stream.
resource = Resource.create({"service.name": "rais-otel-example"})
tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
trace.set_tracer_provider(tracer_provider)
metric_reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), 60_000)
metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[metric_reader]))


def configure(chat: Chat) -> None:
    chat.log["user"] = "demo"  # the access line's fields are span attributes too: rais.log.user
    chat.state["conversation_id"] = chat.extra.get("id") or "demo-conversation"


api = FastAPI()
api.include_router(rais_router(provider="offline", configure=configure))
app = OpenTelemetryMiddleware(api)  # the request's span: the parent of the stream's


async def once() -> None:
    """One chat through the app, in process: its spans are printed as they end."""
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        body = {"messages": [{"role": "user", "content": "Hello, telemetry!"}]}
        response = await client.post("/api/chat", json=body)
        print(f"status {response.status_code}, {response.text.count('data: ')} events")


if __name__ == "__main__":
    if "--once" in sys.argv:
        os.environ.setdefault("RAIS_OFFLINE_DELAY", "0")
        asyncio.run(once())
        metric_reader.force_flush()
    else:
        import uvicorn

        uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
