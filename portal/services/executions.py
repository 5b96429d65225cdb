"""Executions: create pending, run through the runtime, record the result, cancel, list, clean up."""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Text, and_, case, cast, func, or_, select, text, update
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from portal.extensions import db
from portal.models import EXECUTION_STATUSES, TRIGGERS, Event, Execution, Script, Tenant, User
from portal.models.execution import error_record
from portal.models.tenant import new_id
from portal.services import audit, libraries, metrics, outbox, quotas, rbac, secrets
from portal.services import runtime as runtime_service
from portal.services.errors import Conflict, NotFound, TooManyRequests, ValidationError, refused_writes
from portal.services.inputs import MAX_INT, is_id, json_error, require_choice, require_id, require_text
from portal.services.queries import in_period, older_than, page, tenant_row, where_given
from portal.services.rbac import Actor
from portal.services.scope import in_system, in_tenant
from portal.services.scripts import HANDLER_BY_TYPE
from runtime import RunRequest, RunResult
from runtime.modules import may_be_module

log = logging.getLogger(__name__)
DISPATCH_KEY = "jsr.dispatch"  # callable(execution_id) that queues a run; bound by create_app
LATER_KEY = "jsr.dispatch_later"  # callable(execution_id, delay_seconds) that queues a run for later
WAKE_KEY = "jsr.wake"  # callable() that queues a worker's pass over due runs (run_due); bound by create_app
WAKE_LATER_KEY = "jsr.wake_later"  # callable(delay_seconds): the same pass, a moment later
MAX_WAKE_UPS = 8  # wake-ups queued for one burst of runs without tasks: each drains until nothing is due
FINAL_STATUSES = ("completed", "failed", "timeout", "cancelled")
PENDING_RETRY_SECONDS = 10
QUOTA_RETRY_SECONDS = 1  # a run over quota is tried again this long after (workers), or told to (inline)
BATCH_WINDOW_S = 1.0  # a worker's batch starts no run later than this after its claim
RELAY_AFTER = timedelta(seconds=60)  # a run still pending this long after its queueing missed its hand-over


@in_tenant
def get(actor: Actor, tenant_id: str, execution_id: str) -> Execution:
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    return tenant_row(Execution, tenant_id, execution_id, _l("Execution not found."))


@in_tenant
def attempts(actor: Actor, tenant_id: str, execution: Execution) -> list[Execution]:
    """Every attempt at the same event by the same script, first to last (the retry chain); [] for other runs."""
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    if execution.event_id is None:
        return []
    return list(db.session.scalars(select(Execution).where(
        Execution.tenant_id == tenant_id, Execution.event_id == execution.event_id,
        Execution.script_id == execution.script_id).order_by(Execution.attempt)))


@in_tenant
def list_executions(actor: Actor, tenant_id: str, *, script_id: str | None = None, status: str | None = None,
                    trigger: str | None = None, since: datetime | None = None, until: datetime | None = None,
                    search: str | None = None, before: str | None = None, limit: int = 50,
                    offset: int = 0) -> list[Execution]:
    """The tenant's executions, newest first. `search` finds a value inside inputs or outputs (case-
    insensitive, in their JSON text: `1234` finds the run for order 1234). `before` (an execution id)
    pages by key: only runs older than that one, so a page stays cheap however deep it is."""
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    require_id("script_id", script_id)
    require_choice("status", status, EXECUTION_STATUSES)
    require_choice("trigger", trigger, TRIGGERS)
    require_text("q", search, 200)
    query = where_given(select(Execution).where(Execution.tenant_id == tenant_id),
                        (Execution.script_id, script_id), (Execution.status, status), (Execution.trigger, trigger))
    if search:  # on PostgreSQL `CAST(... AS text) ILIKE`: the expression of the trigram indexes (migration 0010)
        query = query.where(or_(cast(Execution.input, Text).icontains(search, autoescape=True),
                                cast(Execution.output, Text).icontains(search, autoescape=True)))
    query = in_period(query, Execution.created_at, since, until)
    query = older_than(query, Execution, tenant_id, before, _l("Execution not found."))
    query = query.order_by(Execution.created_at.desc(), Execution.id.desc())
    return list(db.session.scalars(page(query, limit, offset)))


