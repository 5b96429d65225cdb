"""ES-module linking: `import`/`export` rewritten into classic scripts QuickJS can run.

The binding has no module loader, so the runtime links modules itself. Top-level import
and export statements are found with a real JavaScript parser (tree-sitter) and rewritten
in place, keeping every line and, except after an import on its own line, every column:

    export function main() {}        ->  `       function main() {}`   (the keyword blanked)
    export default expr;             ->  `const $dflt$ = expr;`         (same length)
    export {a as b};                 ->  blanked; exports recorded
    import _, {a as b} from 'lib';   ->  `const _ = __jsr$m["lib"].default, {"a": b} = __jsr$m["lib"];`

The script stays a classic script (its top-level bindings are what the engine looks its
handler up by). Each imported module (a tenant library or a curated package, handed in
by name) becomes one unit evaluated before the script, in dependency order:
`__jsr$m["lib"] = (function () { ...module body...; return {exports}; })();`, so a
module's own declarations stay private to it. Unknown names, missing exports and cycles
are link errors carrying the import's line and column. Column shifts made by a rewrite
are kept so that error positions map back to the user's text.

Sources without the words `import` or `export` are not parsed at all: the fast path of
classic scripts is unchanged.
"""

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import tree_sitter_javascript
from tree_sitter import Language, Node, Parser

from runtime.errors import ErrorKind, ScriptError

REGISTRY = "__jsr$m"
DEFAULT_LOCAL = "$dflt$"
MODULE_FILE = "<lib:{}>"  # the file name a module's frames carry in stack traces
_DECLARATIONS = ("function_declaration", "generator_function_declaration", "class_declaration",
                 "lexical_declaration", "variable_declaration")


@functools.cache
def javascript_language() -> Language:
    return Language(tree_sitter_javascript.language())


def may_be_module(source: str) -> bool:
    """Whether `source` can hold an import or export at all (a substring test, never a parse)."""
    return "import" in source or "export" in source


@dataclass(frozen=True)
class Import:
    specifier: str
    line: int  # 1-based, of the import statement
    column: int
    names: tuple[str, ...]  # exported names it reads ('default' included)


@dataclass
class Rewritten:
    """One source after rewriting: the text, what it imports and exports, and its column shifts."""

    text: str
    imports: list[Import] = field(default_factory=list)
    exports: dict[str, str] = field(default_factory=dict)  # exported name -> local expression
    star_exports: list[str] = field(default_factory=list)  # `export * from 'x'`
    shifts: list[tuple[int, int, int]] = field(default_factory=list)  # (line, new column from, delta)

    def original_position(self, line: int, column: int) -> tuple[int, int]:
        """The user's line:column (1-based) of a position in the rewritten text."""
        for shift_line, start, delta in self.shifts:
            if shift_line == line and column >= start:
                column -= delta
        return line, column


@dataclass(frozen=True)
class Unit:
    """A piece of code to evaluate: a module (`name`) or the script itself (`name` None)."""

    name: str | None
    text: str
    filename: str = "<input>"


@dataclass(frozen=True)
class Linked:
    units: tuple[Unit, ...] = ()  # modules in dependency order, then the script
    script: Rewritten | None = None
    error: ScriptError | None = None


def link(source: str, modules: Mapping[str, str], entry_points: tuple[str, ...] = ()) -> Linked:
    """Rewrite `source` and the modules it imports, directly or not; a link error names the import's position.

    An `entry_points` name the script exports under another local name (`export {run as main}`)
    is bound to it at the end, so the handler is found by that name.
    """
    script = rewrite(source)
    rewritten: dict[str, Rewritten] = {}
    order: list[str] = []

    def visit(specifier: str, chain: tuple[str, ...]) -> str | None:
        if specifier in chain:
            return "Circular import: " + " -> ".join((*chain[chain.index(specifier):], specifier)) + "."
        if specifier in rewritten:
            return None
        if specifier not in modules:
            return "Module not found." if not chain else f"Module {specifier!r} not found (imported by {chain[-1]!r})."
        module = rewrite(modules[specifier])
        for item in module.imports:
            if (problem := visit(item.specifier, (*chain, specifier))) is not None:
                return problem
            if (problem := _missing_export(rewritten[item.specifier], item)) is not None:
                return problem
        rewritten[specifier] = module
        order.append(specifier)
        return None

    for item in script.imports:
        problem = visit(item.specifier, ())
        if problem is None:
            problem = _missing_export(rewritten[item.specifier], item)
        if problem is not None:
            return Linked(error=ScriptError(ErrorKind.SYNTAX, "SyntaxError",
                                            f"import from '{item.specifier}' failed. {problem}",
                                            item.line, item.column))
    units = [_unit(name, rewritten[name]) for name in order]
    aliases = "".join(f"\nconst {name} = {local};" for name, local in script.exports.items()
                      if name in entry_points and local != name)
    return Linked((*units, Unit(None, script.text + aliases)), script)


