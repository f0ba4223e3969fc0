"""ML209 groupby-aggregate-assigned-as-column."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.pandas.chained_assignment import _ast_groupby, _imports_pandas, _is_full_slice
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import cst_equal, is_string_like, string_value
from mllint.semantics.pandas_facts import (
    GROUP_REDUCTIONS,
    groupby_of,
    keyword_arg,
    method_call,
    render,
    single_index,
)


class GroupbyAggregateAssignedAsColumn(Rule):
    """
    ## What it does
    Flags assigning a per-group aggregate as a column of the frame it was computed from:
    `df[col] = df.groupby(k)[c].<r>()`, `df[col] = df.groupby(k).<r>()[c]`,
    `df[col] = df.groupby(k)[c].agg("<r>")` (also `df.loc[:, col] = ...` and
    `df.groupby(k).size()`), for the reductions `mean`, `sum`, `min`, `max`, `median`, `std`,
    `var`, `count`, `nunique`, `first`, `last`, `prod`, `sem` and `size`. Group-bys with
    `as_index=False`, `level=` or on `df.index` are not reported.

    ## Why is this bad?
    The aggregate's index is the group keys; `df[col] = series` aligns on the index. With
    string keys every row gets NaN; with integer keys that happen to be valid row labels,
    rows silently receive the statistic of another group (keys `[1, 0, 1]` and values
    `[1, 5, 3]` give `[5.0, 2.0, nan]` instead of the per-row means `[2.0, 5.0, 2.0]`).
    `transform` broadcasts the statistic back to each row. (A single-key aggregate has a
    plain `Index` named after the key, so `merge(on=key)` would also work; the bug is the
    column assignment.)

    ## Example
    ```python
    df["mean_auc"] = df.groupby("model")["auc"].mean()
    ```

    ## Use instead
    ```python
    df["mean_auc"] = df.groupby("model")["auc"].transform("mean")
    ```

    ## Fix safety
    Unsafe: `.<r>(...)` becomes `.transform("<r>", ...)`, `.agg("<r>")` becomes
    `.transform("<r>")` and `.<r>()[c]` becomes `[c].transform("<r>")`. The column receives
    different values (the per-row statistic instead of NaN or misaligned values).
    """

    code = "ML209"
    name = "groupby-aggregate-assigned-as-column"
    summary = (
        "A per-group aggregate (indexed by group key) is assigned as a column of the "
        "row-level frame"
    )
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("groupby",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # pandas imported, and `D[...] = D.groupby(...)[...].<m>(...)` or
        # `D[...] = D.groupby(...).<m>(...)[...]` (the same D; `D.loc[:, c]` targets too)
        if not _imports_pandas(scan):
            return False
        for node in scan.of(ast.Assign):
            gb = _aggregate_groupby(node.value)
            if gb is None:
                continue
            frame = _canon(gb.func.value)  # type: ignore[attr-defined]
            for target in node.targets:
                if not isinstance(target, ast.Subscript):
                    continue
                value = target.value
                if isinstance(value, ast.Attribute) and value.attr == "loc":
                    value = value.value
                text = _canon(value)
                if text == frame or text is None or frame is None:
                    return True
        return False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._gate = self.ctx.imports("pandas")

    def visit_Assign(self, node: cst.Assign) -> None:
        if not self._gate:
            return
        for target in node.targets:
            frame = self._column_target(target.target)
            if frame is None:
                continue
            found = self._aggregate(node.value, frame)
            if found is None:
                continue
            reduction, new = found
            fix = (
                Fix(FixSafety.UNSAFE, [(node.value, render(self.ctx, new))])
                if new is not None
                else None
            )
            self.report(
                node,
                f"'{self.ctx.snippet(node.value)}' is indexed by the group key, not by the rows "
                f"of '{self.ctx.snippet(frame)}'; assigning it as a column aligns on the index "
                "(NaN, or wrong values when keys look like row labels) — use "
                f'.transform("{reduction}")',
                fix,
            )
            return

    @staticmethod
    def _column_target(target: cst.BaseExpression) -> cst.BaseExpression | None:
        """D of ``D[<key>]`` / ``D.loc[:, <key>]``."""
        if not isinstance(target, cst.Subscript):
            return None
        value = target.value
        if isinstance(value, cst.Attribute) and value.attr.value == "loc":
            if len(target.slice) == 2 and _is_full_slice(target.slice[0].slice):
                return value.value
            return None
        if isinstance(value, cst.Attribute) and value.attr.value in ("at", "iat", "iloc"):
            return None
        return value if single_index(target) is not None else None

    def _grouped_frame(self, gb: cst.Call, frame: cst.BaseExpression) -> bool:
        """``gb`` is ``<frame>.groupby(...)`` grouping rows by values, with the keys as index."""
        assert isinstance(gb.func, cst.Attribute)
        if not cst_equal(gb.func.value, frame):
            return False
        as_index = keyword_arg(gb, "as_index")
        if as_index is not None and not (
            isinstance(as_index.value, cst.Name) and as_index.value.value == "True"
        ):
            return False
        if keyword_arg(gb, "level") is not None or any(a.star for a in gb.args):
            return False
        by = gb.args[0] if gb.args and gb.args[0].keyword is None else keyword_arg(gb, "by")
        if by is None:
            return False
        v = by.value
        return not (
            isinstance(v, cst.Attribute) and v.attr.value == "index" and cst_equal(v.value, frame)
        )

    def _aggregate(
        self, value: cst.BaseExpression, frame: cst.BaseExpression
    ) -> tuple[str, cst.BaseExpression | None] | None:
        """(reduction, replacement) when ``value`` is a per-group aggregate of ``frame``."""
        mc = method_call(value)
        if mc is not None:
            assert isinstance(value, cst.Call)
            recv, method = mc
            gb = groupby_of(recv)
            if gb is None or not self._grouped_frame(gb[0], frame):
                return None
            selected = gb[1] is not None
            assert isinstance(value.func, cst.Attribute)
            if method in ("agg", "aggregate"):
                if len(value.args) != 1 or value.args[0].keyword is not None:
                    return None
                r = string_value(value.args[0].value)
                if r not in GROUP_REDUCTIONS or not selected:
                    return None
                new = value.with_changes(func=value.func.with_changes(attr=cst.Name("transform")))
                return r, new
            if method not in GROUP_REDUCTIONS or (not selected and method != "size"):
                return None
            if any(a.star for a in value.args):
                return method, None
            args = [cst.Arg(cst.SimpleString(f'"{method}"'))]
            args.extend(value.args)
            fixed_args = [
                a.with_changes(comma=cst.MaybeSentinel.DEFAULT) if i == len(args) - 1 else
                a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                for i, a in enumerate(args)
            ]  # fmt: skip
            new = value.with_changes(
                func=value.func.with_changes(attr=cst.Name("transform")), args=fixed_args
            )
            return method, new
        if isinstance(value, cst.Subscript):
            key = single_index(value)
            inner = method_call(value.value)
            if key is None or inner is None or not is_string_like(key):
                return None
            call = value.value
            assert isinstance(call, cst.Call)
            recv, method = inner
            gb = groupby_of(recv)
            if gb is None or gb[1] is not None or not self._grouped_frame(gb[0], frame):
                return None
            if method not in GROUP_REDUCTIONS or method == "size" or call.args:
                return None
            new_recv = cst.Subscript(value=recv, slice=value.slice)
            new_value = cst.Call(
                func=cst.Attribute(value=new_recv, attr=cst.Name("transform")),
                args=[cst.Arg(cst.SimpleString(f'"{method}"'))],
                lpar=value.lpar,
                rpar=value.rpar,
            )
            return method, new_value
        return None


def _aggregate_groupby(value: ast.expr) -> ast.Call | None:
    """The ``groupby`` call of ``<gb>.<m>(...)`` or ``<gb>.<m>(...)[...]``."""
    if isinstance(value, ast.Subscript):
        value = value.value
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)):
        return None
    gb = _ast_groupby(value.func.value)
    return gb[0] if gb is not None else None


def _canon(expr: ast.expr) -> str | None:
    """The expression's code without whitespace: equal for ``cst_equal`` expressions (which
    also drops whitespace, inside strings too), and for more. None when it cannot be
    rendered (compare as equal to anything)."""
    try:
        return "".join(ast.unparse(expr).split())
    except (RecursionError, ValueError):
        return None
