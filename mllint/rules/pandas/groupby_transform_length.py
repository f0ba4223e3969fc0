"""ML208 groupby-transform-changes-length."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Rule
from mllint.rules.pandas.chained_assignment import _ast_groupby, _imports_pandas
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import float_literal, int_value
from mllint.semantics.kinds import is_mask_expression
from mllint.semantics.pandas_facts import (
    OTHER_FRAME_LIBRARIES,
    groupby_of,
    keyword_arg,
    method_call,
    single_index,
)
from mllint.semantics.walk import iter_descendants

#: methods whose result has a different length (or order) than the group
_LENGTH_CHANGING = frozenset(
    {"nlargest", "nsmallest", "head", "tail", "dropna", "drop_duplicates", "unique",
     "value_counts", "sample", "query", "describe"}
)  # fmt: skip
#: methods that keep the length of what they are applied to (``x.dropna().cumsum()``)
_LENGTH_KEEPING = frozenset(
    {"cumsum", "cumprod", "cummax", "cummin", "fillna", "shift", "rank", "astype", "round",
     "abs", "diff", "pct_change", "clip", "ffill", "bfill", "copy", "sort_index",
     "sort_values", "reset_index"}
)  # fmt: skip


def _root_name(expr: cst.BaseExpression) -> str | None:
    while True:
        if isinstance(expr, cst.Name):
            return expr.value
        if isinstance(expr, (cst.Attribute, cst.Subscript)):
            expr = expr.value
        elif isinstance(expr, cst.Call):
            expr = expr.func
        else:
            return None


class GroupbyTransformChangesLength(Rule):
    """
    ## What it does
    Flags `groupby(...).transform(f)` and `groupby(...)[col].transform(f)` where `f` (a
    lambda, or a function defined in the same module) returns its argument after
    `nlargest`, `nsmallest`, `head`, `tail`, `dropna`, `drop_duplicates`, `unique`,
    `value_counts`, `sample`, `query`, `describe`, a positional slice `x.iloc[a:b]` or a
    boolean mask `x[x > t]`.

    ## Why is this bad?
    `transform` must return one value per row of the group (or a scalar). A shorter result
    does not raise (contrary to a common claim that it raises ValueError): pandas silently
    re-aligns it on the original index and the dropped rows become NaN —
    `transform(lambda x: x.nlargest(2))` returns `[nan, 2.0, 3.0, 4.0, 5.0]` for one group
    of five rows. Use `apply` (or `groupby(...).nlargest`) for variable-length results.

    ## Example
    ```python
    df["top2"] = df.groupby("model")["auc"].transform(lambda x: x.nlargest(2))
    ```

    ## Use instead
    ```python
    top2 = df.groupby("model")["auc"].nlargest(2)
    ```

    ## Fix safety
    There is no fix: which rows the result should have is the author's decision.
    """

    code = "ML208"
    name = "groupby-transform-changes-length"
    summary = "`groupby(...).transform(f)` where `f` drops or reorders rows"
    tier = 2
    requires_text = ("transform",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # pandas imported, and `<x>.groupby(...)[...].transform(f)` with `f` (first argument
        # or `func=`) a lambda or a name
        if not _imports_pandas(scan):
            return False
        for call in scan.calls("transform"):
            func = call.func
            if not isinstance(func, ast.Attribute) or _ast_groupby(func.value) is None:
                continue
            firsts = [call.args[0]] if call.args else []
            firsts.extend(kw.value for kw in call.keywords if kw.arg == "func")
            if any(isinstance(f, (ast.Lambda, ast.Name)) for f in firsts):
                return True
        return False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._gate = self.ctx.imports("pandas")
        self._other_frames = any(self.ctx.imports(lib) for lib in OTHER_FRAME_LIBRARIES)

    def visit_Call(self, node: cst.Call) -> None:
        if not self._gate:
            return
        mc = method_call(node)
        if mc is None or mc[1] != "transform" or not node.args:
            return
        gb = groupby_of(mc[0])
        if gb is None:
            return
        frame = gb[0].func
        assert isinstance(frame, cst.Attribute)
        if self._other_frames and self.ctx.kind(frame.value) != K.DATAFRAME:
            return
        first = node.args[0]
        if first.keyword is not None and first.keyword.value != "func":
            return
        if first.star:
            return
        func = first.value
        culprit: str | None = None
        if isinstance(func, cst.Lambda):
            param = self._param(func.params)
            if param is not None:
                culprit = self._length_changer(func.body, param)
        elif isinstance(func, cst.Name):
            culprit = self._local_def(func.value)
        if culprit is None:
            return
        self.report(
            node,
            "transform(...) must return one value per row (or a scalar); "
            f"'{culprit}' changes the group length and pandas silently re-aligns the result "
            "with NaN",
        )

    @staticmethod
    def _param(params: cst.Parameters) -> str | None:
        if not params.params or params.posonly_params:
            return None
        return params.params[0].name.value

    def _local_def(self, name: str) -> str | None:
        bindings = self.ctx.bindings(name)
        if len(bindings) != 1 or bindings[0].kind != "def":
            return None
        fdef = bindings[0].node
        if not isinstance(fdef, cst.FunctionDef):
            return None
        param = self._param(fdef.params)
        if param is None:
            return None
        for n in iter_descendants(fdef.body, into_scopes=False):
            if isinstance(n, cst.Return) and n.value is not None:
                culprit = self._length_changer(n.value, param)
                if culprit is not None:
                    return culprit
        return None

    def _length_changer(self, expr: cst.BaseExpression, param: str) -> str | None:
        """The length-changing step of ``expr`` when its value is ``param`` with rows dropped
        or reordered (possibly followed by length-keeping methods)."""
        if _root_name(expr) != param:
            return None
        while True:
            mc = method_call(expr)
            if mc is not None:
                recv, method = mc
                assert isinstance(expr, cst.Call)
                if method in _LENGTH_CHANGING:
                    if method == "sample" and not self._sample_changes_length(expr):
                        return None
                    return f"{method}"
                if method not in _LENGTH_KEEPING:
                    return None
                expr = recv
                continue
            if isinstance(expr, cst.Subscript):
                value = expr.value
                if isinstance(value, cst.Attribute) and value.attr.value == "iloc":
                    if len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Slice):
                        return "iloc[...]"
                    return None
                key = single_index(expr)
                if key is not None and is_mask_expression(key) and param in _names(key):
                    return "boolean mask"
                return None
            return None

    @staticmethod
    def _sample_changes_length(call: cst.Call) -> bool:
        """``sample(frac=1)`` keeps every row (its index labels restore the order)."""
        frac = keyword_arg(call, "frac")
        if frac is None:
            return True
        value = float_literal(frac.value)
        if value is None:
            ivalue = int_value(frac.value)
            value = float(ivalue) if ivalue is not None else None
        return value != 1.0


def _names(node: cst.CSTNode) -> set[str]:
    return {n.value for n in iter_descendants(node) if isinstance(n, cst.Name)} | (
        {node.value} if isinstance(node, cst.Name) else set()
    )
