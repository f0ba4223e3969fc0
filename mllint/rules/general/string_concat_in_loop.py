"""ML903 string-concat-in-loop."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, assign_pairs
from mllint.rule import Rule
from mllint.rules.general.exhausted_iterator_reused import in_loop_by_position
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.scopes import Binding


class StringConcatInLoop(Rule):
    """
    ## What it does
    Flags `s += <expr>` and `s = s + <expr>` inside a `for`/`while` body when every other
    binding of `s` in the scope is a string (a str literal, an f-string, `str(...)`, a
    parameter annotated `str`) or a bytes literal. The message names the right join:
    `b"".join(parts)` for bytes (`"".join` would raise `TypeError`).

    ## Why is this bad?
    Strings are immutable, so `+=` can copy the accumulated text on every iteration. The cost
    is implementation-dependent: CPython usually resizes the string in place when `s` has a
    single reference, so the loop is quadratic only on other implementations (PyPy) or when
    the string has other references. Collecting the parts in a list and joining once is
    linear everywhere.

    ## Example
    ```python
    text = ""
    for token in tokens:
        text += token + " "
    ```

    ## Use instead
    ```python
    text = " ".join(tokens)  # note: no trailing space, unlike the loop
    ```

    ## Fix safety
    There is no fix: the joined result can differ (separators, trailing text).
    """

    code = "ML903"
    name = "string-concat-in-loop"
    summary = "Building a string with `+=` inside a loop"
    tier = 2
    default_enabled = False
    requires_text = ("+",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # `s += x` / `s = s + x` inside a loop body, where s also has a binding that may
        # be a str (a str or bytes literal, an f-string, a str-returning call, a name or
        # attribute that may be one, an annotated assignment or parameter)
        acc: dict[str, list[ast.stmt]] = {}
        for aug in scan.of(ast.AugAssign):
            if isinstance(aug.op, ast.Add) and isinstance(aug.target, ast.Name):
                acc.setdefault(aug.target.id, []).append(aug)
        for a in scan.of(ast.Assign):
            if len(a.targets) == 1 and isinstance(a.targets[0], ast.Name):
                name = a.targets[0].id
                if _ast_self_add(a.value, name):
                    acc.setdefault(name, []).append(a)
        if not acc:
            return False
        strs = _ast_str_names(scan, set(acc))
        return any(in_loop_by_position(scan, n) for name in strs for n in acc[name])

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.operator, cst.AddAssign) and isinstance(node.target, cst.Name):
            self._check(node, node.target.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
            return
        name = node.targets[0].target.value
        if _is_self_add(node.value, name):
            self._check(node, name)

    def _check(self, node: cst.CSTNode, name: str) -> None:
        loops = self.ctx.enclosing_loops(innermost_only=True)
        if not loops or not isinstance(loops[0], (cst.For, cst.While)):
            return
        bindings = self.ctx.bindings(name)
        initial = [b for b in bindings if not _is_accumulation(b, name)]
        if not initial or not all(self.ctx.kinds.of_binding(b) == K.STR for b in initial):
            return
        # kinds' STR covers bytes too: the message and the join must match the type
        literals = {_literal_type(b.value) for b in initial if b.value is not None}
        if literals == {"bytes"}:
            what, join = "bytes object", 'b"".join(parts)'
        elif "str" in literals:
            what, join = "string", '"".join(parts)'
        else:  # e.g. only `f.read()` results: text or bytes
            what, join = "string", '"".join(parts) (b"".join for bytes)'
        self.report(
            node,
            f"'{name} += …' in a loop may copy the {what} every iteration (quadratic on PyPy "
            f"or when {name} has other references); collect parts in a list and {join}",
        )


def _is_self_add(value: cst.BaseExpression, name: str) -> bool:
    """``name + a + b`` (the leftmost operand of a chain of ``+``)."""
    if not (isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Add)):
        return False
    left = value.left
    while isinstance(left, cst.BinaryOperation) and isinstance(left.operator, cst.Add):
        left = left.left
    return isinstance(left, cst.Name) and left.value == name


def _literal_type(value: cst.BaseExpression) -> str | None:
    """ "bytes" for a bytes literal, "str" for a str literal, an f-string or ``str(...)``."""
    if isinstance(value, cst.ConcatenatedString):
        return _literal_type(value.left)
    if isinstance(value, cst.SimpleString):
        return "bytes" if "b" in value.prefix.lower() else "str"
    if isinstance(value, cst.FormattedString):
        return "str"
    if (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Name)
        and value.func.value == "str"
    ):
        return "str"
    return None


def _is_accumulation(b: Binding, name: str) -> bool:
    if b.kind == "augassign":
        return isinstance(b.node, cst.AugAssign) and isinstance(b.node.operator, cst.AddAssign)
    return b.kind == "assign" and b.value is not None and _is_self_add(b.value, name)


# -- the ast pre-scan (ast_gate) ---------------------------------------------------------------
#: callee names kinds.py types as str: builtins.str and the _STR_METHODS
_STR_CALLS = frozenset(
    {"str", "lower", "upper", "strip", "lstrip", "rstrip", "read", "decode", "join"}
)


def _ast_self_add(value: ast.expr, name: str) -> bool:
    if not (isinstance(value, ast.BinOp) and isinstance(value.op, ast.Add)):
        return False
    left = value.left
    while isinstance(left, ast.BinOp) and isinstance(left.op, ast.Add):
        left = left.left
    return isinstance(left, ast.Name) and left.id == name


def _ast_str_names(scan: Scan, wanted: set[str]) -> set[str]:
    """Names of ``wanted`` with a binding whose kind may be str; other names are followed
    through ``a = b`` to a fixed point."""
    calls = scan.import_aliases(_STR_CALLS)
    found: set[str] = set()
    pending: list[tuple[str, str]] = []
    for arg in scan.of(ast.arg):
        if arg.annotation is not None:
            found.add(arg.arg)
    bindings: list[tuple[ast.expr, ast.expr]] = []
    for a in scan.of(ast.Assign):
        for t in a.targets:
            assign_pairs(t, a.value, bindings)  # `s, n = "", 0` binds element-wise
    bindings.extend((n.target, n.value) for n in scan.of(ast.NamedExpr))
    for ann in scan.of(ast.AnnAssign):
        if isinstance(ann.target, ast.Name):
            found.add(ann.target.id)
    for target, value in bindings:
        if not isinstance(target, ast.Name) or target.id in found:
            continue
        if isinstance(value, ast.Name):
            pending.append((target.id, value.id))
        elif isinstance(value, (ast.Attribute, ast.JoinedStr)) or (
            isinstance(value, ast.Constant) and isinstance(value.value, (str, bytes))
        ):
            found.add(target.id)
        elif isinstance(value, ast.Call):
            f = value.func
            callee = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
            if callee in calls:
                found.add(target.id)
    changed = True
    while changed and pending:
        changed = False
        rest: list[tuple[str, str]] = []
        for target_id, ref in pending:
            if ref in found:
                found.add(target_id)
                changed = True
            elif target_id not in found:
                rest.append((target_id, ref))
        pending = rest
    return found & wanted
