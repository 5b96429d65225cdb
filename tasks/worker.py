"""Worker entry point: `python -m tasks.worker` runs a Huey consumer with the app's context.

Scripts never run in a worker itself: each worker process submits its runs to its own
runner process (runtime/pool.py), started when the worker starts, which a watchdog kills
at the run's wall-clock deadline. One runner per worker process is enough, since a
worker runs one task at a time; in `thread` mode the one process gets one per thread.

JSR_WORKER_TYPE=process (the default) runs each worker in its own process: QuickJS is C
code with a history of memory-safety bugs, and a crash then takes down one worker, which
the consumer restarts, not the others; executions it was running are failed by the
reaper task. `thread` shares one process (less memory, no containment).
"""

import logging

from portal import create_app
from portal.config import Config
from portal.extensions import db
from portal.services import runtime as runtime_service
from tasks.queue import configure, huey


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = Config()
    runners = 1 if config.JSR_WORKER_TYPE == "process" else config.JSR_WORKERS
    app = create_app({"JSR_RUNNERS": runners})
    configure(app)

    @huey.on_startup()
    def start_worker():
        # Each worker process must open its own database connections, never the parent's.
        with app.app_context():
            db.engine.dispose(close=False)
            runtime_service.pool().start()

    # A dead worker process is replaced within a second.
    consumer = huey.create_consumer(workers=app.config["JSR_WORKERS"], worker_type=app.config["JSR_WORKER_TYPE"],
                                    periodic=app.config["JSR_WORKER_PERIODIC"], check_worker_health=True,
                                    health_check_interval=1)
    consumer.run()  # returns after SIGTERM/SIGINT, once running tasks have finished
    with app.app_context():
        runtime_service.pool().close()


if __name__ == "__main__":
    main()
