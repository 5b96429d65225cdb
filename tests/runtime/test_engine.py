"""Engine behaviour: results, errors, limits and the driver loop."""

import threading

from runtime import ErrorKind, HostError, check_syntax


def test_sync_handler_output_and_logs(run):
    result = run("function main(input, ctx) { console.log('got', input, {a: 1}); return input * 2 }", input=21)
    assert result.ok and result.output == 42
    assert [(e.level, e.message) for e in result.logs] == [("info", 'got 21 {"a":1}')]
    assert result.status == "completed" and result.duration_ms > 0 and result.memory_bytes > 0


def test_all_console_levels_are_captured(run):
    result = run("function main() { console.debug('d'); console.info('i'); console.warn('w');"
                 " console.error(new TypeError('boom')) }")
    assert [(e.level, e.message) for e in result.logs] == [
        ("debug", "d"), ("info", "i"), ("warn", "w"), ("error", "TypeError: boom")]


def test_syntax_error_has_line_and_column():
    error = check_syntax("function main() {\n  const x = ;\n}")
    assert error.kind is ErrorKind.SYNTAX and (error.line, error.column) == (2, 13)
    first_line = check_syntax("const = 1")
    assert first_line.line == 1 and first_line.column == 7
    assert check_syntax("function main() { return 1 }") is None


def test_syntax_check_runs_nothing():
    # Run, this source would throw a SyntaxError (from JSON.parse); only parsed, it is fine.
    assert check_syntax("JSON.parse('{');") is None
    assert check_syntax("JSON.parse('{');\nconst = 1;").line == 2


def test_runtime_error_points_at_user_code(run):
    result = run("function main() {\n  const o = null;\n  return o.x;\n}")
    assert result.error.kind is ErrorKind.RUNTIME and result.error.type == "TypeError"
    assert (result.error.line, result.error.column) == (3, 10)
    assert "__jsr$" not in result.error.stack and "script.js:3:10" in result.error.stack


def test_thrown_non_error_value(run):
    result = run("function main() { throw {code: 7} }")
    assert result.error.type == "Uncaught" and result.error.message == '{"code":7}'


def test_missing_handler(run):
    result = run("function other() {}")
    assert result.error.type == "ReferenceError" and "main" in result.error.message


def test_infinite_loop_times_out_and_next_run_on_same_thread_succeeds(run):
    result = run("function main() { while (true) {} }", timeout_ms=200)
    assert result.error.kind is ErrorKind.TIMEOUT and result.status == "timeout"
    assert run("function main() { return 'alive' }").output == "alive"


def test_top_level_infinite_loop_times_out(run):
    assert run("while (true) {}", timeout_ms=150).error.kind is ErrorKind.TIMEOUT


def test_promise_flood_ends(run):
    result = run("function main() { const f = () => Promise.resolve().then(f); f(); return new Promise(() => {}) }",
                 timeout_ms=300)
    assert result.error.kind is ErrorKind.TIMEOUT


def test_promise_flood_hits_job_cap(run):
    result = run("function main() { const f = () => Promise.resolve().then(f); f(); return new Promise(() => {}) }",
                 max_jobs=10_000)
    assert result.error.kind is ErrorKind.TIMEOUT and result.error.type == "JobLimitExceeded"


def test_await_loop_ends_at_deadline(run):
    result = run("async function main() { for (;;) { await null } }", timeout_ms=300)
    assert result.error.kind is ErrorKind.TIMEOUT


def test_memory_bomb_is_contained(run, pool):
    result = run("function main() { const a = []; for (;;) a.push('x'.repeat(1024) + Math.random()) }",
                 memory_bytes=8 * 1024 * 1024)
    assert result.error.kind is ErrorKind.MEMORY
    assert run("function main() { return [1, 2, 3].length }").output == 3
    assert pool.metrics()["in_use"] == 0


def test_global_memory_hog_is_contained(run):
    result = run("var keep = []; function main() { for (;;) keep.push(new Array(10000).fill(1)) }",
                 memory_bytes=8 * 1024 * 1024)
    assert result.error.kind is ErrorKind.MEMORY
    assert run("function main() { return 'ok' }").output == "ok"


def test_deep_recursion_is_an_error_not_a_crash(run):
    result = run("function main() { function f(n) { return f(n + 1) + 1 } return f(0) }")
    assert result.error.kind is ErrorKind.STACK
    nested = run("function main() { return JSON.parse('['.repeat(100000)) }")
    assert nested.error is not None
    assert run("function main() { return 1 }").output == 1


def test_output_over_the_limit(run):
    result = run("function main() { return 'x'.repeat(5000) }", output_bytes=1000)
    assert result.error.kind is ErrorKind.OUTPUT_TOO_LARGE and result.output is None
    assert run("function main() { return 'x'.repeat(900) }", output_bytes=1000).ok


def test_unserialisable_output_is_an_error(run):
    result = run("function main() { const a = {}; a.self = a; return a }")
    assert result.error.type == "TypeError"


