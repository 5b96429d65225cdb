"""POST /transform, POST /scripts/{id}/transform and /secrets over the API."""

EVENTS = [
    {"message": {"messageId": "m1", "event": "a"}, "metadata": {"messageId": "m1", "sourceId": "s"}, "destination": {}},
    {"message": {"messageId": "m2", "event": "b"}, "metadata": {"messageId": "m2", "sourceId": "s"}, "destination": {}},
]
# A RudderStack V1 transformation as their documentation writes it: export, getCredential, log.
CODE = ("export function transformEvent(event, metadata) {\n"
        "  log('event', event.event);\n"
        "  if (event.event === 'b') return null;\n"
        "  event.apiKey = getCredential('apiKey');\n"
        "  event.workspace = metadata(event).sourceId;\n"
        "  return event;\n}\n")


def test_transform_unsaved_code_with_tenant_secrets(api, db_session):
    admin, _ = api()
    assert admin("PUT", "/secrets/apiKey", json={"value": "k-1"}).status_code == 200
    answer = admin("POST", "/transform", json={"code": CODE, "events": EVENTS})
    assert answer.status_code == 200
    assert answer.get_json() == {
        "transformedEvents": [{"statusCode": 200, "metadata": EVENTS[0]["metadata"],
                               "output": {"messageId": "m1", "event": "a", "apiKey": "k-1", "workspace": "s"}}],
        "logs": ["Log: event a", "Log: event b"],
    }
    with_own = [{**EVENTS[0], "credentials": [{"key": "apiKey", "value": "from request"}]}]
    rows = admin("POST", "/transform", json={"code": CODE, "events": with_own, "test": False}).get_json()
    assert rows == {"transformedEvents": [{"statusCode": 200, "metadata": EVENTS[0]["metadata"], "output": {
        "messageId": "m1", "event": "a", "apiKey": "from request", "workspace": "s"}}], "logs": []}


def test_transform_a_saved_script(api, db_session):
    developer, _ = api(role="developer")
    script = developer("POST", "/scripts", json={"name": "rs", "type": "oneoff", "source": CODE}).get_json()
    answer = developer("POST", f"/scripts/{script['id']}/transform", json={"events": EVENTS})
    assert answer.status_code == 200
    body = answer.get_json()
    assert [row["statusCode"] for row in body["transformedEvents"]] == [200] and body["logs"] == []
    # No secret named apiKey: getCredential gives undefined, which JSON leaves out.
    assert body["transformedEvents"][0]["output"] == {"messageId": "m1", "event": "a", "workspace": "s"}


def test_transform_refuses_what_is_not_rudderstacks_shape(api, db_session):
    admin, _ = api()
    bad = admin("POST", "/transform", json={"code": CODE, "events": [{"msg": {}}]})
    assert bad.status_code == 422 and "events" in bad.get_json()["fields"]
    assert admin("POST", "/transform", json={"code": "", "events": EVENTS}).status_code == 422
    assert admin("POST", "/transform", json={"code": CODE, "events": EVENTS, "test": "yes"}).status_code == 422
    viewer, _ = api(role="viewer")
    assert viewer("POST", "/transform", json={"code": CODE, "events": EVENTS}).status_code == 403


def test_secrets_api_lists_names_only_and_is_for_org_admins(api, db_session):
    admin, tenant = api()
    assert admin("PUT", "/secrets/TOKEN", json={"value": "v-secret-1"}).get_json()["name"] == "TOKEN"
    listed = admin("GET", "/secrets").get_json()["items"]
    assert [item["name"] for item in listed] == ["TOKEN"] and "v-secret-1" not in str(listed)
    developer, _ = api(role="developer", tenant=tenant)
    assert developer("GET", "/secrets").status_code == 403
    assert developer("PUT", "/secrets/X", json={"value": "v"}).status_code == 403
    assert admin("PUT", "/secrets/1bad", json={"value": "v"}).status_code == 422
    assert admin("DELETE", "/secrets/TOKEN").status_code == 204
    assert admin("DELETE", "/secrets/TOKEN").status_code == 404
    assert admin("GET", "/secrets").get_json()["items"] == []
