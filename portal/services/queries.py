"""Small query builders shared by the services: tenant rows by id, filters, pages."""

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, tuple_

from portal.extensions import db
from portal.services.errors import NotFound
from portal.services.inputs import is_id, require_id, require_number, utc_time

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


def in_period(query: Select, column, since: datetime | None, until: datetime | None) -> Select:
    """Rows whose `column` is at or after `since` and before `until`, each when given."""
    if since:
        query = query.where(column >= utc_time("since", since))
    if until:
        query = query.where(column < utc_time("until", until))
    return query


def tenant_row(model, tenant_id: str, row_id: str, missing):
    """The tenant's row of `model` with id `row_id`; NotFound(`missing`) for another tenant's, an unknown or
    a malformed id alike, so ids of other tenants cannot be probed."""
    row = None
    if is_id(row_id):
        row = db.session.scalar(select(model).where(model.tenant_id == tenant_id, model.id == row_id))
    if row is None:
        raise NotFound(missing)
    return row


def older_than(query: Select, model, tenant_id: str, before: str | None, missing) -> Select:
    """Keyset paging of a newest-first list: only the tenant's rows older (by created_at, then id) than the
    row `before`; a deep page costs what the first does. `missing`: the message when that row is gone."""
    if before is None:
        return query
    require_id("before", before)
    anchor = db.session.execute(select(model.created_at, model.id)
                                .where(model.tenant_id == tenant_id, model.id == before)).first()
    if anchor is None:
        raise NotFound(missing)
    return query.where(tuple_(model.created_at, model.id) < tuple_(*anchor))