def module_unit(name: str, source: str) -> Unit:
    """The unit that evaluates the module `source` under `name` (for a module without imports of its own)."""
    return _unit(name, rewrite(source))


def _unit(name: str, module: Rewritten) -> Unit:
    return Unit(name, _module_text(name, module), MODULE_FILE.format(name))


def _missing_export(module: Rewritten, item: Import) -> str | None:
    for name in item.names:
        if name not in module.exports and not module.star_exports:
            return f"The module has no export named '{name}'."
    return None


def _module_text(name: str, module: Rewritten) -> str:
    """The unit that evaluates a module once and registers its exports under its name."""
    key = json.dumps(name)
    exports = ", ".join(f"{json.dumps(exported)}: {local}" for exported, local in module.exports.items())
    stars = "".join(f"...{REGISTRY}[{json.dumps(star)}], " for star in module.star_exports)
    return (f"var {REGISTRY} = {REGISTRY} || {{__proto__: null}}; {REGISTRY}[{key}] = (function () {{ "
            f"{module.text}\nreturn Object.freeze({{__proto__: null, {stars}{exports}}});\n}})();")


@functools.lru_cache(maxsize=256)
def rewrite(source: str) -> Rewritten:
    """Blank or replace the top-level import/export statements of `source` (see the module docstring).

    Cached: a library or package imported by many scripts is parsed once per process (never mutate the result).
    """
    if not may_be_module(source):
        return Rewritten(source)
    data = source.encode("utf-8", "surrogatepass")
    tree = Parser(javascript_language()).parse(data)
    result = Rewritten("")
    edits: list[tuple[int, int, bytes]] = []
    for node in tree.root_node.children:
        if node.type == "import_statement":
            edits.append(_import(node, data, result))
        elif node.type == "export_statement":
            edits.append(_export(node, data, result))
    out, last = [], 0
    for start, end, text in edits:
        out += [data[last:start], text]
        last = end
    out.append(data[last:])
    result.text = b"".join(out).decode("utf-8", "surrogatepass")
    return result


def _text(node: Node, data: bytes) -> str:
    return data[node.start_byte:node.end_byte].decode("utf-8", "surrogatepass")


def _name(node: Node, data: bytes) -> str:
    """An identifier, or a string used as a module export name (`"a-b" as x`)."""
    text = _text(node, data)
    return json.loads(text) if node.type == "string" and text.startswith('"') else (
        text[1:-1] if node.type == "string" else text)


def _replace(node: Node, data: bytes, text: str, result: Rewritten) -> tuple[int, int, bytes]:
    """Replace `node` keeping its line breaks; record the column shift of what follows on its last line."""
    original = data[node.start_byte:node.end_byte]
    newlines = original.count(b"\n")
    encoded = text.encode()
    if newlines == 0 and len(encoded) <= len(original):
        return node.start_byte, node.end_byte, encoded.ljust(len(original))
    new_end_column = (node.start_point.column if newlines == 0 else 0) + len(encoded)
    if newlines == 0:
        result.shifts.append((node.end_point.row + 1, new_end_column + 1,
                              new_end_column - node.end_point.column))
        return node.start_byte, node.end_byte, encoded
    # A statement over several lines: its text on its first line, the line breaks kept.
    result.shifts.append((node.end_point.row + 1, 1, -node.end_point.column))
    return node.start_byte, node.end_byte, encoded + b"\n" * newlines