@in_tenant
def by_ids(actor: Actor, tenant_id: str, execution_ids: list[str | None]) -> dict[str, Execution]:
    """The tenant's executions among `execution_ids` by id (None and unknown ids are skipped): what a list of
    dead letters links to, read in one query."""
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    wanted = [execution_id for execution_id in execution_ids if is_id(execution_id)]
    if not wanted:
        return {}
    query = select(Execution).where(Execution.tenant_id == tenant_id, Execution.id.in_(wanted))
    return {execution.id: execution for execution in db.session.scalars(query)}


@in_tenant
def latest_by_script(actor: Actor, tenant_id: str, script_ids: list[str]) -> dict[str, Execution]:
    """The newest execution of each of `script_ids` (scripts that never ran are absent)."""
    rbac.require(actor, rbac.SCRIPTS_READ, tenant_id)
    if not script_ids:
        return {}
    newest = (select(Execution.script_id, func.max(Execution.created_at).label("at"))
              .where(Execution.tenant_id == tenant_id, Execution.script_id.in_(script_ids))
              .group_by(Execution.script_id).subquery())
    query = select(Execution).join(newest, and_(Execution.script_id == newest.c.script_id,
                                                Execution.created_at == newest.c.at))
    return {execution.script_id: execution for execution in db.session.scalars(query)}


@in_tenant
def run_test(actor: Actor, tenant_id: str, source: Any, script_type: Any, input: Any = None,
             script_id: str | None = None) -> RunResult:
    """Run unsaved code in test mode (the editor's test panel) with the handler of `script_type`.

    The run goes through the runner processes under the script's limits (or the defaults), capped by
    the tenant's maxima, and its logs always come back; nothing is stored, no execution is written.
    """
    rbac.require(actor, rbac.SCRIPTS_EXECUTE, tenant_id)
    errors = {}
    if script_type not in HANDLER_BY_TYPE:
        errors["type"] = _l("Choose one of: %(choices)s.", choices=", ".join(HANDLER_BY_TYPE))
    if not isinstance(source, str) or not source.strip():
        errors["source"] = _l("The script has no source.")
    elif (message := json_error(source)) is not None:
        errors["source"] = message
    if (message := json_error(input)) is not None:
        errors["input"] = message
    if errors:
        raise ValidationError(errors)
    tenant = db.session.get(Tenant, tenant_id)
    script = Script()  # an unsaved script: the configured default limits
    if script_id is not None:
        script = db.session.scalar(select(Script).where(Script.tenant_id == tenant_id, Script.id == script_id)
                                   ) if is_id(script_id) else None
        if script is None:
            raise NotFound(_l("Script not found."))
    request = RunRequest(source=source, tenant_id=tenant_id, handler=HANDLER_BY_TYPE[script_type], input=input,
                         context={"userId": actor.user_id, "organizationId": script.organization_id,
                                  "scriptId": script_id, "executionId": None, "trigger": {"type": "test"}},
                         limits=runtime_service.limits_for(script, tenant))
    return runtime_service.run(request, tenant_limit=tenant.max_concurrency)


def create_pending(actor: Actor, script: Script, *, trigger: str, input: Any = None, attempt: int = 1) -> Execution:
    """Record a run that is about to happen (or be queued); the caller commits."""
    if trigger not in TRIGGERS:
        raise ValidationError({"trigger": _l("Unknown trigger.")})
    execution = Execution(tenant_id=script.tenant_id, script_id=script.id, script_version=script.current_version,
                          status="pending", trigger=trigger, input=input, attempt=attempt,
                          triggered_by=actor.user_id, logs=[], queued_at=datetime.now(UTC))
    db.session.add(execution)
    db.session.flush()
    return execution


@in_tenant
def run_now(actor: Actor, tenant_id: str, script_id: str, input: Any = None, *, trigger: str = "manual") -> Execution:
    """Run a script synchronously and record its execution once, finished: one INSERT, one commit (the lean
    path of webhooks, the run API and the Run button; manual runs are audited in that commit).

    The execution has no row while it runs, so it is never left `running`; what counts it against the
    quotas meanwhile is described in portal/services/quotas.py. Over the tenant's or script's quota the run does
    not wait: it is recorded as cancelled and the caller gets TooManyRequests."""
    with _kept_loaded():
        return _run_inline(actor, tenant_id, script_id, input, trigger)


@contextmanager
def _kept_loaded() -> Iterator[None]:
    """The inline path's commits do not expire what the caller loaded: no reload round trip follows them."""
    session = db.session()
    session.expire_on_commit, previous = False, session.expire_on_commit
    try:
        yield
    finally:
        session.expire_on_commit = previous


