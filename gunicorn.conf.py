"""gunicorn settings, read from the working directory by `gunicorn 'app:create_app()'`.

In multi-process metrics mode (PROMETHEUS_MULTIPROC_DIR) the live gauges of a web worker that exited
are dropped, so the runner-pool gauges count live processes only.
"""

import os

from prometheus_client import multiprocess


def child_exit(_server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)


# A request that waits on a script's run holds one thread, never the whole worker (README, "Isolation model").
threads = 8
