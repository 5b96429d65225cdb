"""Huey tasks. Tasks take ids, run inside the app context the worker built, and call services."""

from tasks.events import deliver_events, relay_events
from tasks.executions import run_due_executions, run_due_executions_later, run_execution, run_execution_later
from tasks.queue import configure, huey
from tasks.scheduler import scheduler_tick

__all__ = ["configure", "deliver_events", "huey", "relay_events", "run_due_executions", "run_due_executions_later",
           "run_execution", "run_execution_later", "scheduler_tick"]