def _run_inline(actor: Actor, tenant_id: str, script_id: str, input: Any, trigger: str) -> Execution:
    script = _runnable_script(actor, tenant_id, script_id, input)
    _check_backlog(tenant_id)  # a tenant whose queue is full waits for it, whichever way it asks
    tenant = db.session.get(Tenant, tenant_id)
    execution = Execution(id=new_id(), tenant_id=tenant_id, script_id=script.id,
                          script_version=script.current_version, trigger=trigger, input=input, attempt=1,
                          triggered_by=actor.user_id, logs=[], host_calls=0, started_at=datetime.now(UTC))
    labels = (tenant.id, script.type, trigger)
    refusal = _refusal(script, tenant, actor.user_id)
    if refusal is not None:
        return _record_unrun(actor, execution, labels, "cancelled", refusal)
    request = _run_request(execution, script, tenant)
    tenant_limit, script_limit = _quota_limits(script, tenant)
    with quotas.lease(tenant.id, script.id, tenant_limit, script_limit, request.limits.timeout_ms) as granted:
        if not granted:
            _record_unrun(actor, execution, labels, "busy",
                          ("QuotaExceeded", "the tenant or the script was running as many runs as it may at once"))
            raise TooManyRequests(_l("This tenant or script is running as many scripts as it may at once; try "
                                     "again in a moment."), retry_after=QUOTA_RETRY_SECONDS)
        db.session.commit()  # ends the read transaction: nothing is held in the database while the script runs
        result = runtime_service.run(request, tenant_limit=tenant_limit, script_limit=script_limit)
    execution = _record_inline(actor, execution, result)
    metrics.execution_finished(*labels, execution.status, result, request.limits.memory_bytes)
    metrics.pool_state(runtime_service.pool().metrics())
    return execution


def _record_unrun(actor: Actor, execution: Execution, labels: tuple[str, str, str], kind: str,
                  refusal: tuple[str, str]) -> Execution:
    """An inline run that did not start: recorded as cancelled, with why."""
    execution.status, execution.finished_at = "cancelled", datetime.now(UTC)
    execution.error = error_record(kind, *refusal)
    db.session.add(execution)
    _audit_manual(actor, execution)
    db.session.commit()
    metrics.execution_finished(*labels, execution.status, None)
    return execution


def _record_inline(actor: Actor, execution: Execution, result: RunResult) -> Execution:
    """INSERT a finished inline run with its audit record and its execution.* event, in one commit. When
    the database refuses it, the execution is still written, `failed`, saying its result could not be kept."""
    try:
        record_result(execution, result, secrets.redactor(execution.tenant_id))
        db.session.add(execution)
        _audit_manual(actor, execution)
        _publish_finished(execution)
        db.session.commit()
    except Exception as exc:  # whatever the database or driver raised, the run must be on record
        db.session.rollback()
        if db.session.get(Script, execution.script_id) is None:  # deleted while it ran: nothing to record it on
            raise NotFound(_l("Script not found.")) from exc
        log.exception("result of execution %s could not be stored", execution.id)
        db.session.add(Execution(id=execution.id, tenant_id=execution.tenant_id, script_id=execution.script_id,
                                 script_version=execution.script_version, trigger=execution.trigger,
                                 attempt=1, triggered_by=execution.triggered_by, started_at=execution.started_at,
                                 logs=[], **_unstored_values(result, exc)))
        db.session.commit()
        execution = db.session.get(Execution, execution.id)
    return execution


def _audit_manual(actor: Actor, execution: Execution) -> None:
    if execution.trigger in ("manual", "api"):
        audit.record(actor, "script.run", tenant_id=execution.tenant_id, target_type="script",
                     target_id=execution.script_id, summary=f"manual run of version {execution.script_version}",
                     details={"execution_id": execution.id})


@in_tenant
def enqueue(actor: Actor, tenant_id: str, script_id: str, input: Any = None, *, trigger: str = "manual") -> Execution:
    """Record a pending execution and hand it to the worker queue; returns at once."""
    execution = _record_request(actor, tenant_id, script_id, input, trigger)
    dispatch(execution.id)
    return execution


def dispatch(execution_id: str) -> None:
    """Hand a committed pending run to the queue. Should the queue be down, the run waits in the database
    and `relay_pending` hands it over later: it is never lost."""
    try:
        current_app.extensions[DISPATCH_KEY](execution_id)
    except Exception:
        log.exception("execution %s could not be queued; the relay will hand it over", execution_id)


