"""Replay against the draft: the inputs of a script's recent real runs, re-run against unsaved code in
test mode, each old result beside the new one. Nothing is stored."""

import difflib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from portal.extensions import db
from portal.models import Execution
from portal.services import executions, rbac, scripts
from portal.services.inputs import require_choice, require_number
from portal.services.rbac import Actor
from portal.services.scope import in_tenant
from runtime import RunResult

MAX_RUNS = 20
RAN = ("completed", "failed", "timeout")  # runs that reached the script (cancelled ones never did)
VERDICTS = ("same", "changed", "now_failing", "now_passing", "still_failing")


@dataclass(frozen=True)
class ReplayRow:
    execution: Execution
    result: RunResult

    @property
    def verdict(self) -> str:
        was_ok, is_ok = self.execution.status == "completed", self.result.status == "completed"
        if was_ok and is_ok:
            return "same" if self.execution.output == self.result.output else "changed"
        if was_ok:
            return "now_failing"
        return "now_passing" if is_ok else "still_failing"

    @property
    def changes(self) -> list[tuple[str, str]]:
        """The old and the new output as pretty JSON, line by line: ('-', removed), ('+', added), (' ', same)."""
        old, new = (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
                    for value in (self.execution.output, self.result.output))
        return [(line[0], line[2:]) for line in difflib.ndiff(old, new) if line[0] in "-+ "]


@in_tenant
def replay(actor: Actor, tenant_id: str, script_id: str, source: Any, *, limit: int = 10,
           status: str | None = None) -> tuple[list[ReplayRow], dict[str, int]]:
    """Re-run the inputs of the script's `limit` newest runs (of one `status` when given) against
    `source`, with the script's type and limits; returns the rows and how many got each verdict."""
    rbac.require(actor, rbac.SCRIPTS_EXECUTE, tenant_id)
    require_number("limit", limit, 1, MAX_RUNS)
    require_choice("status", status, RAN)
    script = scripts.get(actor, tenant_id, script_id)
    query = (select(Execution).where(Execution.tenant_id == tenant_id, Execution.script_id == script.id,
                                     Execution.status.in_([status] if status else RAN))
             .order_by(Execution.created_at.desc()).limit(limit))
    rows = [ReplayRow(execution, executions.run_test(actor, tenant_id, source, script.type, execution.input,
                                                     script_id=script.id))
            for execution in db.session.scalars(query)]
    counts = {verdict: sum(row.verdict == verdict for row in rows) for verdict in VERDICTS}
    return rows, counts
