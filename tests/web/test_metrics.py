"""/metrics: counters move after runs and webhook answers; the optional bearer token; the alerting rules."""

import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from portal.services import executions
from portal.services.rbac import Actor

ROOT = Path(__file__).resolve().parents[2]


def samples(client, headers=None) -> dict[tuple[str, tuple], float]:
    answer = client.get("/metrics", headers=headers or {})
    assert answer.status_code == 200, answer.status_code
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.get_data(as_text=True)) for sample in family.samples}


def test_counters_move_after_runs_and_webhook_answers(app, client, db_session, make_tenant, make_user, make_script):
    tenant = make_tenant()
    actor = Actor.of(make_user(role="developer", tenant=tenant))
    script = make_script(tenant, source="function main(i) { if (i) throw new Error('x'); return 1 }")
    make_script(tenant, type="http", status="active", http_path="m", http_methods=["GET"],
                source="function handler() { return {status: 202} }")
    completed = ("jsr_executions_total", (("status", "completed"), ("tenant", tenant.id), ("trigger", "manual"),
                                          ("type", "oneoff")))
    failed = (completed[0], tuple((k, "failed" if k == "status" else v) for k, v in completed[1]))
    accepted, refused = [("jsr_webhook_responses_total", (("status", code),)) for code in ("202", "405")]
    before = samples(client)
    executions.run_now(actor, tenant.id, script.id, None)
    executions.run_now(actor, tenant.id, script.id, None)
    executions.run_now(actor, tenant.id, script.id, True)
    assert client.get(f"/hooks/{tenant.slug}/m").status_code == 202
    assert client.post(f"/hooks/{tenant.slug}/m").status_code == 405
    after = samples(client)
    assert after[completed] - before.get(completed, 0) == 2 and after[failed] - before.get(failed, 0) == 1
    assert after[accepted] - before.get(accepted, 0) == 1 and after[refused] - before.get(refused, 0) == 1
    assert after[("jsr_execution_duration_seconds_count", (("trigger", "manual"),))] >= 3
    assert ("jsr_queue_depth", ()) in after and ("jsr_pool_runners_idle", ()) in after


def test_a_metrics_token_is_required_when_configured(app, client, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "JSR_METRICS_TOKEN", "scrape-me")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert samples(client, {"Authorization": "Bearer scrape-me"})


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (Debian: prometheus)")
def test_alerting_rules_are_valid():
    check = subprocess.run(["promtool", "check", "rules", str(ROOT / "monitoring" / "alerts.yml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "4 rules found" in check.stdout, check.stdout + check.stderr
