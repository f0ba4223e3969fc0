"""NaN / NA and infinity constants (shared by ML101 float-equality and ML102 nan-equality).

A **NaN constant** (RULES.md ML102) is a name/attribute resolving to ``numpy.nan``,
``numpy.NaN``, ``numpy.NAN``, ``math.nan``, ``torch.nan``, ``pandas.NA`` or ``pandas.NaT``; a call
``float("nan")`` (any case/sign) or ``numpy.float64/32/16("nan")``; or a module-level name bound
exactly once to one of these (one hop). An **inf constant** is the same for infinity
(``numpy.inf``, ``math.inf``, ``torch.inf``, ``float("inf")``, ``float("-infinity")``, ...), also
under a unary ``-``/``+``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from mllint.semantics.cstutil import string_value

if TYPE_CHECKING:
    from mllint.semantics.context import FileContext

NAN_QUALNAMES = frozenset(
    {
        "numpy.nan",
        "numpy.NaN",
        "numpy.NAN",
        "math.nan",
        "torch.nan",
        "pandas.NA",
        "pandas.NaT",
    }
)
PANDAS_MISSING = frozenset({"pandas.NA", "pandas.NaT"})
INF_QUALNAMES = frozenset(
    {
        "numpy.inf",
        "numpy.Inf",
        "numpy.Infinity",
        "numpy.infty",
        "numpy.PINF",
        "numpy.NINF",
        "math.inf",
        "torch.inf",
        "jax.numpy.inf",
    }
)
FLOAT_CALLS = frozenset({"builtins.float", "numpy.float64", "numpy.float32", "numpy.float16"})
_NAN_TEXT = frozenset({"nan"})
_INF_TEXT = frozenset({"inf", "infinity"})


def _float_call_text(ctx: FileContext, node: cst.CSTNode) -> str | None:
    """``"nan"``/``"inf"``... for ``float("<text>")`` (sign stripped, lower-cased)."""
    if isinstance(node, cst.Call) and len(node.args) == 1 and node.args[0].keyword is None:
        if node.args[0].star:
            return None
        if ctx.qualname(node.func) in FLOAT_CALLS:
            value = string_value(node.args[0].value)
            if value is not None:
                return value.strip().lower().lstrip("+-")
    return None


def nan_constant(ctx: FileContext, node: cst.CSTNode) -> str | None:
    """Which NaN constant ``node`` is (``"numpy.nan"``, ``"pandas.NA"``, ``"float"``...), else None."""
    if isinstance(node, (cst.Name, cst.Attribute)):
        q = ctx.qualname(node)
        if q in NAN_QUALNAMES:
            return q
        if isinstance(node, cst.Name):
            return _one_hop(ctx, node.value, NAN_QUALNAMES, _NAN_TEXT, signed=False)
        return None
    if _float_call_text(ctx, node) in _NAN_TEXT:
        return "float"
    return None


def is_inf_constant(ctx: FileContext, node: cst.CSTNode) -> bool:
    """``np.inf``, ``-math.inf``, ``float("-inf")``, a module-level ``INF = float("inf")``..."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        node = node.expression
    if isinstance(node, (cst.Name, cst.Attribute)):
        if ctx.qualname(node) in INF_QUALNAMES:
            return True
        if isinstance(node, cst.Name):
            return _one_hop(ctx, node.value, INF_QUALNAMES, _INF_TEXT, signed=True) is not None
        return False
    return _float_call_text(ctx, node) in _INF_TEXT


def _one_hop(
    ctx: FileContext, name: str, qualnames: frozenset[str], texts: frozenset[str], *, signed: bool
) -> str | None:
    """A module-level name bound exactly once to one of the constants."""
    bindings = ctx.bindings(name)
    if len(bindings) != 1:
        return None
    b = bindings[0]
    module_scope = ctx.model.module_scope
    if b.scope is not module_scope or b.kind != "assign" or b.unpacked:
        return None
    value = b.value
    if (
        signed
        and isinstance(value, cst.UnaryOperation)
        and isinstance(value.operator, (cst.Minus, cst.Plus))
    ):
        value = value.expression
    if value is None or (isinstance(value, cst.Name) and value.value == name):
        return None
    if isinstance(value, (cst.Name, cst.Attribute)):
        q = ctx.qualname_in(value, module_scope)
        return q if q in qualnames else None
    if isinstance(value, cst.Call) and len(value.args) == 1 and value.args[0].keyword is None:
        if value.args[0].star:
            return None
        if ctx.qualname_in(value.func, module_scope) in FLOAT_CALLS:
            text = string_value(value.args[0].value)
            if text is not None and text.strip().lower().lstrip("+-") in texts:
                return "float"
    return None


def nan_test_fires(ctx: FileContext, node: cst.Comparison) -> bool:
    """Whether ML102 nan-equality reports this comparison (its triggers (a)-(c))."""
    left: cst.BaseExpression = node.left
    for target in node.comparisons:
        op = target.operator
        right = target.comparator
        if isinstance(op, (cst.Equal, cst.NotEqual)):
            if nan_constant(ctx, left) or nan_constant(ctx, right):
                return True
        elif isinstance(op, (cst.Is, cst.IsNot)):
            q = nan_constant(ctx, left) or nan_constant(ctx, right)
            if q and q not in PANDAS_MISSING:
                return True
        elif isinstance(op, (cst.In, cst.NotIn)) and isinstance(
            right, (cst.List, cst.Tuple, cst.Set)
        ):
            for el in right.elements:
                q = nan_constant(ctx, el.value)
                if q and q not in PANDAS_MISSING:
                    return True
        left = right
    return False
