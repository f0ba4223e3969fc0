"""ML103 reduction-without-keepdims."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from mllint.prescan import Scan, int_literal
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.numerics.float_equality import _bound_values, _calls_named, _imports_of
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block, expression_names, int_value
from mllint.semantics.scopes import Scope

_NP_NAMES = frozenset(
    {
        "sum", "mean", "std", "var", "max", "min", "amax", "amin", "median", "prod", "ptp", "any",
        "all", "nansum", "nanmean", "nanstd", "nanvar", "nanmax", "nanmin", "nanmedian", "nanprod",
        "average",
    }
)  # fmt: skip
_TORCH_NAMES = frozenset(
    {
        "sum", "mean", "std", "var", "amax", "amin", "max", "min", "median", "prod", "norm",
        "logsumexp", "nansum", "nanmean", "any", "all",
    }
)  # fmt: skip
_TORCH_POSITIONAL = frozenset(
    {"sum", "mean", "std", "var", "amax", "amin", "max", "min", "median", "prod", "logsumexp",
     "nansum", "nanmean"}
)  # fmt: skip
_TORCH_TUPLE_RESULT = frozenset({"max", "min", "median"})


def _function_table() -> dict[str, tuple[str, bool]]:
    """qualified name -> (family, the axis may be the second positional argument)."""
    table: dict[str, tuple[str, bool]] = {}
    for name in _NP_NAMES:
        positional = name != "average"
        table[f"numpy.{name}"] = ("numpy", positional)
        table[f"jax.numpy.{name}"] = ("numpy", positional)
    for q in ("numpy.linalg.norm", "jax.numpy.linalg.norm", "scipy.special.logsumexp"):
        table[q] = ("numpy", False)
    for name in _TORCH_NAMES:
        table[f"torch.{name}"] = ("torch", name in _TORCH_POSITIONAL)
    for q in ("torch.linalg.norm", "torch.linalg.vector_norm"):
        table[q] = ("torch", False)
    return table


_FUNCTIONS = _function_table()
_METHODS = frozenset(
    {
        "sum", "mean", "std", "var", "max", "min", "amax", "amin", "median", "prod", "any", "all",
        "nansum", "nanmean", "norm", "logsumexp",
    }
)  # fmt: skip
#: one-dimensional constructors (RULES.md: axis -1 of such an array is its only axis)
_RANGE_CONSTRUCTORS = frozenset(
    {
        "numpy.arange", "numpy.linspace", "numpy.logspace", "numpy.geomspace", "torch.arange",
        "torch.linspace", "torch.logspace",
    }
)  # fmt: skip
_SIZE_CONSTRUCTORS = frozenset(
    {
        "numpy.zeros", "numpy.ones", "numpy.empty", "numpy.full", "numpy.random.rand",
        "numpy.random.randn", "torch.zeros", "torch.ones", "torch.empty", "torch.full",
        "torch.rand", "torch.randn",
    }
)  # fmt: skip
_LIST_CONSTRUCTORS = frozenset({"numpy.array", "numpy.asarray", "torch.tensor", "torch.as_tensor"})

_LIBRARIES = frozenset(
    {"numpy", "torch", "jax", "scipy", "pandas", "math", "statistics", "builtins"}
)

_PANDAS_METHODS: dict[type, str] = {
    cst.Subtract: "sub",
    cst.Add: "add",
    cst.Multiply: "mul",
    cst.Divide: "div",
    cst.FloorDivide: "floordiv",
    cst.Modulo: "mod",
    cst.Power: "pow",
    cst.LessThan: "lt",
    cst.LessThanEqual: "le",
    cst.GreaterThan: "gt",
    cst.GreaterThanEqual: "ge",
    cst.Equal: "eq",
    cst.NotEqual: "ne",
}
_PANDAS_REVERSED: dict[str, str] = {
    "sub": "rsub",
    "add": "radd",
    "mul": "rmul",
    "div": "rdiv",
    "floordiv": "rfloordiv",
    "mod": "rmod",
    "pow": "rpow",
    "lt": "gt",
    "le": "ge",
    "gt": "lt",
    "ge": "le",
    "eq": "eq",
    "ne": "ne",
}
_PANDAS_FIXABLE = frozenset({"sub", "add", "mul", "div"})
_BINARY_OPS = (
    cst.Add,
    cst.Subtract,
    cst.Multiply,
    cst.Divide,
    cst.FloorDivide,
    cst.Modulo,
    cst.Power,
)
_AUG_OPS = K.ARITHMETIC_AUG_OPS
_AUG_TO_BINARY: dict[type, type] = {
    cst.AddAssign: cst.Add,
    cst.SubtractAssign: cst.Subtract,
    cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide,
    cst.FloorDivideAssign: cst.FloorDivide,
    cst.ModuloAssign: cst.Modulo,
    cst.PowerAssign: cst.Power,
}
_COMPARE_OPS = (
    cst.LessThan,
    cst.LessThanEqual,
    cst.GreaterThan,
    cst.GreaterThanEqual,
    cst.Equal,
    cst.NotEqual,
)


@dataclass
class Reduction:
    """A reduction call with a literal, non-leading axis and no ``keepdims``."""

    call: cst.Call
    array: cst.BaseExpression  # A
    name: str  # sum, mean, max, ...
    method: bool  # A.<name>(...) rather than <module>.<name>(A, ...)
    family: str | None  # "numpy" / "torch" from the qualified name; None for methods
    axis_arg: cst.Arg
    axis_text: str
    axes: tuple[int, ...]
    keep_arg: cst.Arg | None  # an existing keepdims=False / keepdim=False


class ReductionWithoutKeepdims(Rule):
    """
    ## What it does
    Flags a reduction over a non-leading axis (`X.mean(axis=1)`, `np.sum(X, axis=-1)`,
    `counts.sum(dim=-1)`) that is combined, by arithmetic or a comparison, with the very array
    it reduced, without `keepdims=True` (`keepdim=True` in PyTorch). Also flags
    `mu = X.mean(axis=1)` followed by `X - mu`.

    ## Why is this bad?
    A reduction over axis k removes that axis: for `X` of shape (N, D), `X.mean(axis=1)` has
    shape (N,). NumPy and PyTorch broadcasting align shapes from the right, so (N,) is matched
    with the D axis, not the N axis: the operation raises `operands could not be broadcast
    together with shapes (3,4) (3,)` when N ≠ D, and when N == D (square batches, Gram
    matrices, images with equal spatial sizes) it silently uses the wrong statistics.
    `keepdims=True` keeps a length-1 axis, (N, 1), which broadcasts along the intended axis.
    Reductions over leading axes (`axis=0`, `axis=(0, 1)`) are fine: the remaining axes are the
    trailing ones.

    In pandas, `df - df.mean(axis=1)` aligns the row means (a Series indexed by row labels)
    with the *columns* and returns an all-NaN frame with extra columns; pandas reductions
    reject `keepdims`, so use `df.sub(df.mean(axis=1), axis=0)`. In PyTorch,
    `x.max(dim=1)`, `x.min(dim=1)` and `x.median(dim=1)` return a `(values, indices)` tuple,
    so `x - x.max(dim=1)` raises TypeError: use `x.amax(dim=1, keepdim=True)`.

    ## Example
    ```python
    def demean_rows(M: np.ndarray) -> np.ndarray:
        return M - np.mean(M, axis=1)

    def to_probs(counts: torch.Tensor) -> torch.Tensor:
        return counts / counts.sum(dim=-1)
    ```

    ## Use instead
    ```python
    def demean_rows(M: np.ndarray) -> np.ndarray:
        return M - np.mean(M, axis=1, keepdims=True)

    def to_probs(counts: torch.Tensor) -> torch.Tensor:
        return counts / counts.sum(dim=-1, keepdim=True)
    ```

    Not flagged: leading axes, no or non-literal axes, `keepdims=True`, a reduction that is
    re-expanded (`[:, None]`, `np.expand_dims`, `.reshape`, `.unsqueeze`, `.view`), a reduction
    combined with anything other than its own input, and axis -1 of an array built by a 1-D
    constructor (`np.arange(n)`, `np.linspace(...)`, `np.zeros(n)`, `np.array([1, 2, 3])`).

    ## Fix safety
    Unsafe: the result changes (that is the point), and a caller with square inputs may have
    relied on the wrong values. The fix adds `keepdims=True` (NumPy, JAX, SciPy, or an `axis=`
    keyword) or `keepdim=True` (PyTorch, or a `dim=` keyword), turns `keepdims=False` into
    `True`, rewrites PyTorch `max`/`min` to `amax`/`amin` and `median(...)` to
    `median(..., keepdim=True).values`, and rewrites `df - df.mean(axis=1)` to
    `df.sub(df.mean(axis=1), axis=0)` (likewise `add`, `mul`, `div`). It never adds `keepdims`
    where the array may be a pandas object, and there is no fix for `mu = X.mean(axis=1)`
    followed by `X - mu` (changing `mu`'s shape affects its other uses).
    """

    code = "ML103"
    name = "reduction-without-keepdims"
    summary = (
        "A reduction over a non-leading axis is broadcast back against its own input without "
        "`keepdims`"
    )
    tier = 1
    fix_safety = (FixSafety.UNSAFE,)
    # every reduction name contains one of these
    requires_text = (
        "sum", "mean", "std", "var", "max", "min", "median", "prod", "ptp", "any", "all",
        "average", "norm",
    )  # fmt: skip

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a reduction (a method of that name, or a call that may resolve to np/torch/jnp
        # .sum...) with a literal non-leading axis and no keepdims other than False, combined
        # by arithmetic, a comparison or an augmented assignment with (code equal to) its own
        # array, inline or through a name assigned the reduction
        imports = _imports_of(scan, facts)
        reductions = {
            id(c): c
            for c in _calls_named(scan, _AST_REDUCTION_NAMES)
            if _ast_reduction(c)
            and (
                (isinstance(c.func, ast.Attribute) and c.func.attr in _METHODS)
                or imports.may_be(c.func, _FUNCTIONS)
            )
        }
        if not reductions:
            return False
        # `mu = <reduction>` (the variable form)
        bound = _bound_values(scan, lambda v: id(v) in reductions)
        same = _SameCode()

        def combined(red_side: ast.expr, other: ast.expr) -> bool:
            """``other`` is the array of the reduction ``red_side`` is (or is bound to)."""
            call = reductions.get(id(red_side))
            calls = [call] if call is not None else []
            if isinstance(red_side, ast.Name):
                calls.extend(reductions[id(v)] for v in bound.get(red_side.id, ()))
            return any(same(other, a) for c in calls for a in _ast_arrays(c))

        for b in scan.of(ast.BinOp):
            if type(b.op) in _AST_BINARY_OPS and (
                combined(b.right, b.left) or combined(b.left, b.right)
            ):
                return True
        for c in scan.of(ast.Compare):
            operands = [c.left, *c.comparators]
            for i, op in enumerate(c.ops):
                left, right = operands[i], operands[i + 1]
                if type(op) in _AST_COMPARE_OPS and (
                    combined(right, left) or combined(left, right)
                ):
                    return True
        return any(
            type(g.op) in _AST_BINARY_OPS and combined(g.value, g.target)
            for g in scan.of(ast.AugAssign)
        )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._order: dict[int, int] = {}
        self._counter = 0

    # -- source order of binding nodes (for the variable form) -----------------------------
    # An assignment binds after its value is evaluated (marked when left); a loop, `with`,
    # `except` or `def` binds before its body runs (marked when entered).
    def _mark(self, node: cst.CSTNode) -> None:
        self._counter += 1
        self._order[id(node)] = self._counter

    def leave_Assign(self, original_node: cst.Assign) -> None:
        self._mark(original_node)

    def leave_AnnAssign(self, original_node: cst.AnnAssign) -> None:
        self._mark(original_node)

    def visit_For(self, node: cst.For) -> None:
        self._mark(node)

    def visit_With(self, node: cst.With) -> None:
        self._mark(node)

    def leave_NamedExpr(self, original_node: cst.NamedExpr) -> None:
        self._mark(original_node)

    def leave_Del(self, original_node: cst.Del) -> None:
        self._mark(original_node)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self._mark(node)

    def visit_Import(self, node: cst.Import) -> None:
        self._mark(node)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self._mark(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._mark(node)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._mark(node)

    def visit_MatchCase(self, node: cst.MatchCase) -> None:
        self._mark(node)

    # -- triggers --------------------------------------------------------------------------
    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, _BINARY_OPS):
            self._pair(node, node.left, node.right, type(node.operator))

    def visit_Comparison(self, node: cst.Comparison) -> None:
        left = node.left
        for target in node.comparisons:
            if isinstance(target.operator, _COMPARE_OPS) and self._pair(
                node, left, target.comparator, type(target.operator)
            ):
                return
            left = target.comparator

    def leave_AugAssign(self, original_node: cst.AugAssign) -> None:
        self._mark(original_node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.operator, _AUG_OPS):
            red = self.reduction(node.value)
            if red is not None and self.ctx.equal(node.target, red.array):
                self._report_inline(
                    node, node.target, red, _AUG_TO_BINARY[type(node.operator)], True
                )
                return
            if isinstance(node.value, cst.Name):
                self._variable(node, node.target, node.value)

    def _pair(
        self,
        node: cst.BinaryOperation | cst.Comparison,
        left: cst.BaseExpression,
        right: cst.BaseExpression,
        op: type,
    ) -> bool:
        ctx = self.ctx
        for red_side, other, red_on_right in ((right, left, True), (left, right, False)):
            red = self.reduction(red_side)
            if red is not None and ctx.equal(other, red.array):
                self._report_inline(node, other, red, op, red_on_right)
                return True
        for var, other in ((right, left), (left, right)):
            if isinstance(var, cst.Name) and self._variable(node, other, var):
                return True
        return False

    # -- recognising a reduction -------------------------------------------------------------
    def reduction(self, expr: cst.BaseExpression) -> Reduction | None:
        if not isinstance(expr, cst.Call):
            return None
        ctx = self.ctx
        call = expr
        if any(a.star == "**" for a in call.args):
            return None
        qual = ctx.qualname(call.func)
        array: cst.BaseExpression | None
        entry = _FUNCTIONS.get(qual) if qual is not None else None
        if entry is not None:
            assert qual is not None
            family: str | None = entry[0]
            positional_axis = entry[1]
            name = qual.rsplit(".", 1)[-1]
            array_arg = _arg(call, ("a", "input", "x"), 0)
            axis_arg = _arg(call, ("axis", "dim"), 1 if positional_axis else None)
            method = False
            array = array_arg.value if array_arg is not None else None
        else:
            func = call.func
            if not isinstance(func, cst.Attribute) or func.attr.value not in _METHODS:
                return None
            if qual is not None and qual.split(".", 1)[0] in _LIBRARIES:
                return None  # a library function that is not a reduction
            name = func.attr.value
            family = None
            method = True
            array = func.value
            axis_arg = _arg(call, ("axis", "dim"), None)
            if axis_arg is None and name != "norm":  # Tensor.norm's first argument is p
                first = _arg(call, (), 0)
                if first is not None and _literal_axes(first.value) is not None:
                    axis_arg = first
        if array is None or axis_arg is None or axis_arg.star:
            return None
        axes = _literal_axes(axis_arg.value)
        if axes is None or _leading(axes):
            return None
        keep_arg: cst.Arg | None = None
        for a in call.args:
            if a.keyword is not None and a.keyword.value in ("keepdims", "keepdim"):
                if not (isinstance(a.value, cst.Name) and a.value.value == "False"):
                    return None
                keep_arg = a
        axis_text = ctx.snippet(axis_arg.value, 30)
        return Reduction(call, array, name, method, family, axis_arg, axis_text, axes, keep_arg)

    def _exempt(self, red: Reduction) -> bool:
        """Kinds that make the finding wrong: axis -1 of a 1-D constructor, Series (axis 1
        is an error), non-array kinds, xarray objects (aligned by dimension name)."""
        ctx = self.ctx
        kind = ctx.kind(red.array)
        if kind is not None and kind not in (K.NDARRAY, K.TENSOR, K.DATAFRAME):
            return True
        if kind is None and (ctx.imports("xarray") or ctx.imports("scipy.sparse")):
            # xarray aligns by dimension name; reductions of scipy.sparse matrices return a
            # 2-D np.matrix, so `X / X.sum(axis=1)` broadcasts correctly on them
            return True
        return (
            red.axes == (-1,)
            and isinstance(red.array, cst.Name)
            and self._one_dimensional(red.array)
        )

    def _one_dimensional(self, name: cst.Name) -> bool:
        ctx = self.ctx
        bindings = ctx.bindings(name.value)
        if not bindings:
            return False
        for b in bindings:
            if (
                b.kind not in ("assign", "annassign")
                or b.unpacked
                or not isinstance(b.value, cst.Call)
            ):
                return False
            scope = b.scope or ctx.scope
            call = b.value
            q = ctx.qualname_in(call.func, scope)
            if q in _RANGE_CONSTRUCTORS:
                continue
            positional = [a for a in call.args if a.keyword is None and not a.star]
            if q in _SIZE_CONSTRUCTORS:
                size = _arg(call, ("shape", "size"), 0)
                if size is None or not _one_size(size.value, ctx.kind(size.value, scope)):
                    return False
                varargs_sizes = q.startswith(("torch.", "numpy.random."))
                if varargs_sizes and len(positional) > (2 if q.endswith(".full") else 1):
                    return False
                continue
            if q in _LIST_CONSTRUCTORS and positional:
                data = positional[0].value
                if (
                    isinstance(data, (cst.List, cst.Tuple))
                    and data.elements
                    and all(
                        isinstance(el, cst.Element) and _number(el.value) for el in data.elements
                    )
                ):
                    continue
            return False
        return True

    # -- families and fixes -------------------------------------------------------------------
    def _family(self, red: Reduction) -> str | None:
        """The library whose semantics apply: "numpy", "torch", "pandas" or None (unknown)."""
        ctx = self.ctx
        kind = ctx.kind(red.array)
        if kind == K.DATAFRAME:
            return "pandas"
        if red.family is not None:
            return red.family
        if kind == K.NDARRAY:
            return "numpy"
        if kind == K.TENSOR:
            return "torch"
        keywords = {a.keyword.value for a in red.call.args if a.keyword is not None}
        if "dim" in keywords or "keepdim" in keywords:
            return "torch"  # neither NumPy nor pandas accept these keywords
        numpy = ctx.imports("numpy") or ctx.imports("jax")
        torch = ctx.imports("torch")
        if torch and not numpy and "keepdims" not in keywords:
            return "torch"
        if numpy and not torch:
            return "numpy"
        return None

    def _keep_fix(self, red: Reduction) -> tuple[cst.BaseExpression | None, str]:
        """The reduction with ``keepdims``/``keepdim``: (new node or None, advice text)."""
        ctx = self.ctx
        family = self._family(red)
        if family == "torch" and red.name in _TORCH_TUPLE_RESULT:
            return self._torch_tuple_fix(red), self._torch_tuple_advice(red)
        kind = ctx.kind(red.array)
        axis_kw = red.axis_arg.keyword.value if red.axis_arg.keyword is not None else None
        if red.keep_arg is not None:
            assert red.keep_arg.keyword is not None
            keyword = red.keep_arg.keyword.value
        elif axis_kw == "dim" or red.family == "torch":
            keyword = "keepdim"
        elif axis_kw == "axis" or red.family == "numpy" or kind == K.NDARRAY:
            keyword = "keepdims"
        elif kind == K.TENSOR:
            keyword = "keepdim"
        else:
            numpy = ctx.imports("numpy") or ctx.imports("jax")
            torch = ctx.imports("torch")
            keyword = (
                "keepdims" if numpy and not torch else "keepdim" if torch and not numpy else ""
            )
        if keyword:
            advice = f"{keyword}=True"
        elif family == "numpy":
            advice = "keepdims=True"
        elif family == "torch":
            advice = "keepdim=True"
        else:
            advice = "keepdims=True (torch: keepdim=True)"
        if not keyword:
            return None, advice
        if self._maybe_pandas(red):
            return None, advice  # the array may be a pandas object, which rejects keepdims
        if (
            red.method
            and red.name in _TORCH_TUPLE_RESULT
            and kind != K.NDARRAY
            and ctx.imports("torch")
        ):
            # a tensor's max/min/median would still return a tuple
            return None, f"keepdims=True (torch: {self._torch_tuple_advice(red)})"
        return _with_keep(red, keyword), advice

    def _maybe_pandas(self, red: Reduction) -> bool:
        """The array's kind is unknown in a pandas module and the reduction would dispatch to
        a pandas method (a method call, or a NumPy function, which calls the method)."""
        return (
            self.ctx.kind(red.array) is None
            and self.ctx.imports("pandas")
            and (red.method or red.family == "numpy")
        )

    def _torch_tuple_fix(self, red: Reduction) -> cst.BaseExpression | None:
        call = red.call
        func = call.func
        if not isinstance(func, cst.Attribute):
            return None
        if red.name == "median":
            inner = _with_keep(red, "keepdim").with_changes(lpar=(), rpar=())
            return cst.Attribute(
                value=inner, attr=cst.Name("values"), lpar=call.lpar, rpar=call.rpar
            )
        new_func = func.with_changes(attr=cst.Name("a" + red.name))
        return _with_keep(red, "keepdim").with_changes(func=new_func)

    def _torch_tuple_advice(self, red: Reduction) -> str:
        return f"'{self.ctx.snippet(self._torch_tuple_fix_text(red), 60)}'"

    def _torch_tuple_fix_text(self, red: Reduction) -> cst.BaseExpression:
        new = self._torch_tuple_fix(red)
        if new is not None:
            return new
        # `from torch import max`: describe the method form
        inner = _with_keep(red, "keepdim")
        if red.name == "median":
            return cst.Attribute(value=inner, attr=cst.Name("values"))
        return inner.with_changes(func=cst.Name("a" + red.name))

    def _render(self, node: cst.CSTNode) -> str:
        return code_in_block(self.ctx.module, node, block_indents(self.ctx.module, self.ctx.stack))

    # -- reporting ----------------------------------------------------------------------------
    def _report_inline(
        self,
        node: cst.BinaryOperation | cst.Comparison | cst.AugAssign,
        other: cst.BaseExpression,
        red: Reduction,
        op: type,
        red_on_right: bool,
    ) -> None:
        if self._exempt(red):
            return
        ctx = self.ctx
        family = self._family(red)
        r_text = ctx.snippet(red.call, 60)
        x_text = ctx.snippet(other, 40)
        axis = _axis_phrase(red)
        method = _PANDAS_METHODS[op]
        use_method = method if red_on_right else _PANDAS_REVERSED[method]
        if isinstance(node, cst.AugAssign):
            use = f"{x_text} = {x_text}.{use_method}({r_text}, axis=0)"
        else:
            use = f"{x_text}.{use_method}({r_text}, axis=0)"
        if family == "pandas":
            message = (
                f"'{r_text}' is indexed by row labels, but '{ctx.snippet(node, 60)}' aligns it "
                f"with the columns ({_pandas_outcome(op)}); use '{use}'"
            )
            fix = None
            if isinstance(node, cst.BinaryOperation) and red_on_right and method in _PANDAS_FIXABLE:
                fix = self._pandas_fix(node, other, red, method)
            self.report(node, message, fix)
            return
        new, advice = self._keep_fix(red)
        if family == "torch" and red.name in _TORCH_TUPLE_RESULT:
            message = (
                f"'{r_text}' returns a (values, indices) tuple, so combining it with "
                f"'{x_text}' raises TypeError, and its values drop {axis} anyway; use {advice}"
            )
        else:
            if self._maybe_pandas(red):
                advice = f"{advice} (pandas: '{use}')"
            message = (
                f"'{r_text}' drops {axis}, so broadcasting against '{x_text}' aligns it with "
                f"the wrong axis (error, or silently wrong when the axes have equal length); "
                f"use {advice}"
            )
        fix = None
        if new is not None:
            fix = Fix(FixSafety.UNSAFE, [(red.call, self._render(new))])
        self.report(node, message, fix)

    def _pandas_fix(
        self, node: cst.BinaryOperation, frame: cst.BaseExpression, red: Reduction, method: str
    ) -> Fix:
        receiver = frame
        if (
            not isinstance(frame, (cst.Name, cst.Attribute, cst.Subscript, cst.Call))
            and not frame.lpar
        ):
            receiver = frame.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        new = cst.Call(
            func=cst.Attribute(value=receiver, attr=cst.Name(method)),
            args=[
                cst.Arg(red.call, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                cst.Arg(
                    cst.Integer("0"),
                    keyword=cst.Name("axis"),
                    equal=cst.AssignEqual(
                        whitespace_before=cst.SimpleWhitespace(""),
                        whitespace_after=cst.SimpleWhitespace(""),
                    ),
                ),
            ],
            lpar=node.lpar,
            rpar=node.rpar,
        )
        return Fix(FixSafety.UNSAFE, [(node, self._render(new))])

    def _variable(
        self,
        node: cst.BinaryOperation | cst.Comparison | cst.AugAssign,
        other: cst.BaseExpression,
        var: cst.Name,
    ) -> bool:
        """``mu = <R>`` earlier in the same scope, and ``other`` is CST-equal to R's array."""
        ctx = self.ctx
        bindings = ctx.bindings(var.value)
        if len(bindings) != 1:
            return False
        b = bindings[0]
        if b.kind not in ("assign", "annassign") or b.unpacked or b.value is None:
            return False
        if b.scope is not _home_scope(ctx.scope):
            return False
        red = self.reduction(b.value)
        if red is None or not ctx.equal(other, red.array) or self._exempt(red):
            return False
        bound_at = self._order.get(id(b.node))
        if bound_at is None:
            return False  # the use comes first in source order
        for name in expression_names(red.array):
            for nb in ctx.bindings(name):
                at = self._order.get(id(nb.node))
                if at is not None and at > bound_at:
                    return False  # the array was rebound in between
        family = self._family(red)
        r_text = ctx.snippet(red.call, 50)
        x_text = ctx.snippet(other, 40)
        mu = var.value
        axis = _axis_phrase(red)
        op = _operator_of(node)
        method = _PANDAS_METHODS.get(op, "sub") if op is not None else "sub"
        use_method = method if _is_right_operand(node, var) else _PANDAS_REVERSED[method]
        use = f"{x_text}.{use_method}({mu}, axis=0)"
        if isinstance(node, cst.AugAssign):
            use = f"{x_text} = {use}"
        if family == "pandas":
            message = (
                f"'{mu}' = '{r_text}' is indexed by row labels, but '{ctx.snippet(node, 50)}' "
                f"aligns it with the columns ({_pandas_outcome(op)}); use '{use}'"
            )
        elif family == "torch" and red.name in _TORCH_TUPLE_RESULT:
            message = (
                f"'{mu}' = '{r_text}' is a (values, indices) tuple, so combining it with "
                f"'{x_text}' raises TypeError, and its values drop {axis} anyway; compute "
                f"'{mu}' with {self._torch_tuple_advice(red)}"
            )
        else:
            _, advice = self._keep_fix(red)
            if self._maybe_pandas(red):
                advice = f"{advice} (pandas: '{use}')"
            message = (
                f"'{mu}' = '{r_text}' drops {axis}, so broadcasting '{mu}' against '{x_text}' "
                f"aligns it with the wrong axis (error, or silently wrong when the axes have "
                f"equal length); compute '{mu}' with {advice}"
            )
        self.report(node, message)
        return True


# -- the ast pre-scan -------------------------------------------------------------------------

#: every name ``reduction`` accepts: the last part of a ``_FUNCTIONS`` entry or a method
_AST_REDUCTION_NAMES = frozenset(q.rpartition(".")[2] for q in _FUNCTIONS) | _METHODS
_AST_BINARY_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_AST_COMPARE_OPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)


