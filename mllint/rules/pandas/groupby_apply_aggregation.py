"""ML207 groupby-apply-simple-aggregation."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.pandas.chained_assignment import _ast_groupby, _imports_pandas
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import is_string_like
from mllint.semantics.pandas_facts import (
    GROUP_REDUCTIONS,
    OTHER_FRAME_LIBRARIES,
    groupby_of,
    render,
    single_index,
)

#: reductions callable without arguments on a group Series/DataFrame (``x.first()`` and
#: ``x.last()`` need an offset, ``x.size`` is a property: such lambdas raise)
_CALLABLE_REDUCTIONS = GROUP_REDUCTIONS - {"first", "last", "size"}


class GroupbyApplySimpleAggregation(Rule):
    """
    ## What it does
    Flags `groupby(...).apply(lambda g: g["col"].<r>())`, `groupby(...).apply(lambda g:
    g.<r>())`, `groupby(...).apply(lambda g: len(g))`, and `groupby(...).transform(lambda
    x: x.<r>())` / `groupby(...).agg(lambda x: x.<r>())` for the reductions `mean`, `sum`,
    `min`, `max`, `median`, `std`, `var`, `count`, `nunique`, `prod` and `sem`, which exist
    as built-in group aggregations.

    ## Why is this bad?
    The built-in aggregations run in optimised (Cython) group loops; the lambda calls
    Python once per group. `df.groupby(k).apply(lambda g: g["auc"].mean())` equals
    `df.groupby(k)["auc"].mean()` in values, but its result has `name=None`, and pandas < 3
    also passes the grouping columns to `apply`.

    ## Example
    ```python
    mean_auc = df.groupby("model").apply(lambda g: g["auc"].mean())
    df["z"] = df.groupby("model")["auc"].transform(lambda x: x.mean())
    ```

    ## Use instead
    ```python
    mean_auc = df.groupby("model")["auc"].mean()
    df["z"] = df.groupby("model")["auc"].transform("mean")
    ```

    ## Fix safety
    `transform(lambda x: x.<r>())` → `transform("<r>")` and `agg(lambda x: x.<r>())` →
    `agg("<r>")` are safe on a single selected column (`groupby(k)["c"]`: the same reduction
    runs on the same groups) and unsafe on whole-frame groups, where pandas may call the
    lambda on each group's DataFrame.
    `apply(lambda g: g["c"].<r>())` → `["c"].<r>()`, `apply(lambda g: g.<r>())` → `.<r>()`
    and `apply(lambda g: len(g))` → `.size()` are unsafe: the result's `name` changes from
    None to the column name, and on pandas < 3 `g.<r>()` also covered the grouping columns.
    """

    code = "ML207"
    name = "groupby-apply-simple-aggregation"
    summary = (
        "`groupby(...).apply(lambda g: g[col].mean())` (or `transform/agg` with such a lambda) "
        "instead of the built-in aggregation"
    )
    tier = 2
    fix_safety = (FixSafety.SAFE, FixSafety.UNSAFE)
    requires_text = ("groupby",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # pandas imported, and `<x>.groupby(...)[...].apply|transform|agg|aggregate(lambda p:
        # <call>)` with the lambda as the only argument
        if not _imports_pandas(scan):
            return False
        for call in scan.calls("apply", "transform", "agg", "aggregate"):
            func = call.func
            if (
                isinstance(func, ast.Attribute)
                and len(call.args) == 1
                and not call.keywords
                and isinstance(call.args[0], ast.Lambda)
                and isinstance(call.args[0].body, ast.Call)
                and _ast_groupby(func.value) is not None
            ):
                return True
        return False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._gate = self.ctx.imports("pandas")
        self._other_frames = any(self.ctx.imports(lib) for lib in OTHER_FRAME_LIBRARIES)

    def visit_Call(self, node: cst.Call) -> None:
        if not self._gate or not isinstance(node.func, cst.Attribute):
            return
        method = node.func.attr.value
        if method not in ("apply", "transform", "agg", "aggregate") or len(node.args) != 1:
            return
        arg = node.args[0]
        lam = arg.value
        if arg.keyword is not None or arg.star or not isinstance(lam, cst.Lambda):
            return
        grouped = node.func.value
        gb = groupby_of(grouped)
        if gb is None:
            return
        frame = gb[0].func
        assert isinstance(frame, cst.Attribute)
        if self._other_frames and self.ctx.kind(frame.value) != K.DATAFRAME:
            return
        p = lam.params
        if len(p.params) != 1 or p.params[0].default is not None or p.kwonly_params:
            return
        if not isinstance(p.star_arg, cst.MaybeSentinel) or p.star_kwarg is not None:
            return
        param = p.params[0].name.value
        body = lam.body
        g = self.ctx.code(grouped).strip()
        if method == "apply":
            rewrite = self._apply_rewrite(body, param, g, gb[1])
            safety = FixSafety.UNSAFE
        else:
            r = self._method_of(body, param)
            rewrite = f'{g}.{method}("{r}")' if r is not None else None
            # a single column's groups: the lambda receives exactly what the string
            # aggregation reduces; for whole-frame groups pandas may take a fast path that
            # calls the lambda on the group DataFrame
            series_groups = gb[1] is not None and not isinstance(single_index(gb[1]), cst.List)
            safety = FixSafety.SAFE if series_groups else FixSafety.UNSAFE
        if rewrite is None:
            return
        fix = None
        try:
            new = cst.parse_expression(rewrite)
        except cst.ParserSyntaxError:  # pragma: no cover - built from valid code
            new = None
        if new is not None:
            if node.lpar:
                new = new.with_changes(lpar=node.lpar, rpar=node.rpar)
            fix = Fix(safety, [(node, render(self.ctx, new))])
        self.report(
            node,
            f"groupby(...).{method}(lambda ...) runs Python per group; use "
            f"{self.ctx.snippet(cst.parse_expression(rewrite), 80)}",
            fix,
        )

    @staticmethod
    def _method_of(body: cst.BaseExpression, param: str) -> str | None:
        """``r`` when body is ``<param>.<r>()``."""
        if (
            isinstance(body, cst.Call)
            and not body.args
            and isinstance(body.func, cst.Attribute)
            and isinstance(body.func.value, cst.Name)
            and body.func.value.value == param
            and body.func.attr.value in _CALLABLE_REDUCTIONS
        ):
            return body.func.attr.value
        return None

    def _apply_rewrite(
        self, body: cst.BaseExpression, param: str, g: str, selected: cst.Subscript | None
    ) -> str | None:
        if (
            isinstance(body, cst.Call)
            and isinstance(body.func, cst.Name)
            and body.func.value == "len"
            and len(body.args) == 1
            and isinstance(body.args[0].value, cst.Name)
            and body.args[0].value.value == param
            and not body.args[0].keyword
            and not body.args[0].star
            and self.ctx.qualname(body.func) == "builtins.len"
        ):
            return f"{g}.size()"
        r = self._method_of(body, param)
        if r is not None:
            return f"{g}.{r}()"
        if (
            isinstance(body, cst.Call)
            and not body.args
            and isinstance(body.func, cst.Attribute)
            and body.func.attr.value in _CALLABLE_REDUCTIONS
            and isinstance(body.func.value, cst.Subscript)
        ):
            sub = body.func.value
            key = single_index(sub)
            if (
                isinstance(sub.value, cst.Name)
                and sub.value.value == param
                and key is not None
                and is_string_like(key)
                and not isinstance(key, cst.FormattedString)
            ):
                if selected is not None and not isinstance(single_index(selected), cst.List):
                    return None  # `gb["c"]` passes Series: `g["x"]` is a label lookup
                return f"{g}[{self.ctx.code(key).strip()}].{body.func.attr.value}()"
        return None
