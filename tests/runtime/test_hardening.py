"""Bridge hardening (issue 7, item 2): what a hostile script does to the engine in one process.

The cases that hang without the fix run on a daemon thread with a bound, so a regression
fails the test instead of hanging the suite (the stuck thread is left to the process exit).
"""

import json
import threading

import pytest

from runtime import CompilationCache, Engine, ErrorKind, HostRegistry, ResourceLimits, RunRequest, check_syntax


def bounded_run(source, within=5.0, host=None, **limits):
    """Run `source` in this process on an engine of its own thread, without the supervisor's watchdog.

    Fails if the run is still going after `within` s.
    """
    results = []
    request = RunRequest(source=source, tenant_id="t", limits=ResourceLimits(**limits))

    def run_in_process():
        results.append(Engine().run(request, CompilationCache().compile(source), host or HostRegistry()))

    thread = threading.Thread(target=run_in_process, daemon=True)
    thread.start()
    thread.join(within)
    assert results, f"the run was still going {within} s later"
    return results[0]


# -- swallowed interrupts -----------------------------------------------------------------
# (The Promise executor swallows it too: only the supervisor's kill ends that one, tests/runtime/test_pool.py.)
SWALLOWED_INTERRUPTS = {
    "stack_trace_limit": "function main() { try { Error.stackTraceLimit = {valueOf() { for (;;) {} }} } catch (e) {}"
                         " while (true) new Error('x') }",
}


@pytest.mark.parametrize("name", SWALLOWED_INTERRUPTS)
def test_a_swallowed_interrupt_still_ends_the_run(name):
    result = bounded_run(SWALLOWED_INTERRUPTS[name], timeout_ms=300)
    assert result.error.kind is ErrorKind.TIMEOUT


def test_the_promise_try_loop_ends():
    result = bounded_run("function main() { while (true) Promise.try(() => { for (;;) {} }) }", timeout_ms=300)
    assert result.error.type == "TypeError" and "not a function" in result.error.message


def test_promises_still_behave(run):
    result = run("""async function main() {
  const p = new Promise(r => r(1));
  class Sub extends Promise {}
  const s = await new Sub(r => r(2));
  let rejected;
  try { await new Promise(() => { throw new TypeError('inside') }) } catch (e) { rejected = e.message }
  return [await p, s, rejected, p instanceof Promise, Promise.resolve(p) === p, typeof Promise.try,
          typeof Error.stackTraceLimit, await Promise.all([1, Promise.resolve(2)])];
}""")
    assert result.output == [1, 2, "inside", True, True, "undefined", "number", [1, 2]]


def test_stack_trace_limit_is_locked(run):
    result = run("""function main() {
  'use strict';
  const before = Error.stackTraceLimit;
  try { Error.stackTraceLimit = 0 } catch (e) {}
  try { Object.defineProperty(Error, 'stackTraceLimit', {get() { return 0 }}) } catch (e) {}
  return [before === Error.stackTraceLimit, new Error('x').stack.length > 0];
}""")
    assert result.output == [True, True]


# -- `using` declarations ------------------------------------------------------------------
@pytest.mark.parametrize("source, where", [
    ("function main() {\n  using res = null;\n}", (2, 3)),
    ("async function main() {\n  if (1) {\n    await using res = null;\n  }\n}", (3, 11)),
    ("function main() {\n  for (using r of []) {}\n}", (2, 8)),
])
def test_using_declarations_are_rejected_with_their_position(source, where):
    error = check_syntax(source)
    assert error is not None and error.kind is ErrorKind.SYNTAX
    assert "using" in error.message and (error.line, error.column) == where


@pytest.mark.parametrize("source", [
    "const using = 1; function main() { return using }",
    "function using(x) { return x } function main() { return using(2) }",
    "function main() { const o = {using: 1}; o.using += 1; return o.using }",
    "// using a comment\nfunction main() { return 'using x = y' + `using ${'a'} = b` + /using x/.source }",
    "function main() { let usinG = 1; let using = 2; return usinG + using }",
    "function main() { using: for (;;) { break using } return 1 }",
    "function main() { let using = [1]; for (using of [2]); return using }",
])
def test_using_as_an_identifier_stays_valid(source):
    assert check_syntax(source) is None


