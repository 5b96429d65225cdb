"""A RudderStack V1 transformation as their documentation writes it (export, a library import, fetchV2 and
getCredential) runs unchanged through `jsr transform` and the API, against an HTTP server on 127.0.0.1."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from portal import create_app
from portal.extensions import db
from portal.services import accounts, libraries, secrets
from portal.services import runtime as runtime_service
from portal.services.rbac import Actor


class Enrich(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = json.dumps({"tier": "gold", "auth": self.headers.get("authorization"), "path": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def enrich_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Enrich)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def allowing_app(app, db_session, enrich_server):
    """The app on the same database, with the enrichment server allowed past the private-address block."""
    other = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"], "TESTING": True,
                        "SECRET_KEY": "test", "JSR_SECRETS_KEY": app.config["JSR_SECRETS_KEY"],
                        "HUEY_IMMEDIATE": True, "JSR_RUN_RATE": "1000 per minute",
                        "JSR_HTTP_ALLOW": f"127.0.0.1:{enrich_server}"})
    yield other
    with other.app_context():
        runtime_service.pool().close(timeout=5)
        db.engine.dispose()


CODE = """import { normalise } from 'utils';

export async function transformEvent(event, metadata) {
  const res = await fetchV2(`http://127.0.0.1:PORT/enrich?user=${event.userId}`, {
    headers: { authorization: `Bearer ${getCredential('apiKey')}` },
  });
  if (res.status === 200) {
    event.context.traits.tier = res.body.tier;
    event.context.traits.auth = res.body.auth;
  }
  event.context.traits.email = normalise(event.context.traits.email);
  event.context.sourceId = metadata(event).sourceId;
  return event;
}
"""
EVENTS = [{"message": {"messageId": "m1", "userId": "u1", "context": {"traits": {"email": " Ann@Example.com "}}},
           "metadata": {"messageId": "m1", "sourceId": "src-1"}, "destination": {}}]
EXPECTED = {"transformedEvents": [{"statusCode": 200, "metadata": {"messageId": "m1", "sourceId": "src-1"}, "output": {
    "messageId": "m1", "userId": "u1",
    "context": {"traits": {"email": "ann@example.com", "tier": "gold", "auth": "Bearer key-1"}, "sourceId": "src-1"}}}],
    "logs": []}


def test_runs_unchanged_through_the_cli_and_the_api(allowing_app, enrich_server, make_tenant, make_user, tmp_path):
    tenant = make_tenant(slug="rs-e2e")
    admin = make_user(role="org_admin", tenant=tenant)
    with allowing_app.app_context():
        actor = Actor.of(admin)
        secrets.put(actor, tenant.id, "apiKey", "key-1")
        libraries.create(actor, tenant.id, {"name": "utils", "source":
                                            "export function normalise(email) { return email.trim().toLowerCase(); }"})
        token, _ = accounts.create_token(Actor.system(), admin.id, "e2e")
    code = CODE.replace("PORT", str(enrich_server))
    (tmp_path / "transformation.js").write_text(code)
    (tmp_path / "events.json").write_text(json.dumps(EVENTS))
    with allowing_app.app_context():  # the CLI acts in the current app's context: this one, not `app`'s
        printed = allowing_app.test_cli_runner().invoke(args=[
            "jsr", "transform", str(tmp_path / "transformation.js"), "--events", str(tmp_path / "events.json"),
            "--tenant", "rs-e2e"])
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.stdout) == EXPECTED
    answer = allowing_app.test_client().post("/api/v1/transform", headers={"Authorization": f"Bearer {token}"},
                                             json={"code": code, "events": EVENTS, "test": False})
    assert answer.status_code == 200 and answer.get_json() == EXPECTED
