"""What a script's source names, found with the same JavaScript parser the module linker uses.

`secret_names` lists the secrets a script reads by a literal name — `ctx.secrets.get('NAME')` (on
any object, so `context.secrets.get` counts too) and `getCredential('NAME')` — so an admin sees
which scripts depend on a secret before changing or deleting it. A name computed at run time
(`ctx.secrets.get(key)`) cannot be known from the text and is not listed.
"""

import functools

from tree_sitter import Node, Parser

from runtime.modules import javascript_language


@functools.lru_cache(maxsize=1024)
def secret_names(source: str) -> frozenset[str]:
    """The literal secret names `source` reads (cached: the admin page asks for every script at once)."""
    if "secrets" not in source and "getCredential" not in source:
        return frozenset()
    data = source.encode("utf-8", "surrogatepass")
    found: set[str] = set()
    pending = [Parser(javascript_language()).parse(data).root_node]
    while pending:
        node = pending.pop()
        if node.type == "call_expression" and _reads_secret(node.child_by_field_name("function"), data):
            name = _first_literal(node.child_by_field_name("arguments"), data)
            if name:
                found.add(name)
        pending.extend(node.children)
    return frozenset(found)


def _reads_secret(callee: Node | None, data: bytes) -> bool:
    """`getCredential` or `<anything>.secrets.get`."""
    if callee is None:
        return False
    if callee.type == "identifier":
        return _text(callee, data) == "getCredential"
    if callee.type != "member_expression":
        return False
    owner, method = callee.child_by_field_name("object"), callee.child_by_field_name("property")
    return (method is not None and _text(method, data) == "get" and owner is not None
            and owner.type == "member_expression"
            and _text(owner.child_by_field_name("property"), data) == "secrets")


def _first_literal(arguments: Node | None, data: bytes) -> str | None:
    """The first argument when it is a plain string literal ('x', "x" or `x` without substitutions)."""
    if arguments is None or arguments.named_child_count == 0:
        return None
    first = arguments.named_children[0]
    if first.type not in ("string", "template_string"):
        return None
    parts = first.named_children
    if len(parts) != 1 or parts[0].type != "string_fragment":
        return None
    return _text(parts[0], data)


def _text(node: Node | None, data: bytes) -> str:
    return "" if node is None else data[node.start_byte:node.end_byte].decode("utf-8", "surrogatepass")
