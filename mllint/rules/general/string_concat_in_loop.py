"""ML903 string-concat-in-loop."""

from __future__ import annotations

import libcst as cst

from mllint.rule import Rule
from mllint.semantics import kinds as K
from mllint.semantics.scopes import Binding


class StringConcatInLoop(Rule):
    """
    ## What it does
    Flags `s += <expr>` and `s = s + <expr>` inside a `for`/`while` body when every other
    binding of `s` in the scope is a string (a str literal, an f-string, `str(...)`, a
    parameter annotated `str`).

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
        self.report(
            node,
            f"'{name} += …' in a loop may copy the string every iteration (quadratic on PyPy "
            f'or when {name} has other references); collect parts in a list and "".join(parts)',
        )


def _is_self_add(value: cst.BaseExpression, name: str) -> bool:
    """``name + a + b`` (the leftmost operand of a chain of ``+``)."""
    if not (isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Add)):
        return False
    left = value.left
    while isinstance(left, cst.BinaryOperation) and isinstance(left.operator, cst.Add):
        left = left.left
    return isinstance(left, cst.Name) and left.value == name


def _is_accumulation(b: Binding, name: str) -> bool:
    if b.kind == "augassign":
        return isinstance(b.node, cst.AugAssign) and isinstance(b.node.operator, cst.AddAssign)
    return b.kind == "assign" and b.value is not None and _is_self_add(b.value, name)
