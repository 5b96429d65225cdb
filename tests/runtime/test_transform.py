"""RudderStack transformation mode, rule by rule (rudder-transformer's transformWrapper and userTransform)."""

import pytest

from runtime.transform import check_events, request_for, response_from


def events(*messages, **extra):
    return [{"message": message, "metadata": {"messageId": message.get("messageId"), "sourceId": "src",
                                              "jobId": index + 1, "extraKey": "kept per event"}, **extra}
            for index, message in enumerate(messages)]


@pytest.fixture
def transform(pool):
    """transform(source, events, test=False, modules=None, **limits) -> RudderStack's response."""

    def _transform(source, batch, test=False, modules=None, credentials=None, **limits):
        request = request_for(source, "tenant-a", check_events(batch), test_mode=test, modules=modules,
                              credentials=credentials)
        if limits:
            request = request.__class__(**{**request.__dict__, "limits": request.limits.with_overrides(**limits)})
        return response_from(batch, pool.run(request))

    return _transform


TWO = events({"messageId": "m1", "event": "a"}, {"messageId": "m2", "event": "b"})


def test_transform_event_per_event_with_its_own_metadata(transform):
    out = transform("export function transformEvent(event, metadata) { event.seen = true; return event; }", TWO)
    assert out == {"transformedEvents": [
        {"statusCode": 200, "output": {"messageId": "m1", "event": "a", "seen": True}, "metadata": TWO[0]["metadata"]},
        {"statusCode": 200, "output": {"messageId": "m2", "event": "b", "seen": True}, "metadata": TWO[1]["metadata"]},
    ], "logs": []}


def test_null_and_undefined_drop_the_event(transform):
    source = "export function transformEvent(e) { return e.event === 'a' ? null : undefined; }"
    assert transform(source, TWO)["transformedEvents"] == []


def test_an_array_emits_one_row_per_element_with_the_input_metadata(transform):
    source = "export function transformEvent(e) { return e.event === 'a' ? [{n: 1}, {n: 2}] : [{n: 3}, 'x']; }"
    rows = transform(source, TWO)["transformedEvents"]
    assert rows == [
        {"statusCode": 200, "output": {"n": 1}, "metadata": TWO[0]["metadata"]},
        {"statusCode": 200, "output": {"n": 2}, "metadata": TWO[0]["metadata"]},
        {"statusCode": 400, "error": "returned event in events array from transformEvent(event) is not an object",
         "metadata": TWO[1]["metadata"]},
    ]


def test_a_non_object_is_an_error_row(transform):
    rows = transform("export function transformEvent(e) { return 5; }", TWO[:1])["transformedEvents"]
    assert rows == [{"statusCode": 400, "error": "returned event from transformEvent(event) is not an object",
                     "metadata": TWO[0]["metadata"]}]


def test_a_throw_fails_that_event_alone(transform):
    source = ("export async function transformEvent(e) {\n"
              "  if (e.event === 'a') throw new TypeError('bad event ' + e.messageId);\n  return e;\n}")
    rows = transform(source, TWO)["transformedEvents"]
    assert [row["statusCode"] for row in rows] == [400, 200]
    assert rows[0]["error"].splitlines()[0] == "TypeError: bad event m1"
    assert "transformEvent (script.js:2:" in rows[0]["error"] and rows[0]["metadata"] == TWO[0]["metadata"]


def test_transform_batch_finds_metadata_by_message_id_with_rudderstacks_keys(transform):
    source = ("export function transformBatch(events, metadata) {\n"
              "  return events.reverse().map(e => ({...e, meta: metadata(e)}));\n}")
    rows = transform(source, TWO)["transformedEvents"]
    assert [row["output"]["messageId"] for row in rows] == ["m2", "m1"]
    assert rows[0]["metadata"] == {"messageId": "m2", "sourceId": "src", "jobId": 2}  # extraKey is not one of them
    assert rows[0]["output"]["meta"] == rows[0]["metadata"]


def test_metadata_looks_up_by_message_id_not_identity(transform):
    source = ("export function transformEvent(e, metadata) {\n"
              "  return {copy: true, jobId: metadata({messageId: e.messageId}).jobId};\n}")
    assert [row["output"]["jobId"] for row in transform(source, TWO)["transformedEvents"]] == [1, 2]


