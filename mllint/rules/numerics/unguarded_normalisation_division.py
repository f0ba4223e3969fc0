"""ML912 unguarded-normalisation-division."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Option, Rule
from mllint.rules.numerics.float_equality import _bound_values, _imports_of
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import cst_equal, expression_names, positional_args
from mllint.semantics.walk import iter_descendants

_NORM_FUNCS = frozenset(
    {"numpy.linalg.norm", "torch.norm", "torch.linalg.norm", "torch.linalg.vector_norm"}
)
_STD_FUNCS = frozenset({"numpy.std", "numpy.nanstd", "torch.std"})
_PTP_FUNCS = frozenset({"numpy.ptp"})
_TORCH_PREFIX = "torch."


def _strip(e: cst.BaseExpression) -> cst.BaseExpression:
    return e.with_changes(lpar=(), rpar=()) if getattr(e, "lpar", None) else e


class UnguardedNormalisationDivision(Rule):
    """
    ## What it does
    Flags `N / D` where the denominator `D` is a norm, a standard deviation or a range of an
    array `X` that also appears in the numerator: `np.linalg.norm(X, ...)`, `torch.norm(X)`,
    `X.norm(...)`, `X.std(...)`, `np.std(X)`, `X.max() - X.min()`, `np.ptp(X)`, a product of
    norms, or a name bound once to one of these. Not flagged when the denominator is clamped
    (`np.maximum`, `np.clip`, `torch.clamp`, `+ eps`), inside `with np.errstate(...)`, or
    when the scope compares the denominator with something (`if D == 0`, `np.where(D > 0,
    ...)`, `D[D == 0] = 1`).

    ## Why is this bad?
    A zero vector (an all-zero embedding, an empty bag of words) or a constant feature
    column has norm, standard deviation and range 0. The division then yields NaN or inf,
    which propagates through training without an error.

    ## Example
    ```python
    X_norm = X / np.linalg.norm(X, axis=1, keepdims=True)
    z = (x - x.mean()) / x.std()
    ```

    ## Use instead
    ```python
    X_norm = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    z = (x - x.mean()) / np.maximum(x.std(), 1e-12)
    ```

    Or use `sklearn.preprocessing.normalize` / `StandardScaler` / `MinMaxScaler`, which
    handle zero norms and constant features.

    ## Fix safety
    Unsafe: the denominator becomes `np.maximum(<D>, <eps>)` (`torch.clamp(<D>, min=<eps>)`
    for tensors); results change for denominators below `eps`. No fix when it is unknown
    whether `X` is a NumPy array or a tensor.

    ## Options
    - `eps` (float, default `1e-12`): the lower bound used by the fix.
    """

    code = "ML912"
    name = "unguarded-normalisation-division"
    summary = "Dividing by a norm, range or standard deviation that can be zero"
    tier = 2
    default_enabled = False
    fix_safety = (FixSafety.UNSAFE,)
    options = (Option("eps", "float", 1e-12, "Lower bound the fix clamps the denominator to."),)
    requires_text = ("norm", "std", "ptp", "min(")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # numpy or torch imported, and a division whose denominator has a denominator shape
        # (a norm/std/ptp call, `a.max() - a.min()`, a product of those) or is a name
        # assigned one
        if not scan.imports_any("numpy", "torch"):
            return False
        divisions = [b for b in scan.of(ast.BinOp) if type(b.op) is ast.Div]
        if not divisions:
            return False
        shapes = _DenominatorShapes(scan, facts)
        bound: dict[str, list[ast.expr]] | None = None
        for b in divisions:
            den = b.right
            if shapes.denominator(den):
                return True
            if isinstance(den, ast.Name):
                if bound is None:
                    bound = _bound_values(scan, shapes.denominator)
                if den.id in bound:
                    return True
        return False

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, cst.Divide):
            return
        if not (self.ctx.imports("numpy") or self.ctx.imports("torch")):
            return
        den = _strip(node.right)
        found = self._denominator(den)
        via_name = False
        if found is None and isinstance(den, cst.Name):
            bindings = self.ctx.bindings(den.value)
            if (
                len(bindings) == 1
                and bindings[0].kind in ("assign", "annassign")
                and not bindings[0].unpacked
            ):
                value = bindings[0].value
                if value is not None:
                    found = self._denominator(_strip(value))
                    via_name = True
        if found is None:
            return
        what, x, lib = found
        if not any(
            cst_equal(x, n) for n in iter_descendants(node.left) if isinstance(n, type(x))
        ) and not (isinstance(node.left, type(x)) and cst_equal(node.left, x)):
            return
        if self._guarded(den):
            return
        if via_name and self._compared(den):
            return
        x_text = self.ctx.snippet(x, 40)
        self.report(
            node,
            f"Division by {what} of '{x_text}' yields NaN/inf for zero vectors or constant "
            "features; clamp it (np.maximum(den, eps)) or use sklearn.preprocessing.normalize / "
            "MinMaxScaler",
            self._fix(node.right, x, lib),
        )

    def _denominator(
        self, d: cst.BaseExpression
    ) -> tuple[str, cst.BaseExpression, str | None] | None:
        """(norm|std|range, X, "numpy"/"torch"/None) for a normalising denominator."""
        if isinstance(d, cst.Call):
            q = self.ctx.qualname(d.func)
            pos = positional_args(d)
            if q is not None and pos:
                lib = "torch" if q.startswith(_TORCH_PREFIX) else "numpy"
                if q in _NORM_FUNCS:
                    return "norm", pos[0].value, lib
                if q in _STD_FUNCS:
                    return "std", pos[0].value, lib
                if q in _PTP_FUNCS:
                    return "range", pos[0].value, lib
            if isinstance(d.func, cst.Attribute) and q is None:
                method = d.func.attr.value
                recv = d.func.value
                if method in ("norm", "std") and isinstance(recv, (cst.Name, cst.Attribute)):
                    return method, recv, self._lib_of(recv)
                if method == "ptp" and isinstance(recv, (cst.Name, cst.Attribute)):
                    return "range", recv, self._lib_of(recv)
        if isinstance(d, cst.BinaryOperation):
            if isinstance(d.operator, cst.Subtract):
                left, right = _strip(d.left), _strip(d.right)
                if (
                    isinstance(left, cst.Call)
                    and isinstance(right, cst.Call)
                    and isinstance(left.func, cst.Attribute)
                    and isinstance(right.func, cst.Attribute)
                    and left.func.attr.value == "max"
                    and right.func.attr.value == "min"
                    and cst_equal(left.func.value, right.func.value)
                    and _same_args(left, right)
                    and isinstance(left.func.value, (cst.Name, cst.Attribute))
                ):
                    recv = left.func.value
                    return "range", recv, self._lib_of(recv)
            if isinstance(d.operator, cst.Multiply):
                a = self._denominator(_strip(d.left))
                b = self._denominator(_strip(d.right))
                if a is not None and b is not None and a[0] == b[0] == "norm":
                    return "norm", a[1], a[2] if a[2] == b[2] else None
        return None

    def _lib_of(self, x: cst.BaseExpression) -> str | None:
        k = self.ctx.kind(x)
        if k == K.TENSOR:
            return "torch"
        if k in (K.NDARRAY, K.DATAFRAME, K.SERIES):
            return "numpy"
        return None

    def _guarded(self, den: cst.BaseExpression) -> bool:
        for anc in self.ctx.stack:
            if isinstance(anc, cst.Comparison):
                return True  # a relative error compared with a tolerance, not a normalisation
            if isinstance(anc, cst.With):
                for item in anc.items:
                    if (
                        isinstance(item.item, cst.Call)
                        and self.ctx.qualname(item.item.func) == "numpy.errstate"
                    ):
                        return True
            if isinstance(anc, cst.Call) and self.ctx.qualname(anc.func) in (
                "numpy.where",
                "torch.where",
            ):
                return True
            if isinstance(anc, (cst.IfExp, cst.If, cst.While)) and expression_names(
                anc.test
            ) & expression_names(den):
                return True
        return False

    def _compared(self, den: cst.BaseExpression) -> bool:
        """The scope compares the denominator name with something (a zero guard)."""
        assert isinstance(den, cst.Name)
        scope = self.ctx.scope
        while scope.kind in ("comprehension", "lambda") and scope.parent is not None:
            scope = scope.parent
        for n in iter_descendants(scope.node, into_scopes=False):
            if isinstance(n, cst.Comparison) and den.value in expression_names(n):
                return True
            if (
                isinstance(n, cst.Call)
                and self.ctx.qualname(n.func)
                in (
                    "numpy.maximum",
                    "numpy.clip",
                    "torch.clamp",
                    "builtins.max",
                    "numpy.fmax",
                )
                and den.value in expression_names(n)
            ):
                return True
        return False

    def _fix(self, den: cst.BaseExpression, x: cst.BaseExpression, lib: str | None) -> Fix | None:
        eps = repr(float(self.option("eps")))
        inner = self.ctx.code(_strip(den))
        if "\n" in inner:
            return None
        if lib == "numpy":
            plan = self.ctx.import_name("numpy", "maximum")
            if plan is None:
                return None
            return Fix(FixSafety.UNSAFE, [(den, f"{plan.local}({inner}, {eps})")], [plan])
        if lib == "torch":
            plan = self.ctx.import_name("torch", "clamp")
            if plan is None:
                return None
            return Fix(FixSafety.UNSAFE, [(den, f"{plan.local}({inner}, min={eps})")], [plan])
        return None


def _same_args(a: cst.Call, b: cst.Call) -> bool:
    if len(a.args) != len(b.args):
        return False
    return all(
        cst_equal(x.value, y.value) and (x.keyword is None) == (y.keyword is None)
        for x, y in zip(a.args, b.args, strict=True)
    )


# -- the ast pre-scan -------------------------------------------------------------------------

_AST_DENOMINATOR_FUNCS = _NORM_FUNCS | _STD_FUNCS | _PTP_FUNCS
_AST_DENOMINATOR_METHODS = frozenset({"norm", "std", "ptp"})


class _DenominatorShapes:
    """The shapes of ``_denominator`` on ``ast`` nodes (names and receivers unchecked)."""

    def __init__(self, scan: Scan, facts: FileFacts) -> None:
        self.imports = _imports_of(scan, facts)

    def denominator(self, d: ast.expr) -> bool:
        if isinstance(d, ast.Call):
            func = d.func
            if isinstance(func, ast.Attribute) and func.attr in _AST_DENOMINATOR_METHODS:
                return True
            return bool(d.args) and self.imports.may_be(func, _AST_DENOMINATOR_FUNCS)
        if isinstance(d, ast.BinOp):
            if isinstance(d.op, ast.Sub):
                left, right = d.left, d.right
                return (
                    isinstance(left, ast.Call)
                    and isinstance(right, ast.Call)
                    and isinstance(left.func, ast.Attribute)
                    and isinstance(right.func, ast.Attribute)
                    and left.func.attr == "max"
                    and right.func.attr == "min"
                )
            if isinstance(d.op, ast.Mult):
                return self.denominator(d.left) and self.denominator(d.right)
        return False
