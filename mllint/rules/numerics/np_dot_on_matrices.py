"""ML911 np-dot-on-matrices."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.numerics.float_equality import _bound_values, _Imports, _imports_of
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg, int_value, positional_args
from mllint.semantics.scopes import Scope

_SHAPE_FUNCS = frozenset({"zeros", "ones", "empty", "full"})
_RANDOM_DIMS = frozenset({"rand", "randn"})
_SIZE_SAMPLERS = frozenset(
    {"normal", "uniform", "random", "random_sample", "standard_normal", "randint", "integers"}
)
_ONE_D = frozenset({"arange", "linspace", "logspace", "geomspace"})
_SIMPLE = (cst.Name, cst.Attribute, cst.Subscript, cst.Call)


def _depth(node: cst.BaseExpression) -> int:
    """Nesting depth of a list/tuple display (``[[1, 2]]`` -> 2)."""
    d = 0
    while isinstance(node, (cst.List, cst.Tuple)) and node.elements:
        d += 1
        node = node.elements[0].value
    return d


class NpDotOnMatrices(Rule):
    """
    ## What it does
    Flags `np.dot(a, b)` where at least one operand is visibly a matrix: a name bound once to
    a 2-D NumPy constructor (`np.zeros((n, m))`, `np.eye(n)`, `np.random.rand(n, m)`,
    `np.array([[...]])`), a transpose `X.T`, or a matrix product `X @ W`.

    ## Why is this bad?
    `@` (`np.matmul`) says "matrix product" and broadcasts over stacks of matrices;
    `np.dot` on N-D inputs is a tensor contraction with a different result shape
    (`(2, 3, 4)` · `(2, 4, 5)` gives `(2, 3, 2, 5)` with `np.dot`, `(2, 3, 5)` with `@`),
    and it silently accepts scalars. Note that `np.dot(x, W)` with `x` of shape `(n,)` and
    `W` of shape `(m, n)` does not return `(m,)`: it raises `shapes not aligned` unless
    `m == n`.

    ## Example
    ```python
    W = np.random.randn(64, 128)
    h = np.dot(W, x)
    ```

    ## Use instead
    ```python
    W = np.random.randn(64, 128)
    h = W @ x
    ```

    ## Fix safety
    Unsafe: `np.dot(a, b)` becomes `a @ b` (parenthesised where needed), only when both
    operands are names bound to 1-D or 2-D NumPy constructors. `@` rejects scalars and
    differs from `np.dot` on N-D inputs, and subclasses or array-likes may implement the
    two differently.
    """

    code = "ML911"
    name = "np-dot-on-matrices"
    summary = "`np.dot(A, B)` for matrix products instead of `A @ B`"
    tier = 2
    default_enabled = False
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("dot",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a call that may resolve to numpy.dot with exactly two positional arguments, one of
        # them `X.T`, `A @ B` or a name assigned a 2-D NumPy constructor call
        imports = _imports_of(scan, facts)
        calls = [
            c
            for c in imports.calls(("numpy.dot",))
            if len(c.args) == 2
            and not c.keywords
            and not any(isinstance(a, ast.Starred) for a in c.args)
        ]
        if not calls:
            return False
        matrices: dict[str, list[ast.expr]] | None = None
        for c in calls:
            for a in c.args:
                if (isinstance(a, ast.Attribute) and a.attr == "T") or (
                    isinstance(a, ast.BinOp) and isinstance(a.op, ast.MatMult)
                ):
                    return True
                if isinstance(a, ast.Name):
                    if matrices is None:
                        matrices = _bound_values(
                            scan, lambda v: isinstance(v, ast.Call) and _ast_2d(v, imports)
                        )
                    if a.id in matrices:
                        return True
        return False

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.qualname(node.func) != "numpy.dot":
            return
        pos = positional_args(node)
        if len(pos) != 2 or len(node.args) != 2:
            return
        a, b = pos[0].value, pos[1].value
        dims = [self._ndim(a), self._ndim(b)]
        if not any(d == 2 or self._matrix_expr(e) for d, e in zip(dims, (a, b), strict=True)):
            return
        fix = None
        if all(d in (1, 2) for d in dims) and isinstance(a, cst.Name) and isinstance(b, cst.Name):
            text = f"{a.value} @ {b.value}"
            parent = self.ctx.parent
            bare = isinstance(parent, (cst.Assign, cst.Return, cst.Arg, cst.AnnAssign, cst.Expr))
            fix = Fix(FixSafety.UNSAFE, [(node, text if bare else f"({text})")])
        self.report(
            node,
            "Use the @ operator (np.matmul) for matrix products; np.dot has different rules for "
            "scalars and N-D inputs",
            fix,
        )

    def _matrix_expr(self, e: cst.BaseExpression) -> bool:
        if isinstance(e, cst.Attribute) and e.attr.value == "T":
            return True
        return isinstance(e, cst.BinaryOperation) and isinstance(e.operator, cst.MatrixMultiply)

    def _ndim(self, e: cst.BaseExpression) -> int | None:
        if not isinstance(e, cst.Name):
            return None
        bindings = self.ctx.bindings(e.value)
        if len(bindings) != 1 or bindings[0].kind != "assign" or bindings[0].unpacked:
            return None
        value = bindings[0].value
        scope = bindings[0].scope
        if not isinstance(value, cst.Call) or scope is None:
            return None
        return self._ndim_of_call(value, scope)

    def _ndim_of_call(self, call: cst.Call, scope: Scope) -> int | None:
        q = self.ctx.qualname_in(call.func, scope)
        if q is None:
            return None
        mod, _, last = q.rpartition(".")
        pos = positional_args(call)
        if mod == "numpy":
            if last in _SHAPE_FUNCS and pos:
                shape = pos[0].value
                if isinstance(shape, (cst.Tuple, cst.List)):
                    return len(shape.elements) if shape.elements else None
                return 1 if int_value(shape) is not None else None
            if last in ("eye", "identity"):
                return 2
            if last in _ONE_D:
                return 1
            if last in ("array", "asarray") and pos:
                d = _depth(pos[0].value)
                return d or None
        if mod == "numpy.random":
            if last in _RANDOM_DIMS:
                if any(a.star for a in call.args) or call_arg(call, "size") is not None:
                    return None
                return len(pos) or None
            if last in _SIZE_SAMPLERS:
                size = call_arg(call, "size")
                if size is not None and isinstance(size.value, cst.Tuple):
                    return len(size.value.elements) or None
        return None


def _ast_2d(call: ast.Call, imports: _Imports) -> bool:
    """``_ndim_of_call(call) == 2`` for some qualified name the callee may resolve to."""
    pos = [a for a in call.args if not isinstance(a, ast.Starred)]
    for q in imports.qualnames(call.func):
        mod, _, last = q.rpartition(".")
        if mod == "numpy":
            if last in _SHAPE_FUNCS and pos:
                shape = pos[0]
                if isinstance(shape, (ast.Tuple, ast.List)) and len(shape.elts) == 2:
                    return True
            if last in ("eye", "identity"):
                return True
            if last in ("array", "asarray") and pos and _ast_depth(pos[0]) == 2:
                return True
        if mod == "numpy.random":
            if (
                last in _RANDOM_DIMS
                and len(pos) == 2
                and len(call.args) == 2
                and not any(kw.arg in (None, "size") for kw in call.keywords)
            ):
                return True
            if last in _SIZE_SAMPLERS:
                for kw in call.keywords:
                    if (
                        kw.arg == "size"
                        and isinstance(kw.value, ast.Tuple)
                        and len(kw.value.elts) == 2
                    ):
                        return True
    return False


def _ast_depth(node: ast.expr) -> int:
    d = 0
    while isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        d += 1
        node = node.elts[0]
        if isinstance(node, ast.Starred):  # libcst: a StarredElement's value
            node = node.value
    return d