def test_log_caps(run):
    result = run("function main() { for (let i = 0; i < 50; i++) console.log('line', i) }", log_entries=10)
    assert len(result.logs) == 11
    assert result.logs[-1].message == "40 log entries dropped (log limit)"
    big = run("function main() { console.log('y'.repeat(100000)) }")
    assert len(big.logs[0].message) <= 8193


def test_async_handler_with_awaited_host_call(run, host):
    seen = []

    def db(call):
        seen.append(call)
        return {"id": "r1", "collection": call.args[0], "data": call.args[1]}

    host.register("db", db)
    result = run("async function main(input, ctx) {\n"
                 "  const row = await ctx.db.insert('orders', {n: input});\n"
                 "  console.log('inserted', row.id);\n"
                 "  return row;\n}", input=5)
    assert result.ok, result.error
    assert result.output == {"id": "r1", "collection": "orders", "data": {"n": 5}}
    assert result.host_calls == 1 and result.host_time_ms >= 0
    assert [(t["api"], t["method"], t["ok"]) for t in result.host_call_timings] == [("db", "insert", True)]
    assert seen[0].api == "db" and seen[0].method == "insert" and seen[0].tenant_id == "tenant-a"


def test_tenant_comes_from_python_not_from_the_script(run, host):
    seen = []
    host.register("db", lambda call: seen.append(call.tenant_id) or None)
    run("async function main(i, ctx) { await ctx.db.query('x', {tenantId: 'tenant-b', tenant_id: 'tenant-b'}) }",
        context={"tenantId": "tenant-b"})
    assert seen == ["tenant-a"]


def test_host_call_limit(run, host):
    host.register("cache", lambda call: None)
    result = run("async function main(i, ctx) { for (let n = 0; n < 10; n++) await ctx.cache.get('k' + n) }",
                 host_calls=3)
    assert result.error.kind is ErrorKind.HOST_CALL_LIMIT and result.host_calls == 3


def test_host_fault_is_generic_and_catchable(run, host, caplog):
    def broken(call):
        raise KeyError("/etc/secret-path in db.py line 12")

    host.register("db", broken)
    result = run("async function main(i, ctx) {\n"
                 "  try { await ctx.db.query('x') } catch (e) { console.log('caught', e.name, e.message) }\n"
                 "  return 'went on'\n}")
    assert result.output == "went on"
    message = result.logs[0].message
    assert message.startswith("caught HostError host call failed (incident ")
    assert "secret-path" not in message and "KeyError" not in message and "Traceback" not in message
    assert "secret-path" in caplog.text  # the details go to the server log


def test_uncaught_host_fault_fails_the_run_as_host_fault(run, host):
    host.register("db", lambda call: 1 / 0)
    result = run("async function main(i, ctx) { await ctx.db.query('x') }")
    assert result.error.kind is ErrorKind.HOST_FAULT and "ZeroDivision" not in result.error.message


def test_host_error_message_reaches_the_script(run, host):
    def http(call):
        raise HostError("address not allowed", name="HttpError", status=403)

    host.register("http", http)
    result = run("async function main(i, ctx) { try { await ctx.http.get('http://10.0.0.1') }"
                 " catch (e) { return [e.name, e.message, e.status] } }")
    assert result.output == ["HttpError", "address not allowed", 403]


def test_unavailable_api(run):
    result = run("async function main(i, ctx) {"
                 " try { await ctx.events.publish('a', {}) } catch (e) { return e.message } }")
    assert result.output == "ctx.events is not available in this runtime"


def test_fetch_shims(run, host):
    def http(call):
        url = call.args[0]
        if "fail" in url:
            raise HostError("connection refused", name="HttpError")
        return {"status": 404 if "missing" in url else 200, "headers": {}, "body": {"url": url}}

    host.register("http", http)
    result = run("async function main() {\n"
                 "  const ok = await fetch('https://x.test/a');\n"
                 "  const missing = await fetch('https://x.test/missing');\n"
                 "  const failed = await fetch('https://x.test/fail');\n"
                 "  let v2;\n"
                 "  try { await fetchV2('https://x.test/fail') } catch (e) { v2 = e.message }\n"
                 "  const full = await fetchV2('https://x.test/b');\n"
                 "  return [ok, missing, failed, v2, full.status];\n}")
    # RudderStack's fetch resolves to the JSON body whatever the status (rudder-transformer's ivmFactory.js).
    assert result.output == [{"url": "https://x.test/a"}, {"url": "https://x.test/missing"}, "ERROR",
                             "connection refused", 200]


def test_set_timeout_within_deadline(run):
    result = run("async function main() { const t0 = Date.now();"
                 " await new Promise(r => setTimeout(r, 30)); return Date.now() - t0 >= 25 }")
    assert result.output is True
    late = run("async function main() { await new Promise(r => setTimeout(r, 10000)) }", timeout_ms=100)
    assert late.error.kind is ErrorKind.TIMEOUT and late.duration_ms < 1000


def test_cleared_timer_never_fires_and_unsettled_promise_is_reported(run):
    result = run("async function main() { const id = setTimeout(() => console.log('fired'), 5); clearTimeout(id);"
                 " await new Promise(() => {}) }")
    assert result.error.type == "UnsettledPromise" and result.logs == []


