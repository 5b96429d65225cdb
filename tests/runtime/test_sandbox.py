"""Isolation: no code generation, no state across runs, tamper-proof bookkeeping."""

import pytest

from runtime import ErrorKind

CODEGEN_PATHS = [
    "eval('1')",
    "globalThis.eval('1')",
    "(0, eval)('1')",
    "Function('return 1')()",
    "new Function('return 1')()",
    "(function(){}).constructor('return 1')()",
    "(() => 1).constructor('return 1')()",
    "Object.getPrototypeOf(async function(){}).constructor('return 1')()",
    "Object.getPrototypeOf(function*(){}).constructor('return 1')()",
    "Object.getPrototypeOf(async function*(){}).constructor('return 1')()",
    "Reflect.construct(Object.getPrototypeOf(() => 1).constructor, ['return 1'])()",
    "[].map.constructor('return 1')()",
    "main.constructor.constructor('return 1')()",
]


@pytest.mark.parametrize("expression", CODEGEN_PATHS)
def test_code_generation_is_blocked(run, expression):
    result = run(f"function main() {{ return {expression} }}")
    assert result.error is not None and result.error.kind is ErrorKind.RUNTIME, result.output


def test_function_instanceof_still_works(run):
    assert run("function main() { return [main instanceof Function, typeof Function] }").output == [True, "function"]


def test_weak_refs_and_stack_hooks_are_gone(run):
    result = run("function main() { return [typeof WeakRef, typeof FinalizationRegistry,"
                 " typeof Error.captureStackTrace, typeof require, typeof process] }")
    assert result.output == ["undefined"] * 5


def test_prepare_stack_trace_hook_sees_no_prelude_function(run, host):
    host.register("db", lambda call: None)
    result = run("""
async function main(input, ctx) {
  'use strict';
  const seen = [];
  try { Error.prepareStackTrace = (e, frames) => { for (const f of frames) seen.push(f.getFunction()); return 'x' } }
  catch (e) { seen.push('assign-refused') }
  try { Object.defineProperty(Error, 'prepareStackTrace', {value: (e, f) => { seen.push(f); return '' }}) }
  catch (e) { seen.push('define-refused') }
  console.log('a');
  await ctx.db.query('x');
  new Error('probe').stack;
  try { null.x } catch (e) { e.stack }
  return seen.map(String);
}""")
    assert result.ok, result.error
    assert result.output == ["assign-refused", "define-refused"]


def test_dynamic_import_is_refused(run):
    result = run("async function main() { try { await import('fs'); return 'loaded' } catch (e) { return e.name } }")
    assert result.output != "loaded"


@pytest.mark.parametrize("name", ["console", "fetch", "fetchV2", "getCredential", "setTimeout", "log", "metadata"])
def test_sdk_bindings_are_non_writable_and_non_configurable(run, name):
    result = run(f"""function main() {{
  const before = {name};
  try {{ {name} = 1 }} catch (e) {{}}
  try {{ delete globalThis.{name} }} catch (e) {{}}
  try {{ Object.defineProperty(globalThis, '{name}', {{value: 2}}) }} catch (e) {{}}
  const d = Object.getOwnPropertyDescriptor(globalThis, '{name}');
  return [{name} === before, d.writable, d.configurable];
}}""")
    assert result.output == [True, False, False]


def test_ctx_is_deeply_frozen(run):
    result = run("""function main(input, ctx) {
  'use strict';
  const attempts = [() => { ctx.tenantId = 'other' }, () => { ctx.db = {} }, () => { ctx.trigger.type = 'x' },
    () => { ctx.db.insert = null }, () => { ctx.http.get.extra = 1 }, () => { ctx.logger.log = null }];
  return attempts.map(f => { try { f(); return 'changed' } catch (e) { return e.name } });
}""", context={"trigger": {"type": "manual"}})
    assert result.output == ["TypeError"] * 6


def test_replacing_json_stringify_cannot_forge_the_result(run):
    result = run("""function main() {
  JSON.stringify = () => '"forged"';
  JSON.parse = () => 'forged';
  Array.prototype.push = () => 0;
  Object.prototype.toJSON = undefined;
  console.log('real log');
  return {real: true};
}""")
    assert result.output == {"real": True}
    assert [entry.message for entry in result.logs] == ["real log"]


def test_array_prototype_setters_cannot_hijack_logs(run):
    result = run("""function main() {
  Object.defineProperty(Array.prototype, '0', {set(v) { throw new Error('hijacked') }, configurable: true});
  Object.defineProperty(Object.prototype, 'level', {set(v) { throw new Error('hijacked') }, configurable: true});
  console.log('kept');
  return 'done';
}""")
    assert result.output == "done" and [e.message for e in result.logs] == ["kept"]


def test_replacing_promise_cannot_stop_host_calls(run, host):
    host.register("cache", lambda call: call.args[0])
    result = run("""async function main(input, ctx) {
  const Real = Promise;
  globalThis.Promise = function () { throw new Error('no promises') };
  return await ctx.cache.get('value');
}""")
    assert result.output == "value"


POLLUTERS = """
Object.prototype.polluted = 'yes';
Array.prototype.map = function () { return 'hijacked' };
globalThis.leak = 'leaked';
let topLevel = 'tl';
String.prototype.trim = () => 'pwned';
Promise.resolve().then(() => { globalThis.lateJob = true });
function main() { return 'polluted' }
"""

CHECKER = """
function main() {
  return [({}).polluted, [1].map(x => x), typeof leak, typeof topLevel, ' a '.trim(), typeof lateJob];
}
"""


@pytest.mark.parametrize("second_tenant", ["tenant-a", "tenant-b"])
def test_state_from_one_run_is_invisible_to_the_next(run, second_tenant):
    assert run(POLLUTERS).output == "polluted"
    result = run(CHECKER, tenant=second_tenant)
    assert result.output == [None, [1], "undefined", "undefined", "a", "undefined"]


def test_timers_left_behind_never_fire_in_a_later_run(run):
    run("function main() { setTimeout(() => console.log('ghost'), 0); return 1 }")
    assert run("async function main() { await new Promise(r => setTimeout(r, 20)); return 2 }").logs == []