def _record_request(actor: Actor, tenant_id: str, script_id: str, input: Any, trigger: str) -> Execution:
    """Check permission, input and script state, commit a pending execution, audit manual runs."""
    script = _runnable_script(actor, tenant_id, script_id, input)
    _check_backlog(tenant_id)
    # A script deleted between the check above and the insert: the foreign key refuses the insert.
    with refused_writes(_l("The script changed meanwhile; try again."), gone=_l("Script not found."),
                        exists=lambda: db.session.get(Script, script_id, populate_existing=True) is not None):
        execution = create_pending(actor, script, trigger=trigger, input=input)
        _audit_manual(actor, execution)
        db.session.commit()
    return execution


def _runnable_script(actor: Actor, tenant_id: str, script_id: str, input: Any) -> Script:
    """The script `actor` asks to run with `input`, once permission, input and the script's state allow it."""
    rbac.require(actor, rbac.SCRIPTS_EXECUTE, tenant_id)
    if (message := json_error(input)) is not None:
        raise ValidationError({"input": message})
    script = None
    if is_id(script_id):
        script = db.session.scalar(select(Script).where(Script.tenant_id == tenant_id, Script.id == script_id))
    if script is None:
        raise NotFound(_l("Script not found."))
    if script.status in ("disabled", "archived"):
        raise Conflict(_l("A %(status)s script cannot run.", status=script.status), field="status")
    return script


def _check_backlog(tenant_id: str) -> None:
    """JSR_TENANT_PENDING caps a tenant's queued runs, so one tenant cannot bury the workers. Counted
    before the insert: concurrent requests can pass the cap by at most their number."""
    cap = current_app.config["JSR_TENANT_PENDING"]
    pending = db.session.scalar(select(func.count()).select_from(Execution)
                                .where(Execution.tenant_id == tenant_id, Execution.status == "pending"))
    if pending >= cap:
        raise TooManyRequests(_l("%(count)s runs of this tenant are waiting already; try again when some have "
                                 "finished.", count=pending), retry_after=PENDING_RETRY_SECONDS)


@in_tenant
def run_embedded(tenant_id: str, script_name: str, input: Any = None) -> Execution:
    """For host-application Python code: run a tenant's script by name, as the system."""
    script = db.session.scalar(select(Script).where(Script.tenant_id == tenant_id, Script.name == script_name))
    if script is None:
        raise NotFound(_l("Script not found."))
    return run_now(Actor.system(), tenant_id, script.id, input, trigger="embedded")


@in_system
def execute(execution_id: str) -> Execution:
    """Run a pending execution (in a batch with other due ones, `execute_batch`); returns it as it now is."""
    return execute_batch(execution_id)[0]


@in_system
def execute_batch(execution_id: str) -> list[Execution]:
    """What a worker's task does: claim the execution and up to JSR_WORKER_BATCH - 1 other due pending ones
    (one commit), run them one after the other, and write every result in one commit. Returns the asked
    execution first, then the others the batch claimed.

    Each claim is atomic and within the quotas (`_claim`), so a run is claimed by one batch only; the later
    tasks of runs another batch took find nothing to do (one read). Over its tenant's or script's quota an
    execution stays `pending`: its task queues it again.
    A batch that has run for BATCH_WINDOW_S hands its runs not yet started back to the queue, so no claimed
    run waits for more than one other run: the reaper never mistakes a waiting run for a lost one."""
    first = db.session.get(Execution, execution_id, populate_existing=True)
    if first is None:
        raise NotFound(_l("Execution not found."))
    if first.status != "pending":  # a batch took it, or it was cancelled: what is due has a task of its own
        db.session.commit()
        return [first]
    with _kept_loaded():
        claimed, loaded = _claim_batch(first)
        if first not in claimed:
            db.session.refresh(first)  # over quota (still pending), cancelled, or another worker has it
        _run_batch(claimed)
    del loaded
    return [first, *(execution for execution in claimed if execution is not first)]


@in_system
def run_due() -> list[Execution]:
    """Claim and run batches of due pending executions until this worker can claim none (the wake-up queued
    for runs that have no task each: a scheduler pass's, an event delivery's); returns what ran. When due
    runs are left that the quotas keep from starting now, another pass is queued a moment later."""
    ran = []
    while True:
        with _kept_loaded():
            claimed, loaded = _claim_batch(None)
            _run_batch(claimed)
        del loaded
        if not claimed:
            break
        ran += claimed
    waiting = db.session.scalar(select(func.count()).select_from(Execution).where(
        Execution.status == "pending", Execution.queued_at <= datetime.now(UTC)))
    db.session.commit()
    if waiting:
        current_app.extensions[WAKE_LATER_KEY](QUOTA_RETRY_SECONDS)
    return ran


