"""Every action the code writes to the audit trail is one the audit viewer's filter offers: the filter's choices are
the actions the areas register, and this reads the code for the actions it writes, so the two cannot drift apart."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import pytest

from lims.areas import install

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("lims", "batch_records", "protocols")
#: the functions that write an audit event, with the position of their action argument and its default
WRITERS = {"record": (1, None), "append": (1, None), "_refuse_audited": (2, "access.refused")}
#: the modules whose ``record`` or ``append`` calls are not the audit chain's
CHAIN_NAMES = {"audit_chain", "chain"}


@dataclass(frozen=True)
class Written:
    """An action a call site writes: a name, or a pattern where part of it is computed (an f-string)."""

    where: str
    action: str | None = None
    pattern: str | None = None

    def offered_by(self, known: tuple[str, ...]) -> bool:
        if self.action is not None:
            return self.action in known
        assert self.pattern is not None
        return any(re.fullmatch(self.pattern, action) for action in known)


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            yield ".".join(relative.with_suffix("").parts), ast.parse(path.read_text(), str(relative))


def _writer(call: ast.Call, module: str) -> tuple[int, str | None] | None:
    """The action's position and default when ``call`` writes an audit event."""
    function = call.func
    if (
        isinstance(function, ast.Attribute)
        and isinstance(function.value, ast.Name)
        and function.attr in ("record", "append")
        and function.value.id in CHAIN_NAMES
    ):
        return WRITERS[function.attr]
    if isinstance(function, ast.Name) and (
        function.id == "_refuse_audited" or (module == "lims.audit.chain" and function.id == "append")
    ):
        return WRITERS[function.id]
    return None


def _assigned_in(scope: ast.AST, name: str) -> list[ast.expr]:
    return [
        node.value
        for node in ast.walk(scope)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    ]


def _resolve(expression: ast.expr, module: str, scope: ast.AST | None, where: str) -> list[Written]:
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        return [Written(where, action=expression.value)]
    if isinstance(expression, ast.IfExp):
        return [*_resolve(expression.body, module, scope, where), *_resolve(expression.orelse, module, scope, where)]
    if isinstance(expression, ast.JoinedStr):
        parts = [re.escape(part.value) if isinstance(part, ast.Constant) else r"[a-z_]+" for part in expression.values]
        return [Written(where, pattern="".join(parts))]
    if isinstance(expression, ast.Name):
        assigned = _assigned_in(scope, expression.id) if scope is not None else []
        if assigned:
            return [written for value in assigned for written in _resolve(value, module, None, where)]
        if isinstance(scope, ast.FunctionDef) and expression.id in {arg.arg for arg in scope.args.args}:
            # A parameter passed on by the function (``_refuse_audited``'s): its callers are read as writers.
            return []
    if isinstance(expression, ast.Name | ast.Attribute):
        # A constant of a module (``trail.APPLIED``, ``ACKNOWLEDGED``): read as the module sees it.
        value = eval(compile(ast.Expression(expression), where, "eval"), vars(import_module(module)))
        if isinstance(value, str):
            return [Written(where, action=value)]
    pytest.fail(f"{where}: the audit action {ast.unparse(expression)!r} is not one this test can read")


def _calls_by_scope(node: ast.AST, scope: ast.AST) -> Iterator[tuple[ast.Call, ast.AST]]:
    """Every call below ``node`` with the innermost function around it (or the module)."""
    for child in ast.iter_child_nodes(node):
        inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else scope
        if isinstance(child, ast.Call):
            yield child, scope
        yield from _calls_by_scope(child, inner)


def written_actions() -> list[Written]:
    found: list[Written] = []
    for module, tree in _modules():
        for call, scope in _calls_by_scope(tree, tree):
            if (writer := _writer(call, module)) is None:
                continue
            position, default = writer
            where = f"{module}:{call.lineno}"
            keyword = next((k.value for k in call.keywords if k.arg == "action"), None)
            action = call.args[position] if len(call.args) > position else keyword
            if action is None:
                if default is None:
                    pytest.fail(f"{where}: an audit event written without an action")
                found.append(Written(where, action=default))
            else:
                found.extend(_resolve(action, module, scope, where))
    return found


def test_the_code_is_read_for_the_actions_it_writes():
    # The reading must find what is known to be written, or the next test could pass by reading nothing.
    read = {written.action for written in written_actions()} | {written.pattern for written in written_actions()}
    assert {"create", "update", "signature.applied", "logout", "session.ended", "access.refused"} <= read
    assert {"api.token_refused", "compliance.finding_acknowledged", r"login\.[a-z_]+"} <= read


def test_every_action_the_code_writes_is_offered_by_the_audit_viewers_filter():
    known = install().known_audit_actions
    missing = [f"{w.where}: {w.action or w.pattern}" for w in written_actions() if not w.offered_by(known)]
    assert missing == [], "register these with registry.audit_actions in the area's setup.py"
