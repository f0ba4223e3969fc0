"""ML102 nan-equality."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.numerics.float_equality import _bound_values, _Imports, _imports_of
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.special_floats import (
    FLOAT_CALLS,
    NAN_QUALNAMES,
    PANDAS_MISSING,
    nan_constant,
)

_PANDAS_MISSING = PANDAS_MISSING


class NanEquality(Rule):
    """
    ## What it does
    Flags tests for NaN/NA written as `x == np.nan`, `x != float("nan")`, `x is np.nan`, or
    `x in (None, np.nan)`.

    ## Why is this bad?
    IEEE 754 NaN compares unequal to everything, itself included, so `x == np.nan` is always
    False and `x != np.nan` always True: a mask `df[df[c] == np.nan]` selects no rows.
    `x is np.nan` only matches that one `np.nan` object; NaNs produced by arithmetic, read from
    files or taken out of arrays are different objects (`np.float64("nan") is np.nan` is False,
    and `arr[0] in [None, np.nan]` is False for a NaN from an array). `pd.NA == x` returns
    `pd.NA`, whose truth value raises TypeError, and `pd.NaT == pd.NaT` is False.

    (NaN *can* be a dict key or a set member; only lookups with the identical object succeed.)

    ## Example
    ```python
    missing_bmi = df[df["bmi"] == np.nan]
    kept = [r for r in readings if r != float("nan")]
    if reading is np.nan: ...
    ```

    ## Use instead
    ```python
    missing_bmi = df[df["bmi"].isna()]
    kept = [r for r in readings if not math.isnan(r)]
    if pd.isna(reading): ...
    ```

    `x != x` is a correct NaN test and is not flagged; neither are `x is pd.NA` / `x is pd.NaT`.

    ## Fix safety
    Unsafe: `np.isnan`/`math.isnan` raise TypeError for `None` or strings where the original
    comparison returned a bool. Pandas objects get `.isna()`/`.notna()`, arrays `np.isnan`,
    tensors `torch.isnan`, scalars `pd.isna` (when pandas is imported) or `math.isnan`.
    Membership tests are fixed only when every element is a missing marker and pandas is
    imported.
    """

    code = "ML102"
    name = "nan-equality"
    summary = "Testing for NaN/NA with `==`, `!=`, `is` or `in`"
    tier = 1
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("nan", "NaN", "NAN", "NA", "NaT")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a comparison (==, !=, is, is not, or in/not in a display) with an operand that can
        # be a NaN constant: a name or attribute that may resolve to numpy.nan, pandas.NA...,
        # a float("nan") call, or a name assigned one of these (the rule's one hop)
        compares = scan.of(ast.Compare)
        if not compares:
            return False
        imports = _imports_of(scan, facts)
        direct = _NanShapes(imports, frozenset())
        hops = frozenset(_bound_values(scan, direct.nan_like))
        shapes = _NanShapes(imports, hops) if hops else direct
        nan_like = shapes.nan_like
        for c in compares:
            operands = [c.left, *c.comparators]
            for i, op in enumerate(c.ops):
                if isinstance(op, _AST_EQ_IS):
                    if nan_like(operands[i]) or nan_like(operands[i + 1]):
                        return True
                elif isinstance(op, (ast.In, ast.NotIn)):
                    display = operands[i + 1]
                    if isinstance(display, (ast.List, ast.Tuple, ast.Set)) and any(
                        nan_like(el.value if isinstance(el, ast.Starred) else el)
                        for el in display.elts
                    ):
                        return True
        return False

    # -- NaN constants (shared with ML101: mllint.semantics.special_floats) -----------------
    def nan_qualname(self, node: cst.CSTNode) -> str | None:
        """The kind of NaN constant ``node`` is ("numpy.nan", "pandas.NA", "float", ...)."""
        return nan_constant(self.ctx, node)

    # -- the rule --------------------------------------------------------------------------
    def visit_Comparison(self, node: cst.Comparison) -> None:
        left = node.left
        for target in node.comparisons:
            op = target.operator
            right = target.comparator
            if isinstance(op, (cst.Equal, cst.NotEqual)):
                lq, rq = self.nan_qualname(left), self.nan_qualname(right)
                if lq or rq:
                    verdict = "always False" if isinstance(op, cst.Equal) else "always True"
                    if (lq or rq) in _PANDAS_MISSING:
                        verdict = "unreliable"
                    other = right if lq else left
                    self._report(node, verdict, other, isinstance(op, cst.NotEqual))
                    return
            elif isinstance(op, (cst.Is, cst.IsNot)):
                lq, rq = self.nan_qualname(left), self.nan_qualname(right)
                q = lq or rq
                if q and q not in _PANDAS_MISSING:
                    other = right if lq else left
                    self._report(node, "unreliable", other, isinstance(op, cst.IsNot))
                    return
            elif isinstance(op, (cst.In, cst.NotIn)) and isinstance(
                right, (cst.List, cst.Tuple, cst.Set)
            ):
                quals = [self.nan_qualname(el.value) for el in right.elements]
                if any(q and q not in _PANDAS_MISSING for q in quals):
                    self._report_membership(node, left, right, isinstance(op, cst.NotIn))
                    return
            left = right

    def _message(self, node: cst.Comparison, verdict: str, use: str) -> str:
        expr = self.ctx.snippet(node)
        return f"'{expr}' is {verdict}: NaN never equals anything (itself included); use {use}"

    def _report(
        self, node: cst.Comparison, verdict: str, other: cst.BaseExpression, negated: bool
    ) -> None:
        fix, use = self._fix(node, other, negated)
        self.report(node, self._message(node, verdict, use), fix)

    def _report_membership(
        self,
        node: cst.Comparison,
        value: cst.BaseExpression,
        display: cst.BaseExpression,
        negated: bool,
    ) -> None:
        fix = None
        use = "pd.isna(x)" if self.ctx.imports("pandas") else "math.isnan(x)"
        only_one = len(node.comparisons) == 1
        assert isinstance(display, (cst.List, cst.Tuple, cst.Set))
        all_missing = all(
            (isinstance(el.value, cst.Name) and el.value.value == "None")
            or self.nan_qualname(el.value) is not None
            for el in display.elements
        )
        if only_one and all_missing and self.ctx.imports("pandas"):
            plan = self.ctx.import_name("pandas")
            if plan is not None:
                call = f"{plan.local}.isna({self.ctx.code(value).strip()})"
                text = f"not {call}" if negated else call
                fix = Fix(FixSafety.UNSAFE, [(node, _keep_parens(node, text))], [plan])
        self.report(node, self._message(node, "unreliable", use), fix)

    def _fix(
        self, node: cst.Comparison, other: cst.BaseExpression, negated: bool
    ) -> tuple[Fix | None, str]:
        ctx = self.ctx
        kind = ctx.kind(other)
        other_code = ctx.code(other).strip()
        elementwise = ctx.value_context() == "elementwise"
        pandas = ctx.imports("pandas")
        is_frame_access = _is_frame_access(ctx, other)
        if (
            kind in (K.SERIES, K.DATAFRAME)
            or is_frame_access
            or (elementwise and pandas and kind is None)
        ):
            use = f"{other_code}.notna()" if negated else f"{other_code}.isna()"
            if not (kind in (K.SERIES, K.DATAFRAME) or is_frame_access):
                return None, "x.isna()"
            return self._single(node, use, []), "x.notna()" if negated else "x.isna()"
        if kind == K.NDARRAY or (elementwise and kind is None and ctx.imports("numpy")):
            plan = ctx.import_name("numpy")
            use_text = "np.isnan(x)"
            if plan is None or kind != K.NDARRAY:
                return None, use_text
            call = f"{plan.local}.isnan({other_code})"
            return self._single(node, f"~{call}" if negated else call, [plan]), use_text
        if kind == K.TENSOR:
            plan = ctx.import_name("torch")
            if plan is None:
                return None, "torch.isnan(x)"
            call = f"{plan.local}.isnan({other_code})"
            return self._single(node, f"~{call}" if negated else call, [plan]), "torch.isnan(x)"
        if elementwise:
            return None, "np.isnan(x)"
        if pandas:
            plan = ctx.import_name("pandas")
            use = "pd.isna(x)"
        else:
            plan = ctx.import_name("math")
            use = "math.isnan(x)"
        if plan is None:
            return None, use
        call = f"{plan.local}.isna({other_code})" if pandas else f"{plan.local}.isnan({other_code})"
        text = f"not {call}" if negated else call
        if negated and isinstance(ctx.parent, (cst.BinaryOperation, cst.Comparison)):
            text = f"({text})"
        return self._single(node, text, [plan]), use

    def _single(self, node: cst.Comparison, text: str, plans: list) -> Fix | None:  # type: ignore[type-arg]
        if len(node.comparisons) != 1:
            return None
        return Fix(FixSafety.UNSAFE, [(node, _keep_parens(node, text))], plans)


_AST_NAN_NAMES = frozenset(q.rpartition(".")[2] for q in NAN_QUALNAMES)
_AST_EQ_IS = (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)


class _NanShapes:
    """``nan_constant`` on ``ast`` nodes, through the file's import table."""

    def __init__(self, imports: _Imports, hops: frozenset[str]) -> None:
        self.imports = imports
        self.hops = hops

    def nan_like(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.hops or self.imports.may_be(node, NAN_QUALNAMES)
        if isinstance(node, ast.Attribute):
            return node.attr in _AST_NAN_NAMES and self.imports.may_be(node, NAN_QUALNAMES)
        if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
            arg = node.args[0]
            return (
                isinstance(arg, ast.Constant)
                and isinstance(arg.value, str)
                and arg.value.strip().lower().lstrip("+-") == "nan"
                and self.imports.may_be(node.func, FLOAT_CALLS)
            )
        return False


def _keep_parens(node: cst.Comparison, text: str) -> str:
    if node.lpar:
        return "(" + text + ")"
    return text


def _is_frame_access(ctx: object, node: cst.CSTNode) -> bool:
    """``D[...]`` or ``D.<col>`` on a DataFrame ``D``."""
    from mllint.semantics.context import FileContext

    assert isinstance(ctx, FileContext)
    if isinstance(node, cst.Subscript):
        return ctx.kind(node.value) == K.DATAFRAME
    if isinstance(node, cst.Attribute):
        return (
            ctx.kind(node.value) == K.DATAFRAME and node.attr.value not in K.DATAFRAME_NON_COLUMNS
        )
    return False
