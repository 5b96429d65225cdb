"""Every audit action the services record has a translated name on the audit page."""

import ast
from pathlib import Path

from portal.web.labels import LABELS

ROOT = Path(__file__).resolve().parents[2]


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def recorded_actions() -> set[str]:
    """The actions passed to audit.record anywhere in portal/: constants, conditional expressions, and
    what a local variable named in the call is assigned in the same function."""
    actions = set()
    for path in (ROOT / "portal").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for function in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            for call in ast.walk(function):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "record" and getattr(call.func.value, "id", None) == "audit"):
                    continue
                action = call.args[1]
                if isinstance(action, ast.Name):
                    for assign in ast.walk(function):
                        if isinstance(assign, ast.Assign) and any(getattr(t, "id", None) == action.id
                                                                  for t in assign.targets):
                            actions |= _strings(assign.value)
                else:
                    actions |= _strings(action)
    return actions


def test_every_recorded_audit_action_has_a_label():
    actions = recorded_actions()
    assert {"script.update", "secret.create", "tenant.act_as_end"} <= actions  # the scan finds all three forms
    assert actions - set(LABELS["audit_action"]) == set()
    assert set(LABELS["audit_action"]) - actions == set(), "labels of actions nothing records"
