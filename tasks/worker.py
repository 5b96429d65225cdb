"""Worker entry point: `python -m tasks.worker` runs a Huey consumer with the app's context.

Each consumer thread keeps its own prepared QuickJS context: after every task the
thread builds the next one while idle, so runs never pay for it.
"""

import logging

from portal import create_app
from portal.services import runtime as runtime_service
from tasks.queue import configure, huey


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    configure(app)

    @huey.post_execute()
    def prepare_next_context(task, task_value, exc):
        with app.app_context():
            runtime_service.pool().prepare()

    workers = app.config["JSR_WORKERS"]
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True)
    consumer.run()  # returns after SIGTERM/SIGINT, once running tasks have finished
    with app.app_context():
        runtime_service.pool().close()


if __name__ == "__main__":
    main()