@pytest.mark.parametrize(("source", "error"), [
    ("export function transformBatch(events) { return {}; }",
     "returned events from transformBatch(event) is not an array"),
    ("export function transformBatch(events) {\n  throw new RangeError('whole batch');\n}",
     "RangeError: whole batch"),
])
def test_transform_batch_failures_are_one_row(transform, source, error):
    rows = transform(source, TWO)["transformedEvents"]
    assert len(rows) == 1 and rows[0]["statusCode"] == 400 and rows[0]["metadata"] == {}
    assert rows[0]["error"].splitlines()[0] == error


def test_a_non_object_in_a_batch_is_an_error_row_at_its_place(transform):
    rows = transform("export function transformBatch(events) { return [events[0], 42]; }", TWO)["transformedEvents"]
    assert [row["statusCode"] for row in rows] == [200, 400]
    assert rows[1] == {"statusCode": 400, "metadata": {},
                       "error": "returned event in events array from transformBatch(events) is not an object"}


def test_v0_transform_is_a_batch_handler(transform):
    source = ("async function foo() { return 'resolved'; }\nasync function transform(events) {\n"
              "  const pr = await foo();\n"
              "  return events.map(e => { log('Transformation test'); e.promise = pr; return e; });\n}")
    out = transform(source, TWO, test=True)
    assert [row["output"]["promise"] for row in out["transformedEvents"]] == ["resolved", "resolved"]
    assert out["logs"] == ["Log: Transformation test", "Log: Transformation test"]


@pytest.mark.parametrize(("source", "message"), [
    ("export function main() {}", "TypeError: the transformation defines neither transformEvent nor transformBatch"),
    ("export function transformEvent(e) { return e; }\nexport function transformBatch(e) { return e; }",
     "TypeError: the transformation defines both transformEvent and transformBatch: keep one"),
    ("export function transformEvent(e) { return e; ", "SyntaxError: unexpected token in expression: ''"),
    ("import _ from 'left-pad';\nexport function transformEvent(e) { return e; }",
     "SyntaxError: import from 'left-pad' failed. Module not found."),
])
def test_a_whole_call_failure_fails_every_event(transform, source, message):
    rows = transform(source, TWO)["transformedEvents"]
    assert [row["statusCode"] for row in rows] == [400, 400]
    assert [row["metadata"] for row in rows] == [TWO[0]["metadata"], TWO[1]["metadata"]]
    assert all(row["error"] == message for row in rows)


def test_a_timeout_fails_every_event(transform):
    rows = transform("export function transformEvent(e) { for (;;) {} }", TWO, timeout_ms=200)["transformedEvents"]
    assert [row["statusCode"] for row in rows] == [400, 400]
    assert rows[0]["error"].startswith("TimeoutError")


def test_get_credential_reads_the_request_credentials(transform):
    batch = events({"messageId": "m1"}, credentials=[{"key": "key1", "value": "value1"}])
    source = ("export function transformEvent(event) {\n"
              "  event.v = getCredential('key1', 'key2'); event.missing = getCredential('key3') === undefined;\n"
              "  event.num = getCredential(1) === undefined; return event;\n}")
    assert transform(source, batch)["transformedEvents"][0]["output"] == {"messageId": "m1", "v": "value1",
                                                                          "missing": True, "num": True}
    fallback = transform("export function transformEvent(e) { e.v = getCredential('key1'); return e; }",
                         events({"messageId": "m1"}), credentials={"key1": "from secrets"})
    assert fallback["transformedEvents"][0]["output"]["v"] == "from secrets"


@pytest.mark.parametrize("call", ["getCredential()", "getCredential(null)", "getCredential(undefined)"])
def test_get_credential_without_a_key_throws(transform, call):
    rows = transform(f"export function transformEvent(e) {{ e.v = {call}; return e; }}", TWO[:1])["transformedEvents"]
    assert rows[0]["error"].splitlines()[0] == "TypeError: Key should be valid and defined"


def test_log_lines_only_in_test_mode_and_apart_from_console(transform):
    source = "export function transformEvent(e) { log('a', {b: 1}, 3, null); console.log('console'); return e; }"
    assert transform(source, TWO[:1], test=True)["logs"] == ['Log: a {"b":1} 3 null']
    assert transform(source, TWO[:1])["logs"] == []


def test_events_must_have_rudderstacks_shape():
    with pytest.raises(ValueError, match="events must be a list"):
        check_events({"message": {}})
    with pytest.raises(ValueError, match=r"events\[1\] must be an object with a `message` object"):
        check_events([{"message": {}}, {"msg": {}}])


def test_a_plain_run_keeps_log_as_console_output(run):
    result = run("function main() { log('plain', {a: 1}); return 1; }")
    assert result.ok and [(entry.level, entry.message) for entry in result.logs] == [("info", 'plain {"a":1}')]