def test_credentials_and_ctx_fields(run):
    result = run("function main(input, ctx) { return [getCredential('apiKey'), getCredential('nope') === undefined,"
                 " ctx.tenantId, ctx.scriptId, ctx.trigger] }",
                 credentials={"apiKey": "k-1"}, context={"scriptId": "s9", "trigger": {"type": "manual"}})
    assert result.output == ["k-1", True, "tenant-a", "s9", {"type": "manual"}]


def test_transform_event_and_batch_with_metadata(run):
    event = run("function transformEvent(event, metadata) { event.seen = metadata(event).sourceId; return event }",
                handler="transformEvent", input={"type": "track"}, metadata=[{"sourceId": "src-1"}])
    assert event.output == {"type": "track", "seen": "src-1"}
    batch = run("function transformBatch(events, metadata) { return events.map(e => metadata(e).messageId) }",
                handler="transformBatch", input=[{"n": 1}, {"n": 2}],
                metadata=[{"messageId": "m1"}, {"messageId": "m2"}])
    assert batch.output == ["m1", "m2"]


def test_two_threads_run_concurrently_in_their_own_runners(pool):
    from runtime import RunRequest

    results = {}
    barrier = threading.Barrier(2)

    def worker(name):
        barrier.wait()
        request = RunRequest(source="function main(n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s }",
                             tenant_id=name, input=200_000)
        results[name] = pool.run(request)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("t1", "t2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert {name: r.output for name, r in results.items()} == {"t1": 19999900000, "t2": 19999900000}


def test_engine_refuses_reuse_and_foreign_threads():
    from runtime import CompilationCache, Engine, HostRegistry, RunRequest

    engine = Engine()
    compiled = CompilationCache().compile("function main() { return 1 }")
    errors = []

    def other_thread():
        try:
            engine.run(RunRequest(source=compiled.source, tenant_id="t"), compiled, HostRegistry())
        except RuntimeError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert errors and "thread" in errors[0]
    assert engine.run(RunRequest(source=compiled.source, tenant_id="t"), compiled, HostRegistry()).output == 1
    try:
        engine.run(RunRequest(source=compiled.source, tenant_id="t"), compiled, HostRegistry())
    except RuntimeError as exc:
        assert "one run" in str(exc)
    else:
        raise AssertionError("a spent engine ran again")


def test_source_size_limit(run):
    result = run("// " + "x" * 2000 + "\nfunction main() {}", source_bytes=1000)
    assert result.error.kind is ErrorKind.SOURCE_TOO_LARGE


def test_broken_source_is_reported_as_a_syntax_error(pool):
    from runtime import RunRequest

    result = pool.run(RunRequest(source="function main( {", tenant_id="t"))
    assert result.error.kind is ErrorKind.SYNTAX and (result.error.line, result.error.column) == (1, 17)


def test_handlers_declared_with_const_and_arrow_functions(run):
    assert run("const main = async (input) => input + 1", input=1).output == 2
    assert run("let handler = function (request) { return request.path }", handler="handler",
               input={"path": "/x"}).output == "/x"


def test_unknown_handler_name_is_refused(run):
    assert run("function main() {}", handler="process.exit").error.type == "ReferenceError"


def test_single_huge_native_calls_are_stopped_by_the_memory_limit(run):
    repeat = run("function main() { return 'ab'.repeat(2 ** 28).length }", memory_bytes=16 * 1024 * 1024)
    assert repeat.error.kind is ErrorKind.MEMORY
    stringify = run("function main() { const a = new Array(1e6).fill('xxxxxxxxxx'); return JSON.stringify(a).length }",
                    memory_bytes=16 * 1024 * 1024)
    assert stringify.error.kind is ErrorKind.MEMORY
    assert run("function main() { return 'still fine' }").output == "still fine"


def test_regex_catastrophic_backtracking_is_interrupted(run):
    result = run("function main() { return /^(a+)+$/.test('a'.repeat(40) + 'b') }", timeout_ms=300)
    assert result.error.kind is ErrorKind.TIMEOUT and result.duration_ms < 2000


def test_total_log_bytes_cap(run):
    result = run("function main() { for (let i = 0; i < 10; i++) console.log('x'.repeat(100)) }", log_bytes=350)
    assert [len(e.message) for e in result.logs[:-1]] == [100, 100, 100]
    assert result.logs[-1].message == "7 log entries dropped (log limit)"


def test_host_value_that_is_not_json_becomes_a_catchable_error(run, host):
    host.register("cache", lambda call: {1, 2})
    result = run("async function main(i, ctx) { try { await ctx.cache.get('k') } catch (e) { return e.message } }")
    assert result.output == "host call returned a value that is not JSON"


def test_exception_in_a_timer_callback_is_logged_and_the_run_goes_on(run):
    result = run("async function main() { setTimeout(() => { throw new RangeError('late') }, 0);"
                 " await new Promise(r => setTimeout(r, 5)); return 'done' }")
    assert result.output == "done"
    assert [(e.level, e.message) for e in result.logs] == [
        ("error", "Uncaught exception in timer callback: RangeError: late")]
