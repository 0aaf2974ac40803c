"""Benchmark twins of ``integrations/``: the same wiring, with a fast local token source.

Each app serves three routes so that one server process measures all of them:

- ``/api/chat``: the rais adapter, ``handler=`` :func:`bench.apps.source.tokens`;
- ``/ceiling``: the framework's own hand-written streaming response of pre-encoded
  RAIS frames (what a careful developer writes without rais: the upper bound);
- ``/sse-starlette`` (Starlette only): sse-starlette's ``EventSourceResponse``;
- ``/fastapi-sse`` (FastAPI only): ``fastapi.sse.EventSourceResponse``;
- ``/litestar-sse`` (Litestar only): ``litestar.response.ServerSentEvent``;
- ``/api/ai-sdk``, ``/api/ag-ui``: the rais adapter with ``protocol="ai-sdk"`` /
  ``"ag-ui"`` (only when the imported rais has the wire protocols: the old-code anchor
  of ``bench/anchor.py`` runs the same apps on the code before them).

The body's last message is a spec like ``count=1000;interval=0;stamp=0`` (see
:func:`bench.apps.source.parse_spec`).
"""