def _claim_batch(first: Execution | None) -> tuple[list[Execution], list]:
    """pending → running for `first` (if given) and other due pending executions, within the quotas; one
    commit. Returns the claimed executions, and what else was loaded for them (see _load_together)."""
    now = datetime.now(UTC)
    first_id = first.id if first is not None else None
    # Every candidate row is locked at once, skipping those another batch holds (PostgreSQL), before any
    # advisory lock is waited for: a batch never waits for a row, so two batches cannot deadlock.
    due = (select(Execution).where(Execution.status == "pending",
                                   or_(Execution.id == first_id, Execution.queued_at <= now))
           .order_by(case((Execution.id == first_id, 0), else_=1), Execution.queued_at)
           .limit(current_app.config["JSR_WORKER_BATCH"]))
    if db.session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    candidates = list(db.session.scalars(due.execution_options(populate_existing=True)))
    if not candidates or (first is not None and first not in candidates):
        db.session.commit()  # nothing due, or another batch holds `first` (its row is locked): that batch runs it
        return [], []
    loaded = _load_together(candidates)
    claimed = []
    if db.session.get_bind().dialect.name == "postgresql":
        # Count-and-claim atomic per tenant across processes; the locks taken in one order by every worker
        # (no deadlock), released at the commit.
        for tenant_id in sorted({candidate.tenant_id for candidate in candidates}):
            db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:tenant))"), {"tenant": tenant_id})
    now = datetime.now(UTC)  # the runs start now, after any wait for another batch's locks
    won = _claim(candidates, first_id, now)
    for execution in candidates:
        if execution.id in won:
            set_committed_value(execution, "status", "running")
            set_committed_value(execution, "started_at", now)
            claimed.append(execution)
    if first is not None and first not in claimed:  # over quota: its task queues it again, not lost
        db.session.execute(update(Execution).where(Execution.id == first.id, Execution.status == "pending")
                           .values(queued_at=now))
    db.session.commit()
    return claimed, loaded


def _load_together(batch: list[Execution]) -> list:
    """The scripts, tenants and events of a batch in one query each: while the caller holds the returned
    list, `session.get` finds them loaded (the session itself keeps only weak references)."""
    loaded = []
    for model, ids in ((Script, {e.script_id for e in batch}), (Tenant, {e.tenant_id for e in batch}),
                       (Event, {e.event_id for e in batch} - {None})):
        if ids:
            loaded += db.session.scalars(select(model).where(model.id.in_(ids))).all()
    return loaded


def _run_batch(claimed: list[Execution]) -> None:
    """Run the claimed executions one after the other, then write every result in one commit. A run the
    cluster's quota refuses now (quotas.lease) goes back to the queue, a moment later."""
    started, finished, handed_back, refused, redactors = time.monotonic(), [], [], [], {}
    for index, execution in enumerate(claimed):
        if index and time.monotonic() - started > BATCH_WINDOW_S:
            handed_back = _hand_back(claimed[index:])
            break
        if execution.tenant_id not in redactors:
            redactors[execution.tenant_id] = secrets.redactor(execution.tenant_id)
        ran = _run_claimed(execution, redactors[execution.tenant_id])
        if ran is None:
            refused += _hand_back([execution])
        else:
            finished.append(ran)
    try:
        db.session.commit()
    except Exception:  # one result the database refuses must not cost the others theirs
        db.session.rollback()
        log.exception("a batch of %d results could not be stored together; storing them one by one",
                      len(finished))
        for execution, result, _, _ in finished:
            if result is not None:
                store_result(execution, result)
    for execution_id in handed_back:
        dispatch(execution_id)
    for execution_id in refused:
        current_app.extensions[LATER_KEY](execution_id, QUOTA_RETRY_SECONDS)
    for execution, result, script_type, memory_limit in finished:
        metrics.execution_finished(execution.tenant_id, script_type, execution.trigger, execution.status, result,
                                   memory_limit)
    metrics.pool_state(runtime_service.pool().metrics())


