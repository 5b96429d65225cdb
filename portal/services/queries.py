"""Small query builders shared by the services' list functions."""

from typing import Any

from sqlalchemy import Select

MAX_PAGE = 500


def where_given(query: Select, *pairs: tuple[Any, Any]) -> Select:
    """Add `column == value` for every pair whose value was given (not None or empty)."""
    for column, value in pairs:
        if value:
            query = query.where(column == value)
    return query


def page(query: Select, limit: int, offset: int) -> Select:
    """One page: 1 to MAX_PAGE rows, never a negative offset."""
    return query.limit(max(1, min(limit, MAX_PAGE))).offset(max(0, offset))
