"""ML206 apply-vectorisable-lambda."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.pandas.chained_assignment import (
    _imports_pandas,
    _maybe_frame,
    _maybe_selection,
    _maybe_series,
)
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import dotted_name, int_value, is_string_like, string_value
from mllint.semantics.pandas_facts import (
    OTHER_FRAME_LIBRARIES,
    keyword_arg,
    render,
    selection_of,
)

_ARITH_OPS = (
    cst.Add,
    cst.Subtract,
    cst.Multiply,
    cst.Divide,
    cst.FloorDivide,
    cst.Modulo,
    cst.Power,
)
_UFUNCS = frozenset(
    f"numpy.{n}"
    for n in (
        "log", "log1p", "log2", "log10", "exp", "expm1", "sqrt", "square", "abs", "absolute",
        "sin", "cos", "tanh", "floor", "ceil", "clip", "maximum", "minimum", "sign",
    )
)  # fmt: skip
#: receivers whose ``apply`` is not element-wise (windows, resamplers, group-bys)
_WINDOW_METHODS = frozenset(
    {"rolling", "expanding", "ewm", "resample", "groupby", "window", "cumulative"}
)
#: ``r.<attr>`` of a row Series that is not a column
_ROW_NON_COLUMNS = K.DATAFRAME_NON_COLUMNS | frozenset(
    {"name", "dtype", "hasnans", "is_unique", "nbytes", "array", "shape", "size"}
)
#: parents under which a binary expression needs no parentheses
_NO_PARENS_PARENTS = (
    cst.Assign,
    cst.AnnAssign,
    cst.AugAssign,
    cst.Return,
    cst.Arg,
    cst.Element,
    cst.Index,
    cst.Expr,
    cst.DictElement,
)
_MAX_OCCURRENCES = 3


class _Substitute(cst.CSTTransformer):
    def __init__(self, replacements: dict[int, cst.BaseExpression]) -> None:
        super().__init__()
        self.replacements = replacements

    def on_leave(  # type: ignore[override]
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> cst.CSTNode:
        new = self.replacements.get(id(original_node))
        return new if new is not None else updated_node


class ApplyVectorisableLambda(Rule):
    """
    ## What it does
    Flags `Series.apply/map(lambda x: <arithmetic>)`, `DataFrame.map/applymap(lambda x:
    <arithmetic>)` and row-wise `DataFrame.apply(lambda r: <arithmetic on r["col"]>, axis=1)`
    when the lambda only does arithmetic (`+ - * / // % **`, unary `-`/`+`, `abs`, `round`,
    NumPy ufuncs such as `np.log1p`, `np.sqrt`, `np.clip`) on its argument, numeric literals
    and names bound to numbers. The receiver must be known to be a Series/DataFrame, or be a
    column `df["c"]`/`df.c` of a DataFrame (or of a frame named like one).

    Lambdas that call methods of `x`, use conditionals, comprehensions, `math.*` functions,
    string operations or other values are not reported, nor is `groupby(...).apply`
    (ML207), `rolling(...).apply`, or a column of a frame of unknown type in a module that
    also imports pyspark, dask or polars.

    ## Why is this bad?
    `apply`/`map` with a Python function loops in Python, once per element or row; the
    vectorised expression runs in C over the whole column. The values are the same for
    finite numeric data, but the semantics differ at the edges: Python-level `1 / 0` raises
    ZeroDivisionError where vectorised division yields `inf`, and Python ints do not
    overflow where int64 wraps.

    ## Example
    ```python
    df["income_k"] = df["income"].apply(lambda x: x / 1000)
    df["total"] = df.apply(lambda r: r["a"] + r["b"], axis=1)
    ```

    ## Use instead
    ```python
    df["income_k"] = df["income"] / 1000
    df["total"] = df["a"] + df["b"]
    ```

    ## Fix safety
    Unsafe: the call is replaced by the lambda body with `x` substituted by the receiver
    (row form: `r["c"]`/`r.c` by `df["c"]`), parenthesised where needed. Division by zero,
    integer overflow and negative integer powers behave differently. The fix is skipped
    when the receiver is not a name, an attribute chain or `df["col"]` (it would be
    evaluated more than once) or when `x` occurs more than 3 times.
    """

    code = "ML206"
    name = "apply-vectorisable-lambda"
    summary = (
        "`Series.apply/map(lambda x: <arithmetic>)` or row-wise `apply(axis=1)` where a "
        "vectorised expression exists"
    )
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("lambda",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # pandas imported, and `<x>.apply|map|applymap(lambda p: <arithmetic on p>)` (only
        # `axis=` may follow, for apply)
        if not _imports_pandas(scan):
            return False
        for call in scan.calls("apply", "map", "applymap"):
            if not isinstance(call.func, ast.Attribute) or len(call.args) != 1:
                continue
            lam = call.args[0]
            if not isinstance(lam, ast.Lambda):
                continue
            if call.keywords and (
                call.func.attr != "apply"
                or len(call.keywords) != 1
                or call.keywords[0].arg != "axis"
            ):
                continue
            recv = call.func.value
            try:
                arith = _arith_lambda(lam)
            except RecursionError:  # a very long expression: let the rule judge it
                return True
            if (
                arith
                and not _windowed(recv)
                and (
                    _maybe_series(scan, recv)
                    or _maybe_frame(scan, recv, None)
                    or _maybe_selection(scan, recv)
                )
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
        if method not in ("apply", "map", "applymap") or not node.args:
            return
        first = node.args[0]
        lam = first.value
        if first.keyword is not None or first.star or not isinstance(lam, cst.Lambda):
            return
        param = self._single_param(lam)
        if param is None:
            return
        receiver = node.func.value
        if self._is_window(receiver):
            return
        rest = node.args[1:]
        axis = keyword_arg(node, "axis")
        if method == "apply" and axis is not None and len(rest) == 1 and rest[0] is axis:
            if not self._row_axis(axis.value) or self.ctx.kind(receiver) != K.DATAFRAME:
                return
            row = True
        elif rest:
            return
        else:
            if not self._elementwise_receiver(receiver, method):
                return
            row = False
        occurrences: list[cst.CSTNode] = []
        if not self._arith(lam.body, param, row, occurrences) or not occurrences:
            return
        new_body = self._substituted(lam.body, occurrences, receiver, row)
        rewrite = self.ctx.snippet(new_body, 80)
        fix = None
        if len(occurrences) <= _MAX_OCCURRENCES and self._fixable_receiver(receiver, row):
            fix = Fix(FixSafety.UNSAFE, [(node, render(self.ctx, self._wrapped(node, new_body)))])
        self.report(
            node,
            f"'.{method}(lambda ...)' calls Python once per {'row' if row else 'element'}; "
            f"the vectorised form '{rewrite}' is typically 10-100× faster",  # noqa: RUF001
            fix,
        )

    # -- receivers -----------------------------------------------------------------------
    @staticmethod
    def _single_param(lam: cst.Lambda) -> str | None:
        p = lam.params
        if (
            len(p.params) != 1
            or p.posonly_params
            or p.kwonly_params
            or not isinstance(p.star_arg, cst.MaybeSentinel)
            or p.star_kwarg is not None
            or p.params[0].default is not None
        ):
            return None
        return p.params[0].name.value

    @staticmethod
    def _is_window(receiver: cst.BaseExpression) -> bool:
        node: cst.CSTNode = receiver
        while isinstance(node, (cst.Subscript, cst.Attribute, cst.Call)):
            if (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and node.func.attr.value in _WINDOW_METHODS
            ):
                return True
            node = node.func if isinstance(node, cst.Call) else node.value
        return False

    @staticmethod
    def _row_axis(value: cst.BaseExpression) -> bool:
        return int_value(value) == 1 or string_value(value) == "columns"

    def _elementwise_receiver(self, receiver: cst.BaseExpression, method: str) -> bool:
        kind = self.ctx.kind(receiver)
        if kind == K.SERIES:
            return method in ("apply", "map")
        if kind == K.DATAFRAME:
            # DataFrame.apply without axis=1 passes whole columns, not elements
            return method in ("map", "applymap")
        if kind is not None or method == "applymap":
            return False
        sel = selection_of(self.ctx, receiver)
        if sel is None or sel.form != "column" or sel.column is None:
            return False
        return self.ctx.kind(sel.base) == K.DATAFRAME or not self._other_frames

    @staticmethod
    def _fixable_receiver(receiver: cst.BaseExpression, row: bool) -> bool:
        if dotted_name(receiver) is not None:
            return True
        if row or not isinstance(receiver, cst.Subscript):
            return False
        if dotted_name(receiver.value) is None or len(receiver.slice) != 1:
            return False
        el = receiver.slice[0].slice
        return isinstance(el, cst.Index) and is_string_like(el.value)

    # -- the lambda body -------------------------------------------------------------------
    def _arith(
        self, expr: cst.BaseExpression, param: str, row: bool, found: list[cst.CSTNode]
    ) -> bool:
        if self._is_var(expr, param, row):
            found.append(expr)
            return True
        if isinstance(expr, (cst.Integer, cst.Float)):
            return True
        if isinstance(expr, cst.Name):
            return expr.value != param and self._numeric_name(expr.value)
        if isinstance(expr, cst.UnaryOperation):
            return isinstance(expr.operator, (cst.Minus, cst.Plus)) and self._arith(
                expr.expression, param, row, found
            )
        if isinstance(expr, cst.BinaryOperation):
            return (
                isinstance(expr.operator, _ARITH_OPS)
                and self._arith(expr.left, param, row, found)
                and self._arith(expr.right, param, row, found)
            )
        if isinstance(expr, cst.Call):
            if any(a.keyword is not None or a.star for a in expr.args) or not expr.args:
                return False
            q = self.ctx.qualname(expr.func)
            args = [a.value for a in expr.args]
            if q == "builtins.abs" and len(args) == 1:
                return self._arith(args[0], param, row, found)
            if q == "builtins.round" and len(args) in (1, 2):
                if len(args) == 2 and not isinstance(args[1], cst.Integer):
                    return False
                return self._arith(args[0], param, row, found)
            if q in _UFUNCS:
                return all(self._arith(a, param, row, found) for a in args)
        return False

    @staticmethod
    def _is_var(expr: cst.BaseExpression, param: str, row: bool) -> bool:
        if not row:
            return isinstance(expr, cst.Name) and expr.value == param
        if isinstance(expr, cst.Subscript):
            if not (isinstance(expr.value, cst.Name) and expr.value.value == param):
                return False
            if len(expr.slice) != 1:
                return False
            el = expr.slice[0].slice
            return (
                isinstance(el, cst.Index)
                and is_string_like(el.value)
                and not isinstance(el.value, cst.FormattedString)
            )
        if isinstance(expr, cst.Attribute):
            return (
                isinstance(expr.value, cst.Name)
                and expr.value.value == param
                and expr.attr.value not in _ROW_NON_COLUMNS
                and not expr.attr.value.startswith("_")
            )
        return False

    def _numeric_name(self, name: str) -> bool:
        bindings = self.ctx.bindings(name)
        if not bindings:
            return False
        for b in bindings:
            if b.kind not in ("assign", "annassign") or b.unpacked or b.value is None:
                return False
            value = b.value
            if isinstance(value, cst.UnaryOperation) and isinstance(
                value.operator, (cst.Minus, cst.Plus)
            ):
                value = value.expression
            if not isinstance(value, (cst.Integer, cst.Float)):
                return False
        return True

    # -- rewrite ---------------------------------------------------------------------------
    def _substituted(
        self,
        body: cst.BaseExpression,
        occurrences: list[cst.CSTNode],
        receiver: cst.BaseExpression,
        row: bool,
    ) -> cst.BaseExpression:
        recv = receiver.with_changes(lpar=(), rpar=())
        if not isinstance(recv, (cst.Name, cst.Attribute, cst.Subscript, cst.Call)):
            recv = recv.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        replacements: dict[int, cst.BaseExpression] = {}
        for occ in occurrences:
            new: cst.BaseExpression
            if not row:
                new = recv
            elif isinstance(occ, cst.Subscript):
                new = cst.Subscript(value=recv, slice=occ.slice)
            else:
                assert isinstance(occ, cst.Attribute)
                new = cst.Subscript(
                    value=recv,
                    slice=[
                        cst.SubscriptElement(cst.Index(cst.SimpleString(f'"{occ.attr.value}"')))
                    ],
                )
            if getattr(occ, "lpar", ()):
                new = new.with_changes(lpar=occ.lpar, rpar=occ.rpar)  # type: ignore[attr-defined]
            replacements[id(occ)] = new
        result = body.visit(_Substitute(replacements))
        assert isinstance(result, cst.BaseExpression)
        return result

    def _wrapped(self, call: cst.Call, body: cst.BaseExpression) -> cst.BaseExpression:
        if call.lpar:
            return body.with_changes(lpar=call.lpar, rpar=call.rpar)
        if body.lpar or isinstance(
            body, (cst.Name, cst.Attribute, cst.Subscript, cst.Call, cst.Integer, cst.Float)
        ):
            return body
        if isinstance(self.ctx.parent, _NO_PARENS_PARENTS):
            return body
        return body.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


_AST_ARITH_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def _arith_lambda(lam: ast.Lambda) -> bool:
    """A one-parameter lambda whose body is arithmetic that uses the parameter."""
    a = lam.args
    if (
        len(a.args) != 1
        or a.posonlyargs
        or a.kwonlyargs
        or a.vararg is not None
        or a.kwarg is not None
        or a.defaults
    ):
        return False
    used: list[bool] = []
    return _ast_arith(lam.body, a.args[0].arg, used) and bool(used)


def _ast_arith(expr: ast.expr, param: str, used: list[bool]) -> bool:
    """``ApplyVectorisableLambda._arith`` on the shape of ``expr`` (either form: ``x`` or
    ``r["c"]``/``r.c``); appends to ``used`` for each use of the parameter."""
    if isinstance(expr, ast.Name):
        if expr.id == param:
            used.append(True)
        return True  # the parameter, or a name the rule checks is bound to a number
    if isinstance(expr, ast.Constant):
        return type(expr.value) in (int, float)
    if isinstance(expr, (ast.Subscript, ast.Attribute)):
        # the row form's `r["c"]` / `r.c`
        value = expr.value
        if isinstance(value, ast.Name) and value.id == param:
            used.append(True)
            return True
        return False
    if isinstance(expr, ast.UnaryOp):
        return isinstance(expr.op, (ast.USub, ast.UAdd)) and _ast_arith(expr.operand, param, used)
    if isinstance(expr, ast.BinOp):
        return (
            isinstance(expr.op, _AST_ARITH_OPS)
            and _ast_arith(expr.left, param, used)
            and _ast_arith(expr.right, param, used)
        )
    if isinstance(expr, ast.Call):
        # abs/round/NumPy ufuncs: positional arguments only
        if expr.keywords or not expr.args or not isinstance(expr.func, (ast.Name, ast.Attribute)):
            return False
        return all(
            not isinstance(arg, ast.Starred) and _ast_arith(arg, param, used) for arg in expr.args
        )
    return False


def _windowed(receiver: ast.expr) -> bool:
    """``ApplyVectorisableLambda._is_window``: a rolling/expanding/groupby/... call in the
    receiver's chain."""
    node: ast.expr = receiver
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Call)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _WINDOW_METHODS
        ):
            return True
        node = node.func if isinstance(node, ast.Call) else node.value
    return False
