"""ML105 inverse-then-multiply."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.numerics.float_equality import _bound_values, _imports_of
from mllint.semantics.context import FileFacts, ImportPlan
from mllint.semantics.cstutil import block_indents, code_in_block
from mllint.semantics.walk import iter_descendants

#: inverse function -> the module whose ``solve`` replaces it
_INVERSES = {
    "numpy.linalg.inv": "numpy.linalg",
    "scipy.linalg.inv": "scipy.linalg",
    "torch.linalg.inv": "torch.linalg",
    "torch.inverse": "torch.linalg",
    "jax.numpy.linalg.inv": "jax.numpy.linalg",
}
_PRODUCT_FUNCS = frozenset({"numpy.dot", "numpy.matmul"})
_SHORT = {"numpy": "np", "jax.numpy": "jnp"}


class InverseThenMultiply(Rule):
    """
    ## What it does
    Flags `inv(A) @ b`, `np.dot(inv(A), b)`, `np.matmul(inv(A), b)` and `inv(A).dot(b)` for
    `numpy.linalg.inv`, `scipy.linalg.inv`, `torch.linalg.inv`, `torch.inverse` and
    `jax.numpy.linalg.inv`, also when the inverse is first stored in a name that is used only
    for that one product.

    ## Why is this bad?
    Solving `A x = b` through an LU factorisation is cheaper than forming `A⁻¹` and
    multiplying, and it does not amplify rounding errors when `A` is ill-conditioned. An
    explicit inverse is only worth computing when it is reused many times.

    ## Example
    ```python
    w = np.linalg.inv(X.T @ X) @ (X.T @ y)
    ```

    ## Use instead
    ```python
    w = np.linalg.solve(X.T @ X, X.T @ y)
    # for least squares, better still:
    w, *_ = np.linalg.lstsq(X, y, rcond=None)
    ```

    An inverse that is used more than once or returned, right multiplication `b @ inv(A)`
    and `np.linalg.pinv` are not flagged.

    ## Fix safety
    Unsafe: the result differs in the last bits (it is more accurate), and for stacked
    (batched) `A`, NumPy ≥ 2 treats `b` as a stack of vectors only when `b.ndim == 1`. The
    product is rewritten to `<module>.solve(A, b)`; in a chain `inv(A) @ B @ y` only the
    innermost product is rewritten (`solve(A, B) @ y`). A stored inverse is reported only.
    """

    code = "ML105"
    name = "inverse-then-multiply"
    summary = "`inv(A) @ b` instead of solving the linear system"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("inv",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a product (`L @ R`, np.dot/np.matmul(L, R), `L.dot(R)`) whose left operand L is a
        # call that may resolve to an inverse with one positional argument, or a name
        # assigned one
        imports = _imports_of(scan, facts)
        inverses = {
            id(c)
            for c in imports.calls(_INVERSES)
            if len(c.args) == 1 and not c.keywords and not isinstance(c.args[0], ast.Starred)
        }
        if not inverses:
            return False
        stored = _bound_values(scan, lambda v: id(v) in inverses)

        def inverse(e: ast.expr) -> bool:
            return id(e) in inverses or (isinstance(e, ast.Name) and e.id in stored)

        if any(type(b.op) is ast.MatMult and inverse(b.left) for b in scan.of(ast.BinOp)):
            return True
        for c in scan.calls("dot"):
            if (
                isinstance(c.func, ast.Attribute)
                and len(c.args) == 1
                and not c.keywords
                and inverse(c.func.value)
            ):
                return True
        return any(
            len(c.args) == 2 and not c.keywords and inverse(c.args[0])
            for c in imports.calls(_PRODUCT_FUNCS)
        )

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.MatrixMultiply):
            self._check(node, node.left, node.right)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        args = node.args
        if any(a.star or a.keyword is not None for a in args):
            return
        if len(args) == 2 and self.ctx.qualname(func) in _PRODUCT_FUNCS:
            self._check(node, args[0].value, args[1].value)
        elif len(args) == 1 and isinstance(func, cst.Attribute) and func.attr.value == "dot":
            self._check(node, func.value, args[0].value)

    # -- the trigger ------------------------------------------------------------------------
    def _check(
        self, product: cst.BaseExpression, left: cst.BaseExpression, right: cst.BaseExpression
    ) -> None:
        ctx = self.ctx
        inverse, stored = self._inverse(left)
        if inverse is None:
            return
        q = ctx.qualname(inverse.func)
        assert q is not None
        module = _INVERSES[q]
        matrix = inverse.args[0].value
        func = inverse.func
        plan: ImportPlan | None = None
        if isinstance(func, cst.Attribute):
            # reuse the spelling of the inverse: `np.linalg.inv` -> `np.linalg.solve`
            suffix = ".linalg.solve" if q == "torch.inverse" else ".solve"
            solve: str | None = ctx.code(func.value).strip() + suffix
        else:
            plan = ctx.import_name(module, "solve")
            solve = plan.local if plan is not None else None
        shown = solve or _spelled(module) + ".solve"
        a_text = ctx.snippet(matrix, 40)
        b_text = ctx.snippet(right, 40)
        message = (
            f"inv({a_text}) @ {b_text} computes an explicit inverse; {shown}({a_text}, {b_text}) "
            f"is faster and numerically more stable"
        )
        fix = None
        if not stored and solve is not None:
            new = cst.Call(
                func=cst.parse_expression(solve),
                args=[
                    cst.Arg(
                        matrix.with_changes(lpar=(), rpar=())
                        if _parens_redundant(matrix)
                        else matrix,
                        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
                    ),
                    cst.Arg(
                        right.with_changes(lpar=(), rpar=()) if _parens_redundant(right) else right
                    ),
                ],
                lpar=getattr(product, "lpar", ()),
                rpar=getattr(product, "rpar", ()),
            )
            text = code_in_block(ctx.module, new, block_indents(ctx.module, ctx.stack))
            fix = Fix(FixSafety.UNSAFE, [(product, text)], [plan] if plan is not None else [])
        self.report(product, message, fix)

    def _inverse(self, expr: cst.BaseExpression) -> tuple[cst.Call | None, bool]:
        """The ``inv(A)`` call of ``expr`` (directly, or through a name bound once to it and
        used only here); the flag says whether it came through a name."""
        call = self._inverse_call(expr)
        if call is not None:
            return call, False
        if not isinstance(expr, cst.Name):
            return None, False
        bindings = self.ctx.bindings(expr.value)
        if len(bindings) != 1:
            return None, False
        b = bindings[0]
        if b.kind != "assign" or b.unpacked or b.value is None or b.scope is None:
            return None, False
        call = self._inverse_call(b.value)
        if call is None or b.scope.kind not in ("function", "module"):
            return None, False
        if b.scope.kind == "module" and self.ctx.scope is not b.scope:
            return None, False
        uses = 0
        for n in iter_descendants(b.scope.node):
            if isinstance(n, cst.Name) and n.value == expr.value:
                uses += 1
        # the binding target and this one use
        return (call, True) if uses == 2 else (None, False)

    def _inverse_call(self, expr: cst.BaseExpression) -> cst.Call | None:
        if not isinstance(expr, cst.Call) or len(expr.args) != 1:
            return None
        arg = expr.args[0]
        if arg.star or arg.keyword is not None:
            return None
        if self.ctx.qualname(expr.func) in _INVERSES:
            return expr
        return None


def _spelled(module: str) -> str:
    for long, short in _SHORT.items():
        if module == long or module.startswith(long + "."):
            return short + module[len(long) :]
    return module


def _parens_redundant(node: cst.BaseExpression) -> bool:
    """Parentheses around an argument can go (it is not a generator expression / tuple)."""
    return bool(getattr(node, "lpar", ())) and not isinstance(node, (cst.GeneratorExp, cst.Tuple))
