"""Worker entry point: `python -m tasks.worker` runs a Huey consumer with the app's context.

Each consumer worker keeps its own prepared QuickJS context: after every task it builds
the next one while idle, so runs never pay for it.

JSR_WORKER_TYPE=process (the default) runs each worker in its own process: QuickJS is C
code with a history of memory-safety bugs, and a crash then takes down one worker, which
the consumer restarts, not the others; executions it was running are failed by the
reaper task. `thread` shares one process (less memory, no containment).
"""

import logging

from portal import create_app
from portal.extensions import db
from portal.services import runtime as runtime_service
from tasks.queue import configure, huey


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    configure(app)

    @huey.on_startup()
    def fresh_connections():
        # Each worker process must open its own database connections, never the parent's.
        with app.app_context():
            db.engine.dispose(close=False)

    @huey.post_execute()
    def prepare_next_context(task, task_value, exc):
        with app.app_context():
            runtime_service.pool().prepare()

    # A dead worker process is replaced within a second.
    consumer = huey.create_consumer(workers=app.config["JSR_WORKERS"], worker_type=app.config["JSR_WORKER_TYPE"],
                                    periodic=True, check_worker_health=True, health_check_interval=1)
    consumer.run()  # returns after SIGTERM/SIGINT, once running tasks have finished
    with app.app_context():
        runtime_service.pool().close()


if __name__ == "__main__":
    main()
