"""The tenant's JSON document store behind a script's `ctx.db` (DataRecord rows).

Every function takes the tenant from its caller (the run, never the script) and runs in
that tenant's scope, so PostgreSQL's row-level security checks it again. Documents are
JSON objects; the store adds their record id as `_id`. `where` matches top-level fields:
`{status: 'paid'}` or `{total: {$gte: 10}}` with $eq, $ne, $gt, $gte, $lt, $lte and $in;
comparisons are meaningful between values of one JSON type. Only bound parameters reach
SQL: field names are checked against a pattern and passed as JSON paths, never spliced.
"""

import json
import re
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, cast, delete, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from portal.extensions import db
from portal.models import DataRecord
from portal.services.errors import ValidationError
from portal.services.inputs import MAX_INT, is_id, json_error
from portal.services.scope import in_tenant

COLLECTION_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
FIELD_RE = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]{0,63}$")
ID_FIELD = "_id"
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
MAX_DOCUMENT_BYTES = 256 * 1024
_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in")


def _collection(name: Any) -> str:
    if not isinstance(name, str) or not COLLECTION_RE.match(name):
        raise ValidationError({"collection": _l("A collection name is 1 to 64 letters, digits, _ or -, "
                                                "starting with a letter.")})
    return name


def _document(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValidationError({"document": _l("A document must be an object.")})
    if ID_FIELD in data:
        raise ValidationError({"document": _l("The _id field is set by the store.")})
    if (message := json_error(data)) is not None:
        raise ValidationError({"document": message})
    if len(json.dumps(data).encode()) > MAX_DOCUMENT_BYTES:
        raise ValidationError({"document": _l("A document is at most %(limit)s bytes of JSON.",
                                              limit=MAX_DOCUMENT_BYTES)})
    return data


def _shown(record: DataRecord) -> dict[str, Any]:
    return {ID_FIELD: record.id, **record.data}


def _field(name: Any) -> ColumnElement:
    """The document field `name` as a comparable SQL value: jsonb on PostgreSQL, the native value on SQLite."""
    if not isinstance(name, str) or not FIELD_RE.match(name):
        raise ValidationError({"where": _l("A field name is 1 to 64 letters, digits, _ or $.")})
    if db.session.get_bind().dialect.name == "postgresql":
        return DataRecord.data.op("->")(literal(name))
    return func.json_extract(DataRecord.data, literal(f'$."{name}"'))


def _value(value: Any) -> Any:
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(literal(json.dumps(value)), JSONB)
    return value


def _condition(name: str, spec: Any) -> ColumnElement:
    column = _field(name)
    if not isinstance(spec, dict):
        spec = {"$eq": spec}
    if not spec:
        raise ValidationError({"where": _l("An operator object needs at least one operator.")})
    parts = []
    for op, value in spec.items():
        if op not in _OPERATORS:
            raise ValidationError({"where": _l("Unknown operator %(op)s; use one of: %(ops)s.", op=str(op)[:20],
                                               ops=", ".join(_OPERATORS))})
        if op == "$in":
            if not isinstance(value, list) or not value or len(value) > MAX_LIMIT or any(
                    isinstance(item, dict | list) for item in value):
                raise ValidationError({"where": _l("$in takes a list of 1 to %(limit)s plain values.",
                                                   limit=MAX_LIMIT)})
            parts.append(or_(*(_equal(column, item) for item in value)))
            continue
        if isinstance(value, dict | list):
            raise ValidationError({"where": _l("Fields are compared with plain values (text, numbers, "
                                               "true/false, null).")})
        if op == "$eq":
            parts.append(_equal(column, value))
        elif op == "$ne":
            parts.append(~_equal(column, value))
        elif value is None:
            raise ValidationError({"where": _l("null can only be compared with $eq, $ne or $in.")})
        else:
            parts.append({"$gt": column > _value(value), "$gte": column >= _value(value),
                          "$lt": column < _value(value), "$lte": column <= _value(value)}[op])
    return and_(*parts)


def _equal(column: ColumnElement, value: Any) -> ColumnElement:
    """Equality; null matches a field that is null or missing, on both databases."""
    if value is None:
        if db.session.get_bind().dialect.name == "postgresql":
            return or_(column.is_(None), column == _value(None))
        return column.is_(None)
    return and_(column.is_not(None), column == _value(value))


def _where(tenant_id: str, collection: str, where: Any) -> list[ColumnElement]:
    conditions = [DataRecord.tenant_id == tenant_id, DataRecord.collection == collection]
    if where is None:
        return conditions
    if not isinstance(where, dict):
        raise ValidationError({"where": _l("where must be an object of fields.")})
    return conditions + [_condition(name, spec) for name, spec in where.items()]


def _bounded(value: Any, field: str, default: int, maximum: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValidationError({field: _l("Must be a whole number from %(minimum)s to %(maximum)s.",
                                         minimum=0, maximum=maximum)})
    return value


def _order(order_by: Any) -> list[ColumnElement]:
    """`'field'`, `'-field'` (descending) or a list of those; creation order by default."""
    items = [] if order_by is None else order_by if isinstance(order_by, list) else [order_by]
    if len(items) > 5 or not all(isinstance(item, str) for item in items):
        raise ValidationError({"orderBy": _l("orderBy is a field name, -name for descending, or a list "
                                             "of up to 5.")})
    order = []
    for item in items:
        name = item.removeprefix("-")
        column = DataRecord.created_at if name == ID_FIELD else _field(name)
        order.append(column.desc() if item.startswith("-") else column.asc())
    return order + [DataRecord.created_at.asc(), DataRecord.id.asc()]


@in_tenant
def query(tenant_id: str, collection: Any, options: Any = None) -> list[dict[str, Any]]:
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise ValidationError({"options": _l("Query options must be an object.")})
    name = _collection(collection)
    statement = (select(DataRecord).where(*_where(tenant_id, name, options.get("where")))
                 .order_by(*_order(options.get("orderBy")))
                 .limit(_bounded(options.get("limit"), "limit", DEFAULT_LIMIT, MAX_LIMIT))
                 .offset(_bounded(options.get("offset"), "offset", 0, MAX_INT)))
    return [_shown(record) for record in db.session.scalars(statement)]


def _record(tenant_id: str, collection: Any, record_id: Any) -> DataRecord | None:
    name = _collection(collection)
    if not is_id(record_id):
        return None
    return db.session.scalar(select(DataRecord).where(DataRecord.tenant_id == tenant_id,
                                                      DataRecord.collection == name, DataRecord.id == record_id))


@in_tenant
def find_by_id(tenant_id: str, collection: Any, record_id: Any) -> dict[str, Any] | None:
    record = _record(tenant_id, collection, record_id)
    return None if record is None else _shown(record)


@in_tenant
def insert(tenant_id: str, collection: Any, data: Any) -> dict[str, Any]:
    record = DataRecord(tenant_id=tenant_id, collection=_collection(collection), data=_document(data))
    db.session.add(record)
    db.session.commit()
    return _shown(record)


@in_tenant
def update(tenant_id: str, collection: Any, record_id: Any, changes: Any) -> dict[str, Any] | None:
    """Merge `changes` into the document's top-level fields (a field set to null stays, as null)."""
    changes = _document(changes)
    record = _record(tenant_id, collection, record_id)
    if record is None:
        return None
    record.data = _document({**record.data, **changes})
    db.session.commit()
    return _shown(record)


@in_tenant
def remove(tenant_id: str, collection: Any, record_id: Any) -> bool:
    name = _collection(collection)
    if not is_id(record_id):
        return False
    deleted = db.session.execute(delete(DataRecord).where(DataRecord.tenant_id == tenant_id,
                                                          DataRecord.collection == name,
                                                          DataRecord.id == record_id))
    db.session.commit()
    return deleted.rowcount == 1

