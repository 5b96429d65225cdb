"""Room under a tenant's and a script's concurrency quotas for an inline run (webhook, run API, Run button).

An inline run is written once, finished, so no `running` row stands for it while it runs. What counts it
meanwhile: its web process's runner pool (per process, exact there), and, against the runs of workers,
the `running` rows of the database, which a run must find below the quotas before it starts. Queued runs
are claimed under the same quotas by `executions._claim` (the rows are their leases). Without Redis the
bound therefore holds per process and against the workers, not between the inline runs of several web
processes: each may start up to the quota.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Execution


@contextmanager
def lease(tenant_id: str, script_id: str, tenant_limit: int, script_limit: int) -> Iterator[bool]:
    """Whether an inline run of `script_id` may start now; held for the `with` block."""
    yield _room_in_database(tenant_id, script_id, tenant_limit, script_limit)


def _room_in_database(tenant_id: str, script_id: str, tenant_limit: int, script_limit: int) -> bool:
    def running(*conditions):
        return (select(func.count()).select_from(Execution).where(Execution.status == "running", *conditions)
                .scalar_subquery())

    by_tenant, by_script = db.session.execute(select(running(Execution.tenant_id == tenant_id),
                                                     running(Execution.script_id == script_id))).one()
    return by_tenant < tenant_limit and by_script < script_limit
