"""Huey tasks. Tasks take ids, run inside the app context the worker built, and call services."""

from tasks.executions import run_execution
from tasks.queue import configure, huey
from tasks.scheduler import scheduler_tick

__all__ = ["configure", "huey", "run_execution", "scheduler_tick"]