def _run_claimed(execution: Execution, redact: Callable[[str], str] | None
                 ) -> tuple[Execution, RunResult | None, str, int | None] | None:
    """Run one claimed execution and put its result on it (not committed); a refused one is cancelled.
    Returns it with its result, its script's type and its memory limit (for the metrics), or None when the
    cluster's quota has no room for it now."""
    script = db.session.get(Script, execution.script_id)
    tenant = db.session.get(Tenant, execution.tenant_id)
    refusal = _refusal(script, tenant, execution.triggered_by)
    if refusal is not None:
        execution.status, execution.finished_at = "cancelled", datetime.now(UTC)
        execution.error = error_record("cancelled", refusal[0], refusal[1])
        _release_schedule_lock(execution)
        return execution, None, script.type, None
    request = _run_request(execution, script, tenant)
    tenant_limit, script_limit = _quota_limits(script, tenant)
    with quotas.lease(tenant.id, script.id, tenant_limit, script_limit, request.limits.timeout_ms,
                      counted_in_database=True) as granted:
        if not granted:
            return None
        result = runtime_service.run(request, tenant_limit=tenant_limit, script_limit=script_limit)
    record_result(execution, result, redact)
    _publish_finished(execution)
    if execution.scheduled_for is not None:
        _release_schedule_lock(execution)
    return execution, result, script.type, request.limits.memory_bytes


def _hand_back(unstarted: list[Execution]) -> list[str]:
    """Claimed runs a batch will not start: pending again, and queued again after the batch's commit."""
    ids = [execution.id for execution in unstarted]
    for execution in unstarted:
        set_committed_value(execution, "status", "pending")
        set_committed_value(execution, "started_at", None)
    db.session.execute(update(Execution).where(Execution.id.in_(ids), Execution.status == "running")
                       .values(status="pending", started_at=None, queued_at=datetime.now(UTC))
                       .execution_options(synchronize_session=False))
    return ids


def _run_request(execution: Execution, script: Script, tenant: Tenant) -> RunRequest:
    return RunRequest(
        source=script.source,
        tenant_id=execution.tenant_id,
        handler=HANDLER_BY_TYPE[script.type],
        input=execution.input,
        context={"userId": execution.triggered_by, "organizationId": script.organization_id,
                 "scriptId": script.id, "executionId": execution.id,
                 "trigger": _trigger_context(execution)},
        limits=runtime_service.limits_for(script, tenant),
        modules=libraries.modules_for(tenant.id) if may_be_module(script.source) else {},
    )


def _quota_limits(script: Script, tenant: Tenant) -> tuple[int, int]:
    """(tenant's, script's) concurrent runs at most; the script's own never above its tenant's."""
    tenant_limit = tenant.max_concurrency
    return tenant_limit, min(script.concurrency or current_app.config["JSR_SCRIPT_CONCURRENT"], tenant_limit)


def _claim(candidates: list[Execution], first_id: str | None, now: datetime) -> set[str]:
    """pending → running for as many candidates as their tenants' and scripts' quotas leave room for, in one
    statement; returns the ids claimed. The quotas are counted over every process: the running executions
    in the database are the leases (a dead worker's lease ends when the reaper fails its execution). Within
    the batch, candidates are ranked per tenant and per script (`first_id` first, then oldest) and claimed
    while rank + running stays within the limit. On PostgreSQL the caller holds an advisory lock per tenant,
    which makes count-and-claim atomic across processes; on SQLite the one statement is."""
    order = (case((Execution.id == first_id, 0), else_=1), Execution.queued_at, Execution.id)
    ranked = (select(Execution.id, Execution.tenant_id, Execution.script_id,
                     func.row_number().over(partition_by=Execution.tenant_id, order_by=order).label("in_tenant"),
                     func.row_number().over(partition_by=Execution.script_id, order_by=order).label("in_script"))
              .where(Execution.id.in_([candidate.id for candidate in candidates]), Execution.status == "pending")
              .subquery())
    other = aliased(Execution)

    def running(column, value):
        return select(func.count()).select_from(other).where(other.status == "running", column == value
                                                             ).scalar_subquery()

    script_quota = func.coalesce(Script.concurrency, current_app.config["JSR_SCRIPT_CONCURRENT"])
    script_quota = case((script_quota < Tenant.max_concurrency, script_quota), else_=Tenant.max_concurrency)
    within = (select(ranked.c.id).join(Tenant, Tenant.id == ranked.c.tenant_id)
              .join(Script, Script.id == ranked.c.script_id)
              .where(ranked.c.in_tenant + running(other.tenant_id, ranked.c.tenant_id) <= Tenant.max_concurrency,
                     ranked.c.in_script + running(other.script_id, ranked.c.script_id) <= script_quota))
    return set(db.session.scalars(
        update(Execution).where(Execution.id.in_(within), Execution.status == "pending")
        .values(status="running", started_at=now).returning(Execution.id)
        .execution_options(synchronize_session=False)))


