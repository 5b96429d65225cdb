"""The fork server that makes runner processes.

Started once per supervising process as `python -I -c ...` with a clean environment (no
SECRET_KEY, database URL or secrets key reaches a runner) and only its control socket
open. It imports the engine once; each runner is then a fork of it, ready in a few
milliseconds, which keeps the replacement of a killed runner cheap. It never forks the
supervisor itself: web and Huey processes have threads and open connections that a
fork must not copy.

Protocol on the control socket (AF_UNIX stream): the supervisor sends one byte with the
runner's end of a new socketpair attached (SCM_RIGHTS); the zygote forks, the child
serves runs on that socket, and the zygote answers with the child's pid as 8 bytes. When
the supervisor goes away the control socket reads EOF and the zygote exits; every runner
has PR_SET_PDEATHSIG=SIGKILL and dies with it, so no process outlives its supervisor.
"""

import json
import os
import signal
import socket
import struct
from multiprocessing.connection import Connection

PID = struct.Struct("<q")


def main(control_fd: int, settings_json: str) -> None:
    from runtime import runner  # the engine is imported (and the prelude read) once, before any fork

    settings = runner.RunnerSettings(**json.loads(settings_json))

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps runners; nobody waits for them
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor handles Ctrl-C; EOF ends the zygote
    control = socket.socket(fileno=control_fd)
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(control, 1, 1)
        except OSError:
            fds = []
        if not fds:
            return  # the supervisor is gone
        pid = os.fork()
        if pid == 0:
            control.close()
            try:
                runner.serve(Connection(fds[0]), settings)
            finally:
                os._exit(0)
        os.close(fds[0])
        control.sendall(PID.pack(pid))
