"""Huey tasks. Tasks take ids, run inside the app context the worker built, and call services."""

from tasks.queue import huey

__all__ = ["huey"]
