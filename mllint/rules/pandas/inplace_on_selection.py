"""ML203 inplace-on-selection."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.pandas.chained_assignment import (
    _imports_pandas,
    _inplace_calls,
    _maybe_selection,
)
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import dotted_name
from mllint.semantics.pandas_facts import (
    INPLACE_METHODS,
    INPLACE_NONE_BEFORE_3,
    inplace_true_arg,
    render,
    selection_of,
    without_arg,
)


class InplaceOnSelection(Rule):
    """
    ## What it does
    Flags an `inplace=True` method (`fillna`, `replace`, `clip`, `dropna`, `sort_values`, …)
    called as a statement on a column or a selection of a DataFrame: `df["c"].<m>(...)`,
    `df.c.<m>(...)`, `df[["a", "b"]].<m>(...)`, `df[mask].<m>(...)`, `df.loc[...].<m>(...)`
    or `df.iloc[...].<m>(...)`. The frame must be known to be a DataFrame or be named like
    one (`df`, `*_df`, `df_*`).

    ## Why is this bad?
    The method runs on the selected object, not on the frame. Under pandas ≥ 3
    (Copy-on-Write) `df["c"].fillna(0, inplace=True)`, `df.c.fillna(...)`,
    `df["c"].clip(..., inplace=True)` and `df[["c"]].fillna(..., inplace=True)` leave `df`
    unchanged (pandas only emits a `ChainedAssignmentError` warning). Under pandas 2.2 the
    single-column forms still update `df`, with a FutureWarning, while the column-list and
    mask forms never do — so the same line behaves differently across versions.

    ## Example
    ```python
    df["bmi"].fillna(df["bmi"].median(), inplace=True)
    ```

    ## Use instead
    ```python
    df["bmi"] = df["bmi"].fillna(df["bmi"].median())
    # or
    df.fillna({"bmi": df["bmi"].median()}, inplace=True)
    ```

    ## Fix safety
    Unsafe, and only for the length-preserving methods (`fillna`, `replace`, `clip`,
    `where`, `mask`, `interpolate`, `ffill`, `bfill`) on a single column selected with a
    string key or an attribute: the statement becomes `df["c"] = df["c"].<m>(...)` without
    `inplace=True`. It turns a no-op (pandas ≥ 3) into the intended write. Length-changing
    methods (`dropna`, `drop_duplicates`, `sort_values`, …) and other selections are
    reported without a fix: assigning their result back would re-align rows.
    """

    code = "ML203"
    name = "inplace-on-selection"
    summary = "An `inplace=True` method called on a column or a selection of a DataFrame"
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("inplace",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # pandas imported, and an expression statement `<selection>.<m>(..., inplace=True)`
        # whose receiver may be a selection of a frame
        calls = _inplace_calls(scan)
        if not calls or not _imports_pandas(scan):
            return False
        statements = {id(stmt.value) for stmt in scan.of(ast.Expr)}
        return any(
            id(c) in statements and _maybe_selection(scan, c.func.value)  # type: ignore[attr-defined]
            for c in calls
        )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._gate = self.ctx.imports("pandas")

    def visit_Expr(self, node: cst.Expr) -> None:
        if not self._gate:
            return
        call = node.value
        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute):
            return
        method = call.func.attr.value
        if method not in INPLACE_METHODS:
            return
        arg = inplace_true_arg(call)
        if arg is None:
            return
        sel = selection_of(self.ctx, call.func.value)
        if sel is None:
            return
        s_text = self.ctx.snippet(call.func.value)
        b_text = self.ctx.snippet(sel.base)
        if sel.form == "column":
            what = "column"
            effect = (
                f"{b_text} is not updated under pandas ≥ 3 (pandas < 3 writes through with a "
                "FutureWarning)"
            )
        elif sel.form in ("columns", "mask"):
            what = "copy"
            effect = f"{b_text} is not updated"
        else:
            what = "selection"
            effect = f"{b_text} is not updated (never under pandas ≥ 3)"
        fix = None
        if method in INPLACE_NONE_BEFORE_3:
            target = self._target(sel.form, call.func.value, sel.column, b_text, s_text)
            advice = f"assign the result: {target} = {target}.{method}(...)"
            if sel.column is not None and self._simple(sel.base):
                fix = self._fix(node, call, arg, sel.base, sel.column)
        else:
            advice = f"use the object returned by {method}(...) without inplace=True"
        self.report(
            call,
            f"{s_text}.{method}(..., inplace=True) modifies a temporary {what}; {effect} — "
            f"{advice}",
            fix,
        )

    @staticmethod
    def _target(
        form: str, selection: cst.BaseExpression, column: str | None, b: str, s: str
    ) -> str:
        if column is not None:
            return f"{b}[{column}]"
        if form == "mask" and isinstance(selection, cst.Subscript):
            return f"{b}.loc[...]"
        return s

    def _simple(self, base: cst.BaseExpression) -> bool:
        return dotted_name(base) is not None

    def _fix(
        self, stmt: cst.Expr, call: cst.Call, arg: cst.Arg, base: cst.BaseExpression, column: str
    ) -> Fix:
        b = self.ctx.code(base).strip()
        target = cst.parse_expression(f"{b}[{column}]")
        assert isinstance(target, cst.Subscript)
        assert isinstance(call.func, cst.Attribute)
        new_call = without_arg(call, arg).with_changes(func=call.func.with_changes(value=target))
        new = cst.Assign(
            targets=[cst.AssignTarget(target=target)], value=new_call, semicolon=stmt.semicolon
        )
        return Fix(FixSafety.UNSAFE, [(stmt, render(self.ctx, new))])
