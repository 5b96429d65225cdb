"""ES modules: export and import forms, libraries linked by the runtime, errors at the user's positions."""

import pytest

from runtime import ErrorKind, check_syntax
from runtime.modules import rewrite

LIBS = {
    "math-lib": "export function add(a, b) { return a + b; }\nexport const PI = 3;\nconst secret = 'private';\n"
                "export default function twice(x) { return 2 * x; }\n",
    "greet": "import {add} from 'math-lib';\nexport const hello = (n) => 'hello ' + add(n, 1);\n"
             "export {add as plus};\nexport * from 'math-lib';\n",
    "cycle-a": "import {b} from 'cycle-b';\nexport const a = 1;\n",
    "cycle-b": "import {a} from 'cycle-a';\nexport const b = 2;\n",
    "uses-missing": "import x from 'nowhere';\nexport const y = 1;\n",
    "broken": "export const z = ;\n",
    "thrower": "\nexport function boom() {\n  throw new TypeError('from the library');\n}\n",
}


@pytest.mark.parametrize(("source", "handler"), [
    ("export function main(input) { return input + 1; }", "main"),
    ("export async function transformEvent(event, metadata) { return event + 1; }", "transformEvent"),
    ("export const handler = async (request) => request + 1;", "handler"),
    ("export let onEvent = function (e) { return e + 1; };", "onEvent"),
    ("function impl(x) { return x + 1; }\nexport {impl as main};", "main"),
    ("export default function main(x) { return x + 1; }", "main"),
    ("export var main = (x) => x + 1, unused = 2;\nexport default 7;", "main"),
])
def test_export_forms(run, source, handler):
    result = run(source, input=41, handler=handler)
    assert result.ok, result.error
    assert result.output == 42


def test_import_forms(run):
    source = ("import twice, {add as plus, PI} from 'math-lib';\nimport * as m from 'math-lib';\n"
              "import 'greet';\n"
              "export function main(n) { return [twice(n), plus(n, PI), m.add(1, 1), m.default(1), typeof secret]; }")
    result = run(source, input=5, modules=LIBS)
    assert result.output == [10, 8, 2, 2, "undefined"]


def test_nested_library_imports_and_re_exports(run):
    source = ("import {hello, plus, add, PI} from 'greet';\n"
              "export const main = (n) => [hello(n), plus(1, 2), add(PI, 0)];")
    assert run(source, input=1, modules=LIBS).output == ["hello 2", 3, 3]


def test_a_module_is_evaluated_once_and_its_namespace_is_frozen(run):
    libs = {"counter": "export let count = 0;\ncount++;\n",
            "a": "import {count} from 'counter';\nexport const c = count;",
            "b": "import {count} from 'counter';\nexport const c = count;"}
    source = ("import * as ns from 'counter';\nimport {c as a} from 'a';\nimport {c as b} from 'b';\n"
              "export function main() { 'use strict'; let frozen = false;\n"
              "  try { ns.count = 5; } catch (e) { frozen = true; }\n  return [a, b, ns.count, frozen]; }")
    assert run(source, modules=libs).output == [1, 1, 1, True]


@pytest.mark.parametrize(("source", "message", "line", "column"), [
    ("export function main() {}\n  import x from 'left-pad';", "import from 'left-pad' failed. Module not found.",
     2, 3),
    ("import {a} from 'cycle-a';", "import from 'cycle-a' failed. Circular import: cycle-a -> cycle-b -> cycle-a.",
     1, 1),
    ("\n\nimport {y} from 'uses-missing';",
     "import from 'uses-missing' failed. Module 'nowhere' not found (imported by 'uses-missing').", 3, 1),
    ("import {nope} from 'math-lib';", "import from 'math-lib' failed. The module has no export named 'nope'.", 1, 1),
    ("import {z} from 'broken';", "in module 'broken': unexpected token in expression: ';' at 1:",
     None, None),
])
def test_link_errors_name_the_import(source, message, line, column):
    error = check_syntax(source, LIBS)
    assert error.kind is ErrorKind.SYNTAX
    assert error.message.startswith(message)
    assert (error.line, error.column) == (line, column)


def test_syntax_error_positions_are_the_users_after_rewriting():
    # After an import on the same line: the column is mapped back past the rewritten import.
    source = "import {add} from 'math-lib'; const x = ;\nexport function main() {}"
    error = check_syntax(source, LIBS)
    assert (error.line, error.column) == (1, source.index("= ;") + 3)
    # Below imports and exports: lines and columns are untouched.
    source = "import {add} from 'math-lib';\nexport function main() {\n  return add(1,, 2);\n}"
    error = check_syntax(source, LIBS)
    assert (error.line, error.column) == (3, 16)
    source = "import {\n  add,\n} from 'math-lib';\nexport default {\n  a: 1 +\n};"
    error = check_syntax(source, LIBS)
    assert error.line == 6


def test_runtime_error_positions_in_script_and_library(run):
    source = "import {boom} from 'thrower';\nexport function main() {\n  return boom();\n}"
    result = run(source, modules=LIBS)
    assert result.error.type == "TypeError" and result.error.message == "from the library"
    assert result.error.stack.splitlines() == ["at boom (<lib:thrower>:3:13)", "at main (script.js:3:10)"]
    # The same body as a classic script fails at the same line and column.
    body = " function main() {\n  if (add) null.x;\n}"
    module = run("import {add} from 'math-lib';\nexport" + body, modules=LIBS).error
    classic = run("const add = 1;\n      " + body).error
    assert (module.line, module.column) == (classic.line, classic.column) == (3, 12)


def test_words_import_and_export_outside_statements_change_nothing():
    source = ("// import x from 'y'; export default 1\nconst s = 'export function';\n"
              "const o = {import: 1, export: 2};\nfunction main() { return `import ${s}`; }")
    assert rewrite(source).text == source
    assert check_syntax(source) is None


def test_export_inside_a_block_is_still_a_syntax_error():
    error = check_syntax("function main() {\n  export const x = 1;\n}")
    assert error.kind is ErrorKind.SYNTAX and error.line == 2


def test_a_script_without_modules_is_not_parsed_by_the_linker():
    """The fast path: no import/export words, no tree-sitter parse, the text is the user's own."""
    source = "function main(input) { return input; }"
    result = rewrite(source)
    assert result.text is source and result.imports == [] and result.exports == {}


def test_pool_check_links_against_the_given_modules(pool):
    assert pool.check("import {add} from 'math-lib';\nexport const main = () => add(1, 2);", modules=LIBS) is None
    error = pool.check("import _ from 'left-pad';", modules=LIBS)
    assert error.message == "import from 'left-pad' failed. Module not found."
    assert (error.line, error.column) == (1, 1)
