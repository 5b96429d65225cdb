"""The execution history as CSV and JSON downloads (the columns of the API's execution resource)."""

import csv
import io
import json

from portal.web.api.presenters import execution_json

CSV_COLUMNS = ("id", "script_id", "script", "script_version", "status", "trigger", "attempt", "created_at",
               "started_at", "finished_at", "duration_ms", "memory_bytes", "host_calls", "error", "input", "output")


def _record(execution, names: dict[str, str]) -> dict:
    return {**execution_json(execution, detail=True), "script": names.get(execution.script_id, "")}


def as_json(rows, names: dict[str, str]) -> str:
    return json.dumps({"items": [_record(e, names) for e in rows]}, ensure_ascii=False, indent=1)


def as_csv(rows, names: dict[str, str]) -> str:
    """One line per execution; error, input and output as JSON text, so a string a script returned is
    quoted and never reaches a spreadsheet as a formula."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for execution in rows:
        record = _record(execution, names)
        writer.writerow([_cell(record[column]) for column in CSV_COLUMNS])
    return out.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
