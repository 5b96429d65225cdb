"""The patched binding (Context.compile/eval_bytecode) and what the runtime builds on it."""

import hashlib
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import quickjs

from runtime import CompilationCache, Engine, ErrorKind, HostRegistry, RunRequest, check_syntax
from runtime import engine as engine_module

ENGINE_BUILD = Path(__file__).resolve().parents[2] / "runtime" / "engine_build"


def test_patch_applies_to_the_pinned_sdist(tmp_path):
    expected_hash, sdist_name = (ENGINE_BUILD / "quickjs-ng.sha256").read_text().split()
    sdist = Path(sys.prefix) / "engine" / sdist_name  # kept there by build.sh (`make setup`)
    assert sdist.is_file(), f"{sdist} is missing: build the venv with `make setup`"
    assert hashlib.sha256(sdist.read_bytes()).hexdigest() == expected_hash
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    (source,) = tmp_path.iterdir()
    applied = subprocess.run(["patch", "--dry-run", "--forward", "--fuzz=0", "-p1", "-d", str(source)],
                             input=(ENGINE_BUILD / "quickjs-ng-bytecode.patch").read_text(),
                             capture_output=True, text=True)
    assert applied.returncode == 0, applied.stdout + applied.stderr


def test_bytecode_runs_in_another_context_with_the_same_errors_as_source():
    source = "var answer = 21;\nfunction fail() {\n  const o = null;\n  return o.x;\n}\nanswer * 2"
    bytecode = quickjs.Context().compile(source)
    assert isinstance(bytecode, bytes)
    context = quickjs.Context()
    assert context.eval_bytecode(bytecode) == 42 and context.eval("answer") == 21

    failing = source + ";\nfail()"
    messages = []
    for evaluate in (lambda c: c.eval(failing), lambda c: c.eval_bytecode(quickjs.Context().compile(failing))):
        with pytest.raises(quickjs.JSException) as caught:
            evaluate(quickjs.Context())
        messages.append(str(caught.value))
    assert messages[0] == messages[1] and "at fail (<input>:4:10)" in messages[1]


def test_compile_runs_nothing_and_raises_syntax_errors_like_eval():
    context = quickjs.Context()
    context.compile("globalThis.ran = true; throw new Error('ran')")
    assert context.eval("typeof ran") == "undefined"
    with pytest.raises(quickjs.JSException, match=r"SyntaxError: .*\n    at <input>:2:13"):
        context.compile("function main() {\n  const x = ;\n}")


def test_eval_bytecode_keeps_the_time_limit_and_refuses_what_is_not_bytes():
    context = quickjs.Context()
    context.set_time_limit(0.05)
    with pytest.raises(quickjs.JSException, match="interrupted"):
        context.eval_bytecode(quickjs.Context().compile("for (;;) {}"))
    with pytest.raises(TypeError):
        context.eval_bytecode("for (;;) {}")


def test_prelude_is_compiled_once_per_process():
    engine_module.prelude_bytecode.cache_clear()
    engines = [Engine() for _ in range(3)]
    info = engine_module.prelude_bytecode.cache_info()
    assert len(engines) == 3 and (info.misses, info.hits) == (1, 2)


def test_a_run_evaluates_the_cached_bytecode_not_the_source():
    cache = CompilationCache()
    compiled = cache.compile("function main() { return 1 }")
    swapped = engine_module.CompiledScript(compiled.source, None,
                                           cache.compile("function main() { return 2 }").bytecode)
    request = RunRequest(source=compiled.source, tenant_id="t")
    assert Engine().run(request, swapped, HostRegistry()).output == 2
    assert cache.compile(compiled.source) is compiled and (cache.hits, cache.misses) == (1, 2)


def test_function_source_text_survives_bytecode(run):
    source = "function main() { return main.toString() }"
    assert run(source).output == source


def test_global_redeclaration_is_still_a_syntax_error_of_the_run(run):
    result = run("const NaN = 1;\nfunction main() {}")
    assert result.error.kind is ErrorKind.SYNTAX and "NaN" in result.error.message
    assert (result.error.line, result.error.column) == (1, 1)


def test_strict_mode_directive_is_checked_as_written():
    error = check_syntax("'use strict';\nwith (Math) {}")
    assert error.kind is ErrorKind.SYNTAX and (error.line, error.column) == (2, 1)


def test_cache_is_bounded_in_bytes():
    cache = CompilationCache(max_total_bytes=1000)
    for n in range(20):
        cache.compile(f"function main() {{ return {n} }}")
    assert 0 < len(cache) < 20 and cache.total_bytes <= 1000
    assert cache.total_bytes == sum(len(e.source) + len(e.bytecode) for e in cache._entries.values())
