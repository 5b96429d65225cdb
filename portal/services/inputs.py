"""Checks that every input value passes before it reaches the database, on SQLite and PostgreSQL alike.

PostgreSQL refuses U+0000 in text and JSON and lone UTF-16 surrogates anywhere (psycopg cannot
encode them); integer columns hold 32 or 64 bits. A value that breaks any of these is a
field error here, never a database error later.
"""

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l

from portal.services.errors import ValidationError

MAX_INT = 2**31 - 1  # an INTEGER column on PostgreSQL
MAX_JSON_DEPTH = 64
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any) -> bool:
    """True when no string inside `value` (object keys included) holds NUL or a lone surrogate."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return True


def depth(value: Any) -> int:
    """How deeply arrays and objects nest in a JSON value (a scalar is 0)."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict | list):
            level += 1
            deepest = max(deepest, level)
            pending.extend((child, level) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def json_error(value: Any) -> Any | None:
    """The message for a JSON value that cannot be stored, or None."""
    if depth(value) > MAX_JSON_DEPTH:
        return _l("Nested more than %(depth)s levels deep.", depth=MAX_JSON_DEPTH)
    if not storable(value):
        return _l("Contains a character that cannot be stored (NUL or an unpaired surrogate).")
    return None


def parse_json_text(field: str, text: Any) -> Any:
    """A JSON value a user typed (an editor's text): a field error saying where it breaks, never a 500.

    NaN and Infinity are refused as the JSON API refuses them, and so is what `json_error` refuses."""
    try:
        if not isinstance(text, str):
            raise ValueError(text)
        value = json.loads(text, parse_constant=refuse_json_constant)
    except json.JSONDecodeError as exc:
        raise ValidationError({field: _l("Not valid JSON: line %(line)s, column %(column)s.", line=exc.lineno,
                                         column=exc.colno)}) from None
    except (ValueError, RecursionError):
        raise ValidationError({field: _l("Not valid JSON.")}) from None
    if (message := json_error(value)) is not None:
        raise ValidationError({field: message})
    return value


def refuse_json_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def text_error(value: Any, max_length: int) -> Any | None:
    """The message for a text field that is not a storable string of at most `max_length` characters."""
    if not isinstance(value, str):
        return _l("Must be text.")
    if len(value) > max_length:
        return _l("At most %(limit)s characters.", limit=max_length)
    return json_error(value)


def timezone_error(name: Any) -> Any | None:
    """The message for a value that names no IANA time zone (such as Asia/Tashkent), or None."""
    if text_error(name, 64) is not None:
        return _l("Unknown time zone.")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as "America"
        return _l("Unknown time zone.")
    return None


def require_choice(field: str, value: Any, choices: tuple[str, ...]) -> None:
    """A filter or field that must be one of `choices` when given."""
    if value is not None and value not in choices:
        raise ValidationError({field: _l("Choose one of: %(choices)s.", choices=", ".join(choices))})


def is_id(value: Any) -> bool:
    """Ids are UUIDs: anything else names no row (and must not reach the database)."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def require_id(field: str, value: str | None) -> None:
    """A filter naming a row by id must hold an id when given."""
    if value is not None and not is_id(value):
        raise ValidationError({field: _l("Not a valid id.")})


def require_text(field: str, value: str | None, max_length: int) -> None:
    """A free-text filter: storable and bounded when given."""
    if value is not None and (message := text_error(value, max_length)) is not None:
        raise ValidationError({field: message})


def require_number(field: str, value: int, minimum: int, maximum: int = MAX_INT) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ValidationError({field: _l("Must be a whole number from %(minimum)s to %(maximum)s.",
                                         minimum=minimum, maximum=maximum)})


def utc_time(field: str, value: datetime) -> datetime:
    """`value` as aware UTC (naive means UTC), or a field error when UTC cannot hold it."""
    try:
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        raise ValidationError({field: _l("This time is out of range.")}) from None
