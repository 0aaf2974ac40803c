"""gunicorn settings for rais under WSGI (Flask, Django) and aiohttp: ``gunicorn -c gunicorn.conf.py``.

A stream holds its thread for the whole answer, so a worker needs many threads; a slow
client is cut by rais's own send timeout (``RAIS_SEND_TIMEOUT``), not by gunicorn's.
"""

import os

bind = os.environ.get("BIND", "127.0.0.1:8001")
worker_class = "gthread"  # aiohttp: "aiohttp.GunicornWebWorker" (one event loop, no threads)
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 64  # one per open stream
timeout = 120  # the worker heartbeat to the arbiter, not a request deadline
graceful_timeout = 10  # SIGTERM: rais ends open streams with an error event, then exits
keepalive = 75  # above nginx's keepalive to the backends
