"""static/sdk/jsruntime.d.ts declares what the prelude installs: every host API method, every SDK global,
every ctx API and every curated package. The prelude is read with tree-sitter, not by pattern."""

from pathlib import Path

import tree_sitter_javascript
from tree_sitter import Language, Parser

from runtime.packages import PACKAGES

ROOT = Path(__file__).resolve().parents[2]
PRELUDE = (ROOT / "runtime" / "sandbox" / "prelude.js").read_bytes()
TYPES = (ROOT / "static" / "sdk" / "jsruntime.d.ts").read_text()
INTERFACES = {"http": "HttpApi", "db": "DbApi", "cache": "CacheApi", "events": "EventsApi", "secrets": "SecretsApi"}
REMOVED = {"Function", "eval"}  # locked to refuse code generation, not part of the SDK


def _calls(name: str) -> list[list]:
    """The literal arguments (strings, arrays of strings, identifiers) of every call to `name` in the prelude."""
    found, pending = [], [Parser(Language(tree_sitter_javascript.language())).parse(PRELUDE).root_node]
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        function = node.child_by_field_name("function") if node.type == "call_expression" else None
        if function is None or PRELUDE[function.start_byte:function.end_byte].decode() != name:
            continue
        found.append([_literal(arg) for arg in node.child_by_field_name("arguments").named_children])
    return found


def _literal(node):
    if node.type == "string":
        return PRELUDE[node.start_byte + 1:node.end_byte - 1].decode()
    if node.type == "array":
        return [_literal(child) for child in node.named_children]
    return PRELUDE[node.start_byte:node.end_byte].decode()


def _interface(name: str) -> str:
    start = TYPES.index(f"interface {name} {{")
    return TYPES[start:TYPES.index("\n}", start)]


def test_every_host_api_method_is_declared():
    apis = {call[0]: call[1] for call in _calls("__jsr$api")}
    assert set(apis) == set(INTERFACES)
    for api, methods in apis.items():
        body = _interface(INTERFACES[api])
        assert [m for m in methods if f"  {m}(" not in body] == [], api
        assert f"  readonly {api}: {INTERFACES[api]};" in _interface("Context")


def test_every_sdk_global_is_declared():
    names = {call[1] for call in _calls("__jsr$lock") if call[0] == "G"} - REMOVED
    assert names >= {"console", "log", "fetch", "fetchV2", "getCredential", "metadata", "setTimeout"}
    undeclared = [n for n in names if f"declare function {n}(" not in TYPES and f"declare const {n}:" not in TYPES]
    assert undeclared == []


def test_every_curated_package_is_declared():
    assert [p for p in PACKAGES if f'declare module "{p}"' not in TYPES] == []
