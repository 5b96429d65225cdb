"""Trigger settings beside the editor (issue 11, item 4): the schedule in words and its next runs in the
script's zone; the webhook's URL, methods, auth, secret rotation and a signed curl example that works."""

import re
import subprocess
from datetime import datetime
from html import unescape
from zoneinfo import ZoneInfo

from portal.services import cron
from tests.conftest import sign_in
from tests.web.test_pages import _csrf


def test_a_schedule_in_words_in_the_users_language_and_its_next_runs_in_its_zone(app, make_tenant, make_user,
                                                                                 make_script):
    tenant = make_tenant()
    admin = make_user(role="org_admin", tenant=tenant)
    script = make_script(tenant, type="scheduled", cron_expression="0 9 * * 1-5", timezone="Asia/Tashkent")
    client = sign_in(app, admin)
    page = client.get(f"/scripts/{script.id}").text
    assert "At 09:00, Monday through Friday" in page
    shown = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', page)
    expected = cron.upcoming_runs("0 9 * * 1-5", "Asia/Tashkent", 5)
    assert [datetime.fromisoformat(iso) for iso, _ in shown] == expected
    for iso, text in shown:  # 09:00 in Tashkent is 04:00 UTC: the times are the script's wall-clock times
        local = datetime.fromisoformat(iso).astimezone(ZoneInfo("Asia/Tashkent"))
        assert local.hour == 9 and "9:00" in text and local.weekday() < 5
    client.post("/lang/ru")
    ru = client.get(f"/scripts/{script.id}").text
    assert "В 09:00, понедельник" in ru and "Monday" not in ru  # day names in Russian too
    client.post("/lang/uz")
    uz = client.get(f"/scripts/{script.id}").text
    assert "<code>0 9 * * 1-5</code> jadvali boʻyicha" in uz and "Keyingi ishga tushirishlar" in uz


def test_a_webhook_shows_its_url_auth_and_a_signed_curl_example_that_the_hook_accepts(app, make_tenant, make_user,
                                                                                     make_script):
    tenant = make_tenant()
    admin = make_user(role="org_admin", tenant=tenant)
    script = make_script(tenant, type="http", status="active", http_path="orders/new", http_methods=["POST"],
                         http_auth="hmac", source="async function handler(request) { return {status: 201, "
                                                  "body: {got: request.body}} }")
    client = sign_in(app, admin)
    page = client.get(f"/scripts/{script.id}").text
    url = f"http://localhost/hooks/{tenant.slug}/orders/new"
    assert url in page and "X-JSR-Signature" in page
    assert f'data-url="/api/v1/scripts/{script.id}/hook-secret"' in page  # the rotate action
    secret = client.post(f"/api/v1/scripts/{script.id}/hook-secret", headers=_csrf(client)).get_json()["secret"]
    example = unescape(re.search(r'<pre id="curl-example">(.*?)</pre>', page, re.S).group(1))
    assert "-X POST" in example and url in example
    # The example's own signing lines, run by a shell, produce a signature the hook accepts.
    signing = example.split("curl")[0]
    answer = subprocess.run(["bash", "-c", signing + 'printf "%s\\n%s\\n%s" "$T" "$BODY" "$SIG"'],
                            env={"SECRET": secret, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                            check=True).stdout.split("\n")
    stamp, body, signature = answer
    hooked = app.test_client().post(f"/hooks/{tenant.slug}/orders/new", data=body, content_type="application/json",
                                    headers={"X-JSR-Signature": f"t={stamp},v1={signature}"})
    assert hooked.status_code == 201, hooked.text
    forged = app.test_client().post(f"/hooks/{tenant.slug}/orders/new", data=body, content_type="application/json",
                                    headers={"X-JSR-Signature": f"t={stamp},v1={'0' * 64}"})
    assert forged.status_code == 401


def test_only_those_who_may_edit_see_the_rotate_action(app, make_tenant, make_user, make_script):
    tenant = make_tenant()
    script = make_script(tenant, type="http", http_path="in", http_methods=["GET", "POST"], http_auth="token")
    viewer = sign_in(app, make_user(role="viewer", tenant=tenant))
    page = viewer.get(f"/scripts/{script.id}").text
    assert f"/hooks/{tenant.slug}/in" in page and "X-JSR-Token" in page and "GET, POST" in page
    assert "hook-secret" not in page
    assert viewer.post(f"/api/v1/scripts/{script.id}/hook-secret", headers=_csrf(viewer)).status_code == 403
