"""Small query builders shared by the services' list functions."""

from typing import Any

from sqlalchemy import Select

from portal.services.inputs import require_number

MAX_PAGE = 500


def where_given(query: Select, *pairs: tuple[Any, Any]) -> Select:
    """Add `column == value` for every pair whose value was given (not None or empty)."""
    for column, value in pairs:
        if value:
            query = query.where(column == value)
    return query


def page(query: Select, limit: int, offset: int) -> Select:
    """One page of 1 to MAX_PAGE rows; a limit or offset out of range is a field error."""
    require_number("limit", limit, 1, MAX_PAGE)
    require_number("offset", offset, 0)
    return query.limit(limit).offset(offset)
