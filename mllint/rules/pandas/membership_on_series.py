"""ML211 membership-test-on-series."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.pandas.chained_assignment import _imports_pandas, _maybe_series
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.pandas_facts import is_atom, render, selection_of


class MembershipTestOnSeries(Rule):
    """
    ## What it does
    Flags `value in s` / `value not in s` where `s` is a pandas Series: a name known to hold
    a Series, or a column `df["col"]` / `df.col` of a known DataFrame.

    ## Why is this bad?
    `Series.__contains__` looks in the index, not in the values: with
    `ser = pd.Series(["cat", "dog"])`, `"cat" in ser` is False and `0 in ser` is True.
    Membership on a DataFrame (`"col" in df`, which tests the columns), on `s.index`,
    `s.values`, `s.to_numpy()`, `s.unique()`, `set(s)` or `s.tolist()` is not reported.

    ## Example
    ```python
    if "spam" in df["label"]:
        ...
    ```

    ## Use instead
    ```python
    if "spam" in df["label"].to_numpy():
        ...
    # or
    if df["label"].eq("spam").any():
        ...
    ```

    ## Fix safety
    Unsafe: `x in s` becomes `x in s.to_numpy()`, which compares with NumPy's element-wise
    `==` instead of a hash lookup; unhashable values and NaN behave differently.
    """

    code = "ML211"
    name = "membership-test-on-series"
    summary = "`value in series` tests the index labels, not the values"
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = (" in ",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # pandas imported, and `x in s` / `x not in s` (one operator) where `s` may be a
        # Series: a bound name, a column of a possible frame, or a Series-returning call
        if not _imports_pandas(scan):
            return False
        for cmp in scan.of(ast.Compare):
            if (
                len(cmp.ops) == 1
                and isinstance(cmp.ops[0], (ast.In, ast.NotIn))
                and _maybe_series(scan, cmp.comparators[0])
            ):
                return True
        return False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._gate = self.ctx.imports("pandas")

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if not self._gate or len(node.comparisons) != 1:
            return
        comp = node.comparisons[0]
        if not isinstance(comp.operator, (cst.In, cst.NotIn)):
            return
        series = comp.comparator
        if not self._is_series(series):
            return
        s = self.ctx.snippet(series)
        x = self.ctx.snippet(node.left)
        inner = series.with_changes(lpar=(), rpar=()) if is_atom(series) else series
        if not is_atom(series):
            inner = series.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        new_series = cst.Call(func=cst.Attribute(value=inner, attr=cst.Name("to_numpy")))
        if series.lpar:
            new_series = new_series.with_changes(lpar=series.lpar, rpar=series.rpar)
        fix = Fix(FixSafety.UNSAFE, [(series, render(self.ctx, new_series))])
        self.report(
            node,
            f"'in' on a Series checks its index labels, not its values; use {x} in "
            f"{s}.to_numpy() (or {s}.isin([...]).any())",
            fix,
        )

    def _is_series(self, expr: cst.BaseExpression) -> bool:
        if self.ctx.kind(expr) == K.SERIES:
            return True
        sel = selection_of(self.ctx, expr, pattern=False)
        return sel is not None and sel.form == "column" and sel.column is not None