def _ast_reduction(call: ast.Call) -> bool:
    """The shape of a ``Reduction``: no ``**``, no keepdims other than ``False``, and a
    literal non-leading axis as ``axis=``/``dim=`` or as the first or second positional
    argument."""
    axes: list[ast.expr] = list(call.args[:2])
    for kw in call.keywords:
        if kw.arg is None:
            return False
        if kw.arg in ("keepdims", "keepdim"):
            if not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                return False
        elif kw.arg in ("axis", "dim"):
            axes.append(kw.value)
    for node in axes:
        values = _ast_literal_axes(node)
        if values is not None and not _leading(values):
            return True
    return False


def _ast_arrays(call: ast.Call) -> list[ast.expr]:
    """What ``reduction`` may take as the reduced array: the receiver of a method, or the
    ``a``/``input``/``x`` keyword or first positional argument of a function."""
    out: list[ast.expr] = [kw.value for kw in call.keywords if kw.arg in ("a", "input", "x")]
    if call.args and not isinstance(call.args[0], ast.Starred):
        out.append(call.args[0])
    if isinstance(call.func, ast.Attribute):
        out.append(call.func.value)
    return out


class _SameCode:
    """``cst_equal`` on ``ast`` nodes, at least as loose: the same code once whitespace and
    every parenthesis are removed (``cst_equal`` drops whitespace and the parentheses around
    expressions, so ``(a + b) * c`` equals ``a + b * c`` there; ``ast.unparse`` also forgets
    quote styles and number spellings)."""

    def __init__(self) -> None:
        self._code: dict[int, str] = {}

    def __call__(self, a: ast.expr, b: ast.expr) -> bool:
        if isinstance(a, ast.Name) and isinstance(b, ast.Name):
            return a.id == b.id
        return self.code(a) == self.code(b)

    def code(self, node: ast.expr) -> str:
        found = self._code.get(id(node))
        if found is None:
            code = "".join(ast.unparse(node).split())
            found = self._code[id(node)] = code.replace("(", "").replace(")", "")
        return found