# -- finish under a budget -------------------------------------------------------------------
def test_finish_runs_under_a_time_budget(monkeypatch):
    """No script was found that makes the driver's `finish` slow, so a spinning one stands in for it."""
    from runtime import engine as engine_module

    original_init = engine_module.Engine.__init__

    def with_spinning_finish(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self._finish = self._context.eval("(function __jsr$spin() { for (;;) {} })")

    monkeypatch.setattr(engine_module.Engine, "__init__", with_spinning_finish)
    result = bounded_run("function main() { return 1 }")
    assert result.error.kind is ErrorKind.INTERNAL and "outcome" in result.error.message


# -- host requests -------------------------------------------------------------------------
def test_a_tojson_calling_the_sdk_cannot_share_a_host_request_id(run, host):
    host.register("cache", lambda call: call.args[0])
    result = run("""async function main(input, ctx) {
  let inner;
  const key = {toJSON() { inner = ctx.cache.get('inner'); return 'outer' }};
  const outer = await ctx.cache.get(key);
  return [outer, await inner];
}""")
    assert result.output == ["outer", "inner"]


def test_host_args_that_are_not_an_array_never_reach_a_handler(run, host):
    seen = []
    host.register("db", lambda call: seen.append(call.args))
    result = run("""async function main(input, ctx) {
  Array.prototype.toJSON = function () { return {not: 'an array'} };
  try { await ctx.db.query('orders') } catch (e) { return [e.name, e.message] }
  finally { delete Array.prototype.toJSON }  // or it would serialise the result too
}""")
    assert seen == [] and result.output == ["TypeError", "host call arguments must be a JSON array"]


def test_a_host_request_batch_over_the_byte_cap_ends_the_run(run, host):
    host.register("cache", lambda call: None)
    result = run("async function main(input, ctx) { const big = 'x'.repeat(300000);"
                 " await Promise.all([1, 2, 3, 4].map(n => ctx.cache.set('k' + n, big))) }")
    assert result.error.kind is ErrorKind.HOST_CALL_LIMIT and "bytes" in result.error.message
    assert run("async function main(input, ctx) { await ctx.cache.set('k', 'x'.repeat(300000)); return 1 }").output == 1


DEEP = "let v = 0; for (let i = 0; i < 1500; i++) v = [v];"


def test_deep_output_is_a_clean_error(run):
    result = run(f"function main() {{ {DEEP} return v }}")
    assert result.error.kind is ErrorKind.OUTPUT_TOO_LARGE and "deep" in result.error.message
    assert run("function main() { let v = 0; for (let i = 0; i < 100; i++) v = {v}; return v }").ok


def test_deep_host_request_args_are_a_clean_error(run, host):
    seen = []
    host.register("db", lambda call: seen.append(call))
    result = run(f"async function main(input, ctx) {{ {DEEP} await ctx.db.insert('x', v) }}")
    assert seen == [] and result.error.kind is ErrorKind.HOST_CALL_LIMIT and "deep" in result.error.message


# -- caps and text that storage refuses ---------------------------------------------------
def test_a_huge_error_record_is_capped(run):
    result = run("function main() { const e = new Error('m'.repeat(10_000_000));"
                 " Object.defineProperty(e, 'stack', {value: 's'.repeat(10_000_000)}); e.name = 'N'.repeat(100000);"
                 " throw e }", memory_bytes=128 * 1024 * 1024)
    error = result.error
    assert error.kind is ErrorKind.RUNTIME
    assert len(error.message) <= 8200 and len(error.stack) <= 8200 and len(error.type) <= 201


def test_a_huge_top_level_error_is_capped(run):
    result = run("throw new Error('m'.repeat(1_000_000))")
    assert result.error is not None and len(result.error.message) <= 8200


def test_log_cap_counts_utf8_bytes(run):
    result = run("function main() { for (let i = 0; i < 10; i++) console.log('ж'.repeat(100)) }", log_bytes=700)
    assert [len(e.message) for e in result.logs[:-1]] == [100, 100, 100]  # 200 bytes each
    assert result.logs[-1].message == "7 log entries dropped (log limit)"


def test_nul_and_lone_surrogates_are_replaced_everywhere(run):
    result = run("""function main() {
  console.log('a\\u0000b\\ud800c');
  return {'k\\u0000': 'v\\udc00', pair: '\\ud83d\\ude00', escaped: '\\\\u0000'};
}""")
    assert result.output == {"k\ufffd": "v\ufffd", "pair": "\U0001F600", "escaped": "\\u0000"}
    assert "\\u0000" not in result.output_json.replace("\\\\u0000", "")
    assert result.logs[0].message == "a\ufffdb\ufffdc"
    failed = run("function main() { throw new Error('bad\\u0000\\ud800') }")
    assert failed.error.message == "bad\ufffd\ufffd"
    top = run("throw new Error('top\\u0000\\ud800')")
    assert "\x00" not in top.error.message and "\ud800" not in top.error.message
    json.dumps(result.to_dict(), ensure_ascii=False).encode()  # storable as UTF-8 text


# -- SDK surface ---------------------------------------------------------------------------
def test_get_credential_sees_own_properties_only(run):
    result = run("function main() { return ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'key']"
                 ".map(n => typeof getCredential(n)) }", credentials={"key": "v"})
    assert result.output == ["undefined", "undefined", "undefined", "undefined", "string"]


@pytest.mark.parametrize("source", [
    "async function main(i, ctx) { const a = {}; a.a = a; await ctx.cache.get(a) }",
    "async function main() { await new Promise((resolve, reject) => { null.x }) }",
    "function main() { return {toJSON() { throw new Error('in toJSON') }} }",
    "async function main() { await new Promise(r => setTimeout(r, 1)); null.x }",
    "async function main(i, ctx) { try { await fetchV2('http://x') } catch (e) { throw e } }",
])
def test_prelude_frames_never_show(run, host, source):
    host.register("http", lambda call: 1 / 0)
    result = run(source)
    assert result.error is not None
    frames = result.error.stack.splitlines()
    # Every source here is one line: a script.js frame on another line would be the prelude's.
    # Built-ins the script itself called (`new Promise`) show as native frames.
    assert all("script.js:1:" in frame or frame.endswith("(native)") for frame in frames), frames
    assert result.error.line == (1 if frames else None)  # a host error's stack is all prelude: none is left


# -- error kinds come from the engine, not from the script ---------------------------------------
FORGERIES = [
    "throw new InternalError('interrupted')",
    "throw Object.assign(new Error('interrupted'), {name: 'InternalError'})",
    "throw Object.assign(new Error('host call failed'), {name: 'HostError'})",
]


@pytest.mark.parametrize("statement", FORGERIES)
@pytest.mark.parametrize("where", ["handler", "top_level", "async"])
def test_a_script_cannot_forge_a_timeout_or_a_host_fault(run, statement, where):
    source = {
        "handler": f"function main() {{ {statement} }}",
        "top_level": f"{statement}\nfunction main() {{}}",
        "async": f"async function main() {{ await null; {statement} }}",
    }[where]
    assert run(source).error.kind is ErrorKind.RUNTIME


def test_a_genuine_host_fault_is_still_one(run, host):
    host.register("db", lambda call: 1 / 0)
    result = run("async function main(i, ctx) { try { await ctx.db.query('x') } catch (e) { throw e } }")
    assert result.error.kind is ErrorKind.HOST_FAULT


def test_real_engine_kinds_are_kept(run):
    assert run("function main() { function f() { return f() + 1 } return f() }").error.kind is ErrorKind.STACK
    assert run("function main() { for (;;) {} }", timeout_ms=200).error.kind is ErrorKind.TIMEOUT
    assert run("for (;;) {}", timeout_ms=200).error.kind is ErrorKind.TIMEOUT
    assert run("function main() { const a = []; for (;;) a.push('x'.repeat(1000) + Math.random()) }",
               memory_bytes=8 * 1024 * 1024).error.kind is ErrorKind.MEMORY