def _trigger_context(execution: Execution) -> dict[str, Any]:
    """ctx.trigger: what started the run (a schedule run also names its slot, as ISO 8601 UTC; an event
    run, its event's depth)."""
    trigger: dict[str, Any] = {"type": execution.trigger, "attempt": execution.attempt}
    event = db.session.get(Event, execution.event_id) if execution.event_id else None
    if event is not None:  # what ctx.events.publish counts the chain's depth from
        trigger["depth"] = event.depth
    if execution.scheduled_for is not None:
        trigger["scheduledAt"] = execution.scheduled_for.isoformat().replace("+00:00", "Z")
    return trigger


def _release_schedule_lock(execution: Execution) -> None:
    """A scheduled run that ended frees its script for the next slot (the scheduler's overlap lock)."""
    db.session.execute(update(Script).where(Script.id == execution.script_id, Script.locked_by == execution.id)
                       .values(locked_until=None, locked_by=None))


def _refusal(script: Script, tenant: Tenant, user_id: str | None) -> tuple[str, str] | None:
    """Why a claimed run must not start after all: (error type, message), or None.

    What held when the run was queued is checked again when it starts: the script may have been
    disabled, the tenant deactivated or the user who asked deactivated meanwhile."""
    if script.status in ("disabled", "archived"):
        return "ScriptDisabled", f"the script was {script.status} before this run started"
    if not tenant.active:
        return "TenantInactive", "the tenant was deactivated before this run started"
    if user_id is not None:
        user = db.session.get(User, user_id)
        if user is None or not user.active:
            return "UserInactive", "the user who started this run was deactivated before it started"
    return None


def store_result(execution: Execution, result: RunResult) -> None:
    """Write a run's result and commit. When the database refuses it (PostgreSQL cannot store NUL or a
    lone surrogate, a counter overflows, the connection drops), the execution still ends: `failed`,
    with an error saying how the run ended and that its result could not be stored."""
    try:
        record_result(execution, result, secrets.redactor(execution.tenant_id))
        _publish_finished(execution)
        db.session.commit()
    except Exception as exc:  # whatever the database or driver raised, the run must not stay `running`
        db.session.rollback()
        log.exception("result of execution %s could not be stored", execution.id)
        db.session.execute(update(Execution).where(Execution.id == execution.id, Execution.status == "running")
                           .values(**_unstored_values(result, exc)))
        db.session.commit()
        db.session.refresh(execution)


def _unstored_values(result: RunResult, exc: Exception) -> dict[str, Any]:
    """The columns of a run whose result the database refused: failed, saying so, with nothing of its output."""
    message = (f"the run ended {result.status} but its result could not be stored"
               f" ({type(exc).__name__}); nothing of its output or logs was kept")
    return {"status": "failed", "finished_at": datetime.now(UTC), "duration_ms": round(result.duration_ms, 3),
            "host_calls": min(result.host_calls, MAX_INT), "output": None, "logs": [],
            "error": error_record("internal", "ResultNotStored", message)}


def _publish_finished(execution: Execution) -> None:
    """execution.completed / execution.failed (failed and timed out), except for runs that delivered an
    event: event scripts never feed on their own runs, so no chain of them can grow from a failure."""
    if execution.trigger == "event" or execution.status not in ("completed", "failed", "timeout"):
        return
    outbox.publish(execution.tenant_id, "execution.completed" if execution.status == "completed"
                   else "execution.failed",
                   {"executionId": execution.id, "scriptId": execution.script_id, "status": execution.status,
                    "trigger": execution.trigger, "error": execution.error})


def record_result(execution: Execution, result: RunResult, redact: Callable[[str], str] | None) -> None:
    """Copy a run's result onto its execution; the tenant's secret values never reach stored logs or errors
    (`redact` is secrets.redactor(tenant))."""
    data = result.to_dict()
    if redact is not None:
        for entry in data["logs"]:
            entry["message"] = redact(entry["message"])
        if data["error"] is not None:
            data["error"] = {**data["error"], "message": redact(data["error"]["message"]),
                             "stack": redact(data["error"]["stack"])}
    execution.status = result.status
    execution.output = data["output"]
    execution.logs = data["logs"]
    execution.error = data["error"]
    execution.duration_ms = data["duration_ms"]
    execution.memory_bytes = data["memory_bytes"]
    execution.host_calls = data["host_calls"]
    execution.outbound_calls = data["host_call_timings"]
    execution.finished_at = datetime.now(UTC)


