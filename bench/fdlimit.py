"""``python -m bench.fdlimit N -m MODULE ARGS...``: raise the open-file limit, then run MODULE.

The scale benchmark starts uvicorn this way so the server itself asks for the file
descriptors 10,000 sockets need (same process, so its pid and CPU time are the server's).
"""

from __future__ import annotations

import resource
import runpy
import sys


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's soft open-file limit towards ``wanted`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "-m":
        raise SystemExit("usage: python -m bench.fdlimit N -m MODULE [ARGS...]")
    raise_fd_limit(int(argv[0]))
    module = argv[2]
    sys.argv = [module, *argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
