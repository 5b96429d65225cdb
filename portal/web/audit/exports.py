"""The audit trail as CSV that a spreadsheet opens safely."""

import csv
import io
import json

CSV_COLUMNS = ("time", "user_id", "user", "action", "target_type", "target_id", "summary", "details")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula (= + - @, tab, carriage return)
    gets a leading apostrophe, so an action, a summary or a name can never run as one (CSV injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def as_csv(events, user_names: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for event in events:
        row = (event.created_at.isoformat(), event.user_id or "", user_names.get(event.user_id, ""), event.action,
               event.target_type, event.target_id or "", event.summary,
               json.dumps(event.details, ensure_ascii=False, sort_keys=True) if event.details else "")
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return out.getvalue()