@in_tenant
def cancel(actor: Actor, tenant_id: str, execution_id: str) -> Execution:
    """Cancel a pending execution. A running one cannot be interrupted from outside its thread."""
    rbac.require(actor, rbac.EXECUTIONS_CANCEL, tenant_id)
    execution = get(actor, tenant_id, execution_id)
    changed = db.session.execute(
        update(Execution).where(Execution.id == execution.id, Execution.status == "pending")
        .values(status="cancelled", finished_at=datetime.now(UTC)))
    if changed.rowcount != 1:
        db.session.rollback()
        raise Conflict(_l("Only a pending execution can be cancelled; this one is %(status)s.",
                              status=execution.status), field="status")
    audit.record(actor, "execution.cancel", tenant_id=tenant_id, target_type="execution",
                 target_id=execution.id, summary="status: pending → cancelled")
    _release_schedule_lock(execution)
    db.session.commit()
    db.session.refresh(execution)
    return execution


@in_system
def reap_stale(grace_seconds: int = 60) -> list[str]:
    """Fail executions still `running` well past any time limit: their worker died (a crash
    of the process, a kill). Without this they would stay running forever. Returns their ids."""
    # A tenant may allow runs longer than the default: wait for the longest any run may take.
    longest_ms = max(current_app.config["JSR_TIMEOUT_MS"],
                     db.session.scalar(select(func.max(Tenant.max_timeout_ms))) or 0)
    cutoff = datetime.now(UTC) - timedelta(milliseconds=longest_ms, seconds=grace_seconds)
    reaped = db.session.execute(
        update(Execution).where(Execution.status == "running", Execution.started_at < cutoff)
        .values(status="failed", finished_at=datetime.now(UTC),
                error=error_record("internal", "WorkerLost",
                                   "the worker running this execution stopped before it finished"))
        .returning(Execution.id))
    reaped_ids = list(reaped.scalars())
    db.session.commit()
    return reaped_ids


def wake(runs: int) -> None:
    """Queue enough run_due passes for `runs` new pending runs that have no task of their own (one per
    JSR_WORKER_BATCH, at most MAX_WAKE_UPS: each pass drains until nothing is due). Should the queue be
    down, the runs wait in the database for the relay."""
    passes = min(MAX_WAKE_UPS, -(-runs // current_app.config["JSR_WORKER_BATCH"]))
    try:
        for _ in range(passes):
            current_app.extensions[WAKE_KEY]()
    except Exception:
        log.exception("%d runs could not be announced to the queue; the relay will hand them over", runs)


@in_system
def relay_pending(now: datetime | None = None) -> int:
    """Hand over again the runs still pending RELAY_AFTER after their queueing (the queue was down, or the
    process died between commit and hand-over); returns how many. Each is marked re-queued by a conditional
    update first, so two relays never both hand one over; and should the lost hand-over arrive after all,
    the claim (pending → running) lets only one of the two tasks run it."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    stale = (Execution.status == "pending", Execution.queued_at < now - RELAY_AFTER)
    oldest = select(Execution.id).where(*stale).order_by(Execution.queued_at).limit(1000)
    if db.session.get_bind().dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    relayed = list(db.session.scalars(update(Execution).where(Execution.id.in_(oldest.scalar_subquery()), *stale)
                                      .values(queued_at=now).returning(Execution.id)))
    db.session.commit()
    for execution_id in relayed:
        dispatch(execution_id)
    return len(relayed)


@in_system
def cleanup(days: int | None = None) -> int:
    """Delete finished executions older than `days` days, or, without `days`, older than each tenant's own
    retention (JSR_RETENTION_DAYS where it set none); returns how many went."""
    now = datetime.now(UTC)
    retention = {tenant_id: days or own or current_app.config["JSR_RETENTION_DAYS"]
                 for tenant_id, own in db.session.execute(select(Tenant.id, Tenant.retention_days))}
    deleted = 0
    for period in set(retention.values()):
        tenant_ids = [tenant_id for tenant_id, kept in retention.items() if kept == period]
        deleted += db.session.execute(db.delete(Execution).where(
            Execution.tenant_id.in_(tenant_ids), Execution.created_at < now - timedelta(days=period),
            Execution.status.in_(FINAL_STATUSES))).rowcount
    db.session.commit()
    return deleted
