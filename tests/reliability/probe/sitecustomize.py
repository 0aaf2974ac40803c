"""Loaded into the reliability suite's server processes (through PYTHONPATH) to count tasks.

File descriptors and threads are visible from outside (psutil); live asyncio tasks
are not. On ``PROBE_SIGNAL`` each process writes its counts to
``$RAIS_PROBE_DIR/<pid>.json``. Test-only: nothing in rais knows about it.
"""

import os
import signal

PROBE_SIGNAL = signal.SIGRTMIN + 5


def _dump(signum: int, frame: object) -> None:
    import asyncio
    import gc
    import json
    import threading

    tasks = [o for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done()]
    names: dict[str, int] = {}
    for task in tasks:
        coro = task.get_coro()
        name = getattr(coro, "__qualname__", type(coro).__name__)
        names[name] = names.get(name, 0) + 1
    data = {"tasks": len(tasks), "task_names": names, "threads": threading.active_count()}
    directory = os.environ["RAIS_PROBE_DIR"]
    path = os.path.join(directory, f"{os.getpid()}.json")
    with open(path + ".tmp", "w") as out:
        json.dump(data, out)
    os.replace(path + ".tmp", path)


if os.environ.get("RAIS_PROBE_DIR"):
    signal.signal(PROBE_SIGNAL, _dump)
