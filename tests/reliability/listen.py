"""Start a server on a listening socket made here, as systemd socket activation does.

``python -m tests.reliability.listen SNDBUF PORT PROGRAM ARGS...`` binds 127.0.0.1:PORT
with ``SO_SNDBUF`` = SNDBUF (``SendBuffer=`` in a ``.socket`` unit), hands it over as fd 3
and execs the server (``uvicorn --fd 3``, ``hypercorn --bind fd://3``). Linux gives each
accepted connection the listener's send buffer: the documented way to bound a stalled
stream's memory where the server does not hand rais the client's socket.
"""

from __future__ import annotations

import os
import socket
import sys

LISTEN_FD = 3


def main(argv: list[str]) -> None:
    size, port, *command = argv
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, int(size))
    listener.bind(("127.0.0.1", int(port)))
    listener.listen(2048)
    if listener.fileno() != LISTEN_FD:
        os.dup2(listener.fileno(), LISTEN_FD)
    os.set_inheritable(LISTEN_FD, True)  # sockets are made non-inheritable
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
