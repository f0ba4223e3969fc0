"""ML605 apply-along-axis-vectorisable."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block

#: numpy reductions: exact (SAFE) vs. summation-order dependent (UNSAFE)
_EXACT = frozenset(
    {"max", "min", "amax", "amin", "argmax", "argmin", "any", "all", "ptp", "sort", "median"}
)
_INEXACT = frozenset({"sum", "mean", "std", "var", "prod", "cumsum", "cumprod"})
#: zero-argument reductions allowed inside a lambda: method names and numpy functions
_LAMBDA_METHODS = frozenset({"mean", "std", "sum", "max", "min", "var", "prod", "any", "all"})
_LAMBDA_FUNCS = frozenset(
    {"mean", "std", "sum", "max", "min", "var", "prod", "amax", "amin", "median", "any", "all"}
)
_UFUNCS = frozenset(
    {
        "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "square", "abs", "absolute",
        "sign", "sin", "cos", "tanh", "floor", "ceil", "rint", "round",
    }
)  # fmt: skip
_ARITH = (
    cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Power,
)  # fmt: skip
_ATOMIC = (cst.Name, cst.Attribute, cst.Subscript, cst.Call)
_GATE_NAMES = frozenset({"apply_along_axis"})


class ApplyAlongAxisVectorisable(Rule):
    """
    ## What it does
    Flags `np.apply_along_axis(F, axis, A)` where `F` is a NumPy reduction or sort
    (`np.sum`, `np.mean`, `np.std`, `np.var`, `np.median`, `np.max`, `np.min`, `np.argmax`,
    `np.argmin`, `np.prod`, `np.any`, `np.all`, `np.ptp`, `np.sort`, `np.cumsum`,
    `np.cumprod`, `np.linalg.norm`, ...) or a one-parameter lambda that uses its row only in
    arithmetic, NumPy ufuncs and zero-argument reductions (`r.mean()`, `np.std(r)`, ...).

    ## Why is this bad?
    `apply_along_axis` is a Python-level loop that calls the function once per row; every
    function above takes an `axis` argument and does the same work in one vectorised call,
    typically around 100 times faster. The results are equal.

    ## Example
    ```python
    row_means = np.apply_along_axis(np.mean, 1, X)
    Z = np.apply_along_axis(lambda r: (r - r.mean()) / r.std(), 1, X)
    ```

    ## Use instead
    ```python
    row_means = X.mean(axis=1)
    Z = (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True)
    ```

    Other functions are not flagged (they may not be vectorisable).

    ## Fix safety
    `np.apply_along_axis(np.f, k, A)` becomes `np.f(A, axis=k)`: safe for `max`, `min`,
    `amax`, `amin`, `argmax`, `argmin`, `any`, `all`, `ptp`, `sort` and `median` (identical
    results); unsafe for `sum`, `mean`, `std`, `var`, `prod`, `cumsum`, `cumprod` and
    `linalg.norm` (the summation order may change the last bits). A lambda is rewritten
    (unsafe) by substituting the array for the row and `A.f(axis=k, keepdims=True)` for each
    reduction (`keepdims` only when the lambda returns a row, not a scalar). No fix when `A`
    is, or may be, a pandas object (the NumPy function would return a pandas object).
    """

    code = "ML605"
    name = "apply-along-axis-vectorisable"
    summary = "`np.apply_along_axis` with a NumPy reduction or an arithmetic lambda"
    tier = 2
    fix_safety = (FixSafety.SAFE, FixSafety.UNSAFE)
    requires_text = ("apply_along_axis",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a call named apply_along_axis (or an import alias of it) with exactly three
        # arguments, none unpacked
        names = scan.import_aliases(_GATE_NAMES)
        return any(
            len(c.args) + len(c.keywords) == 3
            and all(k.arg is not None for k in c.keywords)
            and not any(isinstance(a, ast.Starred) for a in c.args)
            for c in scan.calls(*names)
        )

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        if ctx.qualname(node.func) != "numpy.apply_along_axis":
            return
        args = _bind(node)
        if args is None:
            return
        func, axis, arr = args
        axis_text = ctx.code(axis).strip()
        arr_text = ctx.code(arr).strip()
        if not isinstance(arr, _ATOMIC) or arr.lpar:
            arr_text = f"({arr_text})"
        pandas_risk = ctx.kind(arr) in (K.DATAFRAME, K.SERIES) or (
            ctx.kind(arr) is None and ctx.imports("pandas")
        )
        q = ctx.qualname(func)
        rewrite: str | None = None
        safety = FixSafety.UNSAFE
        if q is not None and isinstance(func, (cst.Name, cst.Attribute)):
            last = q.rsplit(".", 1)[-1]
            if q == "numpy.linalg.norm" or (
                q.startswith("numpy.") and q.count(".") == 1 and last in _EXACT | _INEXACT
            ):
                rewrite = f"{ctx.code(func).strip()}({_strip_parens(arr_text)}, axis={axis_text})"
                safety = (
                    FixSafety.SAFE
                    if last in _EXACT and q != "numpy.linalg.norm"
                    else FixSafety.UNSAFE
                )
        elif isinstance(func, cst.Lambda):
            rewrite, free = self._lambda_rewrite(func, axis_text, arr_text)
            # a free name could be an array that broadcasts differently against the whole
            # array than against one row: report, but do not rewrite
            pandas_risk = pandas_risk or free
        if rewrite is None:
            return
        message = (
            f"np.apply_along_axis calls Python once per row; '{_short(rewrite)}' does the same "
            f"in one vectorised call"
        )
        fix = None
        if not pandas_risk:
            new = rewrite if not node.lpar else f"({rewrite})"
            fix = Fix(safety, [(node, new)])
        self.report(node, message, fix)

    def _lambda_rewrite(self, lam: cst.Lambda, axis: str, arr: str) -> tuple[str | None, bool]:
        params = lam.params
        if (
            len(params.params) != 1
            or isinstance(params.star_arg, (cst.Param, cst.ParamStar))
            or params.kwonly_params
            or params.star_kwarg is not None
            or params.posonly_params
            or params.params[0].default is not None
        ):
            return None, False
        var = params.params[0].name.value
        info = {"bare": 0, "reductions": 0}
        if not self._allowed(lam.body, var, info) or info["reductions"] + info["bare"] == 0:
            return None, False
        keep = info["bare"] > 0
        ctx = self.ctx
        suffix = f"axis={axis}, keepdims=True" if keep else f"axis={axis}"

        outer = self

        class _Sub(cst.CSTTransformer):
            def leave_Call(
                self, original_node: cst.Call, updated_node: cst.Call
            ) -> cst.BaseExpression:
                red = outer._reduction(original_node, var)
                if red is None:
                    return updated_node
                return cst.parse_expression(f"{arr}.{red}({suffix})")

            def leave_Name(
                self, original_node: cst.Name, updated_node: cst.Name
            ) -> cst.BaseExpression:
                if original_node.value == var:
                    return cst.parse_expression(arr)
                return updated_node

        new = lam.body.visit(_Sub())
        assert isinstance(new, cst.CSTNode)
        text = code_in_block(ctx.module, new, block_indents(ctx.module, ctx.stack)).strip()
        return text, info.get("free", 0) > 0

    def _reduction(self, call: cst.Call, var: str) -> str | None:
        """``r.f()`` / ``np.f(r)``: the reduction name."""
        func = call.func
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value == var
            and func.attr.value in _LAMBDA_METHODS
            and not call.args
        ):
            return func.attr.value
        q = self.ctx.qualname(func)
        if (
            q is not None
            and q.startswith("numpy.")
            and q.count(".") == 1
            and q[6:] in _LAMBDA_FUNCS
            and len(call.args) == 1
            and call.args[0].keyword is None
            and not call.args[0].star
            and isinstance(call.args[0].value, cst.Name)
            and call.args[0].value.value == var
        ):
            name = q[6:]
            return {"amax": "max", "amin": "min"}.get(name, name) if name != "median" else None
        return None

    def _allowed(self, e: cst.BaseExpression, var: str, info: dict[str, int]) -> bool:
        if isinstance(e, (cst.Integer, cst.Float)):
            return True
        if isinstance(e, cst.Name):
            if e.value == var:
                info["bare"] += 1
                return True
            info["free"] = info.get("free", 0) + 1
            kind = self.ctx.kind(e)
            return e.value != "None" and kind not in K.ARRAYLIKE and kind != K.LIST
        if isinstance(e, cst.BinaryOperation):
            return (
                isinstance(e.operator, _ARITH)
                and self._allowed(e.left, var, info)
                and self._allowed(e.right, var, info)
            )
        if isinstance(e, cst.UnaryOperation):
            return isinstance(e.operator, (cst.Minus, cst.Plus)) and self._allowed(
                e.expression, var, info
            )
        if isinstance(e, cst.Call):
            if self._reduction(e, var) is not None:
                info["reductions"] += 1
                return True
            q = self.ctx.qualname(e.func)
            if q is None or not q.startswith("numpy.") or q[6:] not in _UFUNCS:
                return False
            return all(
                a.keyword is None and not a.star and self._allowed(a.value, var, info)
                for a in e.args
            )
        return False


def _bind(
    call: cst.Call,
) -> tuple[cst.BaseExpression, cst.BaseExpression, cst.BaseExpression] | None:
    """(func1d, axis, arr) when given exactly (no extra args/kwargs for the function)."""
    names = ("func1d", "axis", "arr")
    found: dict[str, cst.BaseExpression] = {}
    pos = 0
    for a in call.args:
        if a.star:
            return None
        if a.keyword is None:
            if pos >= 3:
                return None
            found[names[pos]] = a.value
            pos += 1
        elif a.keyword.value in names:
            found[a.keyword.value] = a.value
        else:
            return None
    if len(found) != 3:
        return None
    return found["func1d"], found["axis"], found["arr"]


def _strip_parens(text: str) -> str:
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


def _short(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= 80 else one[:79] + "…"