def _ast_literal_axes(node: ast.expr) -> tuple[int, ...] | None:
    """``_literal_axes`` on an ``ast`` node."""
    single = int_literal(node)
    if single is not None:
        return (single,)
    if isinstance(node, (ast.Tuple, ast.List)) and node.elts:
        out: list[int] = []
        for el in node.elts:
            v = int_literal(el)
            if v is None:
                return None
            out.append(v)
        return tuple(out)
    return None


# -- helpers ----------------------------------------------------------------------------------


def _arg(call: cst.Call, keywords: tuple[str, ...], position: int | None) -> cst.Arg | None:
    for a in call.args:
        if a.keyword is not None and a.keyword.value in keywords:
            return a
    if position is None:
        return None
    idx = 0
    for a in call.args:
        if a.star:
            return None
        if a.keyword is not None:
            continue
        if idx == position:
            return a
        idx += 1
    return None


def _literal_axes(node: cst.BaseExpression) -> tuple[int, ...] | None:
    """The axes of an int literal, or a tuple/list display of int literals."""
    single = int_value(node)
    if single is not None:
        return (single,)
    if isinstance(node, (cst.Tuple, cst.List)) and node.elements:
        out: list[int] = []
        for el in node.elements:
            if not isinstance(el, cst.Element):
                return None
            v = int_value(el.value)
            if v is None:
                return None
            out.append(v)
        return tuple(out)
    return None


