"""The dashboard's SQL aggregates (issue 12) against the same figures computed in Python over the seeded
runs, on SQLite and PostgreSQL: buckets per status, error rates, percentiles, failing and slowest scripts."""

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from portal.extensions import db
from portal.models import DeadLetter, Execution
from portal.services import dashboard
from portal.services.errors import PermissionDenied, ValidationError
from portal.services.rbac import Actor, Role
from portal.tenancy import system_scope

NOW = datetime(2026, 11, 20, 12, 34, 56, 789000, tzinfo=UTC)
STATUSES = ["completed"] * 5 + ["failed", "timeout", "pending", "running", "cancelled"]


def percentile_cont(values: list[float], p: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation at position p·(n-1) of the sorted values."""
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low, high = math.floor(position), min(math.floor(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _runs(tenant, scripts, count: int, span: timedelta, seed: int) -> list[dict]:
    """`count` runs of `scripts` spread over `span` before NOW (a few just outside it), written to the database."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        status = rng.choice(STATUSES)
        ended = status in ("completed", "failed", "timeout")
        rows.append({"tenant_id": tenant.id, "script_id": rng.choice(scripts).id, "status": status, "trigger": "api",
                     "duration_ms": round(rng.uniform(0.5, 900), 3) if ended else None,
                     "created_at": NOW - timedelta(seconds=rng.uniform(0, span.total_seconds() * 1.1))})
    with system_scope():
        db.session.add_all(Execution(**row) for row in rows)
        db.session.commit()
    return rows


def _bucket(moment: datetime, unit: str) -> datetime:
    cut = {"minute": dict(second=0), "hour": dict(minute=0, second=0), "day": dict(hour=0, minute=0, second=0)}
    return moment.replace(microsecond=0, **cut[unit])


@pytest.fixture
def seeded(db_session, make_tenant, make_user, make_script):
    tenant = make_tenant()
    admin = make_user(role="org_admin", tenant=tenant)
    scripts = [make_script(tenant, name=f"job-{n}") for n in range(4)]
    other = make_tenant()  # another tenant's runs must never count
    _runs(other, [make_script(other)], 150, timedelta(days=30), seed=99)
    return tenant, Actor.of(admin), scripts


@pytest.mark.parametrize("range_key", list(dashboard.RANGES))
def test_every_figure_matches_python_over_the_same_runs(seeded, range_key):
    tenant, admin, scripts = seeded
    span, unit = dashboard.RANGES[range_key]
    rows = _runs(tenant, scripts, 400, span, seed=len(range_key))
    inside = [row for row in rows if NOW - span <= row["created_at"] < NOW]
    assert 100 < len(inside) < len(rows)  # some runs fall outside the range

    found = dashboard.overview(admin, tenant.id, range_key, now=NOW)

    assert found.buckets[0] == _bucket(NOW - span, unit) and found.buckets[-1] == _bucket(NOW, unit)
    steps = {b - a for a, b in zip(found.buckets, found.buckets[1:], strict=False)}
    assert steps == {dashboard._STEP[unit]}
    expected = Counter((_bucket(row["created_at"], unit), row["status"]) for row in inside)
    got = Counter({(start, status): counts[n] for status, counts in found.runs.items()
                   for n, start in enumerate(found.buckets) if counts[n]})
    assert got == expected
    assert found.totals == {status: sum(1 for row in inside if row["status"] == status)
                            for status in ("pending", "running", "completed", "failed", "timeout", "cancelled")}

    ended = [row for row in inside if row["status"] in ("completed", "failed", "timeout")]
    errors = [row for row in ended if row["status"] in ("failed", "timeout")]
    assert found.error_rate == pytest.approx(len(errors) / len(ended))
    for n, start in enumerate(found.buckets):
        in_bucket = [row for row in ended if _bucket(row["created_at"], unit) == start]
        rate = sum(row["status"] != "completed" for row in in_bucket) / len(in_bucket) if in_bucket else None
        assert found.error_rates[n] == pytest.approx(rate)

    durations = [row["duration_ms"] for row in inside if row["duration_ms"] is not None]
    for p in dashboard.PERCENTILES:
        assert found.percentiles[p] == pytest.approx(percentile_cont(durations, p), rel=1e-9)

    names = {s.id: s.name for s in scripts}
    per_script = {s.id: [row for row in inside if row["script_id"] == s.id] for s in scripts}
    failing = sorted((-sum(r["status"] in ("failed", "timeout") for r in runs), sid)
                     for sid, runs in per_script.items())
    assert [(f.script_id, f.failures, f.runs, f.name) for f in found.failing] == [
        (sid, -negative, len(per_script[sid]), names[sid]) for negative, sid in failing if negative][:5]
    timed = {sid: [r["duration_ms"] for r in runs if r["duration_ms"] is not None] for sid, runs in per_script.items()}
    slowest = sorted((sid for sid in timed if timed[sid]), key=lambda sid: -sum(timed[sid]) / len(timed[sid]))
    assert [f.script_id for f in found.slowest] == slowest
    for figure in found.slowest:
        assert figure.average_ms == pytest.approx(sum(timed[figure.script_id]) / len(timed[figure.script_id]))
        assert figure.slowest_ms == pytest.approx(max(timed[figure.script_id]))
        assert figure.runs == len(timed[figure.script_id])


@pytest.mark.parametrize("durations", [[7.5], [3.0, 1.0], [2.0, 2.0, 9.0], [4.0, 1.0, 3.0, 2.0],
                                       [float(n) for n in range(1, 102)]])
def test_percentiles_at_the_edges(seeded, durations):
    """One, two, three runs, ties, and positions that fall on a run exactly or between two."""
    tenant, admin, scripts = seeded
    with system_scope():
        db.session.add_all(Execution(tenant_id=tenant.id, script_id=scripts[0].id, status="completed", trigger="api",
                                     duration_ms=ms, created_at=NOW - timedelta(minutes=n + 1))
                           for n, ms in enumerate(durations))
        db.session.commit()
    found = dashboard.overview(admin, tenant.id, "24h", now=NOW)
    assert found.percentiles == {p: pytest.approx(percentile_cont(durations, p)) for p in dashboard.PERCENTILES}


def test_a_tenant_without_runs_has_empty_figures_and_its_waiting_dead_letters(seeded, make_script):
    tenant, admin, scripts = seeded
    scheduled = make_script(tenant, name="nightly", type="scheduled", status="active", cron_expression="0 3 * * *",
                            next_run_at=NOW + timedelta(hours=2))
    make_script(tenant, name="paused", type="scheduled", status="paused", cron_expression="0 3 * * *",
                next_run_at=NOW + timedelta(hours=1))
    with system_scope():
        db.session.add_all([DeadLetter(tenant_id=tenant.id, script_id=scripts[0].id, event_type="order.paid",
                                       status=status) for status in ("dead", "dead", "replayed")])
        db.session.commit()
    found = dashboard.overview(admin, tenant.id, "1h", now=NOW)
    assert found.total == 0 and found.error_rate is None and all(rate is None for rate in found.error_rates)
    assert found.percentiles == {p: None for p in dashboard.PERCENTILES}
    assert found.failing == [] and found.slowest == []
    assert len(found.buckets) == 61 and all(not any(counts) for counts in found.runs.values())
    assert [s.id for s in found.upcoming] == [scheduled.id]
    assert found.dead_letters == 2
    assert found.pool["runners"] >= 1 and found.pool["in_use"] == 0
    assert found.queue_depth == 0


def test_the_range_must_be_one_of_four_and_only_the_tenants_users_may_look(seeded, make_tenant):
    tenant, admin, _ = seeded
    with pytest.raises(ValidationError) as refused:
        dashboard.overview(admin, tenant.id, "2d", now=NOW)
    assert "range" in refused.value.to_dict()["fields"]
    viewer = Actor("u", tenant.id, Role.VIEWER)
    assert dashboard.overview(viewer, tenant.id, "7d", now=NOW).range == "7d"
    with pytest.raises(PermissionDenied):
        dashboard.overview(Actor("u", make_tenant().id, Role.ORG_ADMIN), tenant.id, "7d", now=NOW)
