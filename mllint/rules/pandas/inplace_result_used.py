"""ML202 inplace-result-used."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.pandas.chained_assignment import _imports_pandas, _inplace_calls
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.pandas_facts import (
    INPLACE_ALWAYS_NONE,
    INPLACE_NONE_BEFORE_3,
    inplace_true_arg,
    pandas_at_least,
    render,
    without_arg,
)

_OPERANDS = (
    cst.BinaryOperation,
    cst.BooleanOperation,
    cst.UnaryOperation,
    cst.Comparison,
    cst.ComparisonTarget,
)
_DISPLAYS = (cst.Element, cst.DictElement, cst.StarredDictElement)


class InplaceResultUsed(Rule):
    """
    ## What it does
    Flags a pandas method called with `inplace=True` whose result is used: assigned,
    returned or yielded, passed to a call, put in a list/tuple/dict, used as an operand,
    chained (`df.dropna(inplace=True).reset_index()`), or collected by a comprehension whose
    value is used (`cleaned = [df.dropna(inplace=True) for df in frames]`; the comprehension
    written as a statement, a loop in disguise, is not reported).

    `dropna`, `drop`, `drop_duplicates`, `rename`, `rename_axis`, `reset_index`, `set_index`,
    `sort_values`, `sort_index`, `query` and `eval` return `None` with `inplace=True` on every
    pandas version. `fillna`, `replace`, `clip`, `where`, `mask`, `interpolate`, `ffill` and
    `bfill` return `None` before pandas 3.0 and the object itself from 3.0; they are reported
    unless the project requires pandas ≥ 3.

    ## Why is this bad?
    With `inplace=True` these methods mutate the object and return `None`, so
    `df = df.dropna(inplace=True)` leaves `df` bound to `None`, `return df.drop(c, inplace=True)`
    returns `None` to the caller, and chaining raises AttributeError. For the methods whose
    return value changed in pandas 3.0 the line is a latent bug for anyone on pandas 2. pandas
    3.1 also starts deprecating the `inplace` keyword (PDEP-8).

    Calling the method as a statement (`df.dropna(inplace=True)`) is the intended use of
    `inplace` and is not reported; neither are functions and constructors such as
    `F.relu(x, inplace=True)` or `nn.ReLU(inplace=True)`.

    ## Example
    ```python
    df = df.dropna(inplace=True)
    ```

    ## Use instead
    ```python
    df = df.dropna()
    ```

    ## Fix safety
    Unsafe: the fix deletes the `inplace=True` argument. Other references to the original
    object no longer see the change (for `return df.drop(..., inplace=True)` the caller's frame
    is no longer mutated).
    """

    code = "ML202"
    name = "inplace-result-used"
    summary = "The result of an `inplace=True` pandas call (None) is assigned, returned or chained"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("inplace",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # pandas imported, and `<x>.<inplace method>(..., inplace=True)` whose value is used
        # (not the whole of an expression statement, awaited or not)
        calls = _inplace_calls(scan)
        if not calls or not _imports_pandas(scan):
            return False
        statements: set[int] = set()
        for stmt in scan.of(ast.Expr):
            value = stmt.value
            while isinstance(value, ast.Await):
                value = value.value
            statements.add(id(value))
        return any(id(c) not in statements for c in calls)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._gate = self.ctx.imports("pandas")
        self._pandas3 = pandas_at_least(self.ctx, 3)

    def visit_Call(self, node: cst.Call) -> None:
        if not self._gate or not isinstance(node.func, cst.Attribute):
            return
        method = node.func.attr.value
        if method in INPLACE_ALWAYS_NONE:
            version_note = ""
        elif method in INPLACE_NONE_BEFORE_3 and not self._pandas3:
            version_note = " on pandas < 3"
        else:
            return
        arg = inplace_true_arg(node)
        if arg is None:
            return
        receiver = node.func.value
        if self.ctx.kind(receiver) in (K.TENSOR, K.MODULE, K.NDARRAY):
            return
        q = self.ctx.qualname(receiver)
        if q is not None and q not in ("pandas.DataFrame", "pandas.Series"):
            return  # a function of an imported module (`torch.clip(...)`), not a method
        effect = self._effect(node)
        if effect is None:
            return
        fix = Fix(FixSafety.UNSAFE, [(node, render(self.ctx, without_arg(node, arg)))])
        self.report(
            node,
            f"{method}(..., inplace=True) returns None{version_note} — {effect}; "
            "drop inplace=True and use the returned object",
            fix,
        )

    def _effect(self, node: cst.Call) -> str | None:
        """How the value is used (None: not used)."""
        return self._effect_at(node, len(self.ctx.stack) - 2)

    def _effect_at(self, node: cst.CSTNode, i: int) -> str | None:
        """How the value of ``node``, whose parent is ``stack[i]``, is used."""
        stack = self.ctx.stack
        # a parenthesised or awaited value is still the same value
        while i >= 0 and isinstance(stack[i], cst.Await):
            node = stack[i]
            i -= 1
        parent = stack[i] if i >= 0 else None
        if parent is None or isinstance(parent, cst.Expr):
            return None
        if (
            isinstance(parent, (cst.ListComp, cst.SetComp, cst.GeneratorExp)) and parent.elt is node
        ) or (isinstance(parent, cst.DictComp) and node in (parent.key, parent.value)):
            # `[df.dropna(inplace=True) for df in frames]` as a statement is a loop written
            # as a comprehension; its value, when used, holds only None
            if self._effect_at(parent, i - 1) is None:
                return None
            return "the comprehension collects None for every item"
        if isinstance(parent, (cst.Assign, cst.AnnAssign, cst.NamedExpr)):
            if isinstance(parent, cst.NamedExpr) and parent.value is not node:
                return None
            return "the assigned name becomes None"
        if isinstance(parent, cst.Return):
            return "the caller receives None"
        if isinstance(parent, (cst.Yield, cst.From)):
            return "the consumer receives None"
        if isinstance(parent, cst.Attribute) and parent.value is node:
            return f"'.{parent.attr.value}' raises AttributeError"
        if isinstance(parent, cst.Subscript) and parent.value is node:
            return "indexing it raises TypeError"
        if isinstance(parent, cst.Arg):
            return "the argument passed is None"
        if isinstance(parent, _DISPLAYS):
            return "the element stored is None"
        if isinstance(parent, _OPERANDS):
            return "the operand is None"
        return None