def _leading(axes: tuple[int, ...]) -> bool:
    """``0`` or exactly the leading axes ``(0,)``, ``(0, 1)``, ``(0, 1, 2)``, ..."""
    return set(axes) == set(range(len(set(axes))))


def _axis_phrase(red: Reduction) -> str:
    if len(red.axes) == 1 and not isinstance(red.axis_arg.value, (cst.Tuple, cst.List)):
        return f"axis {red.axis_text}"
    return f"axes {red.axis_text}"


def _with_keep(red: Reduction, keyword: str) -> cst.Call:
    """The call with ``keyword=True`` (flipping an existing ``keepdim(s)=False``)."""
    call = red.call
    true = cst.Name("True")
    if red.keep_arg is not None:
        args = [a.with_changes(value=true) if a is red.keep_arg else a for a in call.args]
        return call.with_changes(args=args)
    args = list(call.args)
    last = args[-1]
    new_arg = cst.Arg(
        true,
        keyword=cst.Name(keyword),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
        comma=last.comma,
    )
    args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    args.append(new_arg)
    return call.with_changes(args=args)


def _one_size(node: cst.BaseExpression, kind: str | None) -> bool:
    """A shape argument that makes a 1-D array: an int, or a 1-tuple/list of one."""
    if isinstance(node, (cst.Tuple, cst.List)):
        return (
            len(node.elements) == 1
            and isinstance(node.elements[0], cst.Element)
            and _int_like(node.elements[0].value, None)
        )
    return _int_like(node, kind)