def _import(node: Node, data: bytes, result: Rewritten) -> tuple[int, int, bytes]:
    source = node.child_by_field_name("source")
    specifier = _name(source, data)
    module = f"{REGISTRY}[{json.dumps(specifier)}]"
    bindings, names = [], []
    clause = next((child for child in node.children if child.type == "import_clause"), None)
    for child in clause.children if clause is not None else ():
        if child.type == "identifier":
            bindings.append(f"{_text(child, data)} = {module}.default")
            names.append("default")
        elif child.type == "namespace_import":
            local = next(c for c in child.children if c.type == "identifier")
            bindings.append(f"{_text(local, data)} = {module}")
        elif child.type == "named_imports":
            pairs = []
            for spec in (c for c in child.children if c.type == "import_specifier"):
                imported = _name(spec.child_by_field_name("name"), data)
                alias = spec.child_by_field_name("alias") or spec.child_by_field_name("name")
                pairs.append(f"{json.dumps(imported)}: {_text(alias, data)}")
                names.append(imported)
            if pairs:
                bindings.append(f"{{{', '.join(pairs)}}} = {module}")
    result.imports.append(Import(specifier, node.start_point.row + 1, node.start_point.column + 1, tuple(names)))
    text = f"const {', '.join(bindings)};" if bindings else ";"
    return _replace(node, data, text, result)


def _declared_names(node: Node, data: bytes) -> list[str]:
    """The names a declaration binds (destructuring patterns included)."""
    if node.type in ("lexical_declaration", "variable_declaration"):
        names: list[str] = []
        for declarator in (c for c in node.children if c.type == "variable_declarator"):
            names += _pattern_names(declarator.child_by_field_name("name"), data)
        return names
    name = node.child_by_field_name("name")
    return [_text(name, data)] if name is not None else []


def _pattern_names(node: Node, data: bytes) -> list[str]:
    if node.type in ("identifier", "shorthand_property_identifier_pattern"):
        return [_text(node, data)]
    if node.type == "pair_pattern":
        return _pattern_names(node.child_by_field_name("value"), data)
    if node.type == "assignment_pattern":
        return _pattern_names(node.child_by_field_name("left"), data)
    names = []
    for child in node.named_children:
        names += _pattern_names(child, data)
    return names


def _export(node: Node, data: bytes, result: Rewritten) -> tuple[int, int, bytes]:
    declaration = node.child_by_field_name("declaration")
    value = node.child_by_field_name("value")
    source = node.child_by_field_name("source")
    default = next((c for c in node.children if c.type == "default"), None)
    keyword_end = (default or node.children[0]).end_byte  # `export` or `export default`
    if declaration is not None and declaration.type in _DECLARATIONS:
        names = _declared_names(declaration, data)
        if default is not None:
            result.exports["default"] = names[0]
        else:
            result.exports.update((name, name) for name in names)
        return node.start_byte, keyword_end, b" " * (keyword_end - node.start_byte)
    if default is not None and value is not None:
        result.exports["default"] = DEFAULT_LOCAL
        return node.start_byte, keyword_end, f"const {DEFAULT_LOCAL} =".ljust(keyword_end - node.start_byte).encode()
    specifier = _name(source, data) if source is not None else None
    module = f"{REGISTRY}[{json.dumps(specifier)}]" if specifier is not None else None
    read: list[str] = []
    star = next((c for c in node.children if c.type in ("*", "namespace_export")), None)
    if star is not None and star.type == "*":
        result.star_exports.append(specifier)
    elif star is not None:
        alias = next(c for c in star.children if c.type in ("identifier", "string"))
        result.exports[_name(alias, data)] = module
    clause = next((c for c in node.children if c.type == "export_clause"), None)
    for spec in (c for c in clause.children if c.type == "export_specifier") if clause is not None else ():
        local = _name(spec.child_by_field_name("name"), data)
        alias = spec.child_by_field_name("alias")
        exported = _name(alias, data) if alias is not None else local
        if module is not None:
            read.append(local)
            result.exports[exported] = f"{module}[{json.dumps(local)}]"
        else:
            result.exports[exported] = local
    if specifier is not None:
        result.imports.append(Import(specifier, node.start_point.row + 1, node.start_point.column + 1, tuple(read)))
    original = data[node.start_byte:node.end_byte]
    return node.start_byte, node.end_byte, bytes(b if b == 0x0A else 0x20 for b in original)