def _int_like(node: cst.BaseExpression, kind: str | None) -> bool:
    if isinstance(node, (cst.Integer, cst.Subscript, cst.BinaryOperation)):
        return True
    if isinstance(node, cst.UnaryOperation):
        return isinstance(node.expression, cst.Integer)
    if isinstance(node, cst.Name):
        return kind is None or kind not in (K.TUPLE, K.LIST)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name):
        return node.func.value in ("len", "int")
    return False


def _number(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        return isinstance(node.expression, (cst.Integer, cst.Float))
    return isinstance(node, cst.Name) and node.value in ("True", "False")


def _pandas_outcome(op: type | None) -> str:
    if op in _COMPARE_OPS:
        return "ValueError 'Operands are not aligned', or wrong results when row and column labels coincide"
    return "an all-NaN frame with the row labels as extra columns, or wrong values when row and column labels coincide"


def _home_scope(scope: Scope) -> Scope:
    s = scope
    while s.kind in ("lambda", "comprehension") and s.parent is not None:
        s = s.parent
    return s


def _operator_of(node: cst.BinaryOperation | cst.Comparison | cst.AugAssign) -> type | None:
    if isinstance(node, cst.BinaryOperation):
        return type(node.operator)
    if isinstance(node, cst.AugAssign):
        return _AUG_TO_BINARY.get(type(node.operator))
    for t in node.comparisons:
        if isinstance(t.operator, _COMPARE_OPS):
            return type(t.operator)
    return None


def _is_right_operand(
    node: cst.BinaryOperation | cst.Comparison | cst.AugAssign, var: cst.Name
) -> bool:
    if isinstance(node, cst.BinaryOperation):
        return node.right is var
    if isinstance(node, cst.AugAssign):
        return True
    return node.left is not var
