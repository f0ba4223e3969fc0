"""ML106 eig-on-symmetric-matrix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.numerics.float_equality import _imports_of
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts, ImportPlan
from mllint.semantics.cstutil import cst_equal, iter_names_in_target
from mllint.semantics.walk import iter_descendants

_EIG = {
    "numpy.linalg.eig": ("numpy.linalg", "eigh"),
    "numpy.linalg.eigvals": ("numpy.linalg", "eigvalsh"),
    "scipy.linalg.eig": ("scipy.linalg", "eigh"),
    "scipy.linalg.eigvals": ("scipy.linalg", "eigvalsh"),
    "torch.linalg.eig": ("torch.linalg", "eigh"),
    "torch.linalg.eigvals": ("torch.linalg", "eigvalsh"),
}
_SYMMETRIC_FUNCS = frozenset({"numpy.cov", "numpy.corrcoef", "torch.cov", "torch.corrcoef"})
_PRODUCT_FUNCS = frozenset({"numpy.dot", "numpy.matmul", "torch.matmul", "torch.mm"})
_SHORT = {"numpy": "np"}


class EigOnSymmetricMatrix(Rule):
    """
    ## What it does
    Flags `eig`/`eigvals` (`numpy.linalg`, `scipy.linalg`, `torch.linalg`) applied to a matrix
    that is symmetric by construction: `np.cov(...)`, `np.corrcoef(...)`, `torch.cov(...)`,
    `df.cov()`/`df.corr()` (optionally with `.values`/`.to_numpy()`), a Gram matrix
    `X.T @ X`, `X @ X.T`, `np.dot(X.T, X)`, `X.T.dot(X)`, or `A + A.T` — written inline or
    stored once in a name.

    ## Why is this bad?
    `eigh`/`eigvalsh` exploit symmetry: they are faster, return real eigenvalues in ascending
    order and orthonormal eigenvectors. `eig` returns the eigenvalues in no particular order
    (for a 30-by-30 covariance matrix neither ascending nor descending) and may return complex
    values with tiny imaginary parts when rounding makes the input slightly asymmetric, so
    "take the first k components" code silently picks the wrong ones.

    ## Example
    ```python
    eigenvalues, eigenvectors = np.linalg.eig(np.cov(X.T))
    ```

    ## Use instead
    ```python
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(X.T))
    order = np.argsort(eigenvalues)[::-1]
    ```

    ## Fix safety
    Unsafe: `eig` → `eigh` and `eigvals` → `eigvalsh` (same module). The eigenvalues come out
    in ascending order and real-valued, so the fix is skipped when the result is used by
    position (any subscript such as `w[0]`, `w[:k]`, `V[:, 0]`, `V[:, i]`) without an
    `argsort`/`sort` of the eigenvalues in the same scope, or when the result is not assigned
    to names.
    """

    code = "ML106"
    name = "eig-on-symmetric-matrix"
    summary = "`eig`/`eigvals` on a covariance, correlation or Gram matrix instead of `eigh`"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("eig",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a call that may resolve to eig/eigvals (numpy, scipy, torch) with an argument
        return any(c.args or c.keywords for c in _imports_of(scan, facts).calls(_EIG))

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        q = ctx.qualname(node.func)
        if q not in _EIG or not node.args:
            return
        first = node.args[0]
        if first.star or (
            first.keyword is not None and first.keyword.value not in ("a", "A", "input")
        ):
            return
        matrix = first.value
        if not self._symmetric(matrix) and not self._symmetric_name(matrix):
            return
        module, new_name = _EIG[q]
        func = node.func
        plan: ImportPlan | None = None
        if isinstance(func, cst.Attribute):
            replacement: str | None = ctx.code(func.value).strip() + "." + new_name
        else:
            plan = ctx.import_name(module, new_name)
            replacement = plan.local if plan is not None else None
        shown_module = (
            ctx.code(func.value).strip() if isinstance(func, cst.Attribute) else _spelled(module)
        )
        message = (
            f"{ctx.snippet(matrix, 40)} is symmetric; use {shown_module}.eigh/eigvalsh (real "
            f"eigenvalues in ascending order, orthonormal eigenvectors, faster) instead of eig"
        )
        fix = None
        if replacement is not None and self._order_safe(node):
            fix = Fix(FixSafety.UNSAFE, [(func, replacement)], [plan] if plan is not None else [])
        self.report(node, message, fix)

    # -- symmetric by construction ----------------------------------------------------------
    def _symmetric(self, expr: cst.BaseExpression) -> bool:
        ctx = self.ctx
        if isinstance(expr, cst.Attribute) and expr.attr.value == "values":
            return self._frame_stat(expr.value)
        if isinstance(expr, cst.Call):
            func = expr.func
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value == "to_numpy"
                and not expr.args
                and self._frame_stat(func.value)
            ):
                return True
            if self._frame_stat(expr):
                return True
            q = ctx.qualname(func)
            if q in _SYMMETRIC_FUNCS:
                return True
            args = [a for a in expr.args if a.keyword is None and not a.star]
            if q in _PRODUCT_FUNCS and len(args) == 2 and len(expr.args) == 2:
                return _gram(args[0].value, args[1].value)
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value == "dot"
                and len(expr.args) == 1
                and len(args) == 1
            ):
                return _gram(func.value, args[0].value)
            return False
        if isinstance(expr, cst.BinaryOperation):
            if isinstance(expr.operator, cst.MatrixMultiply):
                return _gram(expr.left, expr.right)
            if isinstance(expr.operator, cst.Add):
                return _transposed(expr.right, expr.left) or _transposed(expr.left, expr.right)
        return False

    def _frame_stat(self, expr: cst.BaseExpression) -> bool:
        """``D.cov()`` / ``D.corr(...)`` on a DataFrame."""
        return (
            isinstance(expr, cst.Call)
            and isinstance(expr.func, cst.Attribute)
            and expr.func.attr.value in ("cov", "corr")
            and self.ctx.kind(expr.func.value) == K.DATAFRAME
        )

    def _symmetric_name(self, expr: cst.BaseExpression) -> bool:
        if not isinstance(expr, cst.Name):
            return False
        bindings = self.ctx.bindings(expr.value)
        if len(bindings) != 1:
            return False
        b = bindings[0]
        if b.kind not in ("assign", "annassign") or b.unpacked or b.value is None:
            return False
        return self._symmetric(b.value)

    # -- fix condition --------------------------------------------------------------------------
    def _order_safe(self, call: cst.Call) -> bool:
        """The result is assigned to names that are not used by position (unless the
        eigenvalues are sorted)."""
        ctx = self.ctx
        parent = ctx.parent
        if (
            not isinstance(parent, cst.Assign)
            or parent.value is not call
            or len(parent.targets) != 1
        ):
            return False
        target = parent.targets[0].target
        ordered = [n.value for n in iter_names_in_target(target)]
        names = set(ordered)
        if not names or not (isinstance(target, cst.Name) or len(names) == 2):
            return False
        scope_node = ctx.function_scope()
        root: cst.CSTNode = scope_node.node if scope_node is not None else ctx.module
        values = ordered[0]
        positional = False
        sorted_values = False
        for n in iter_descendants(root):
            if (
                isinstance(n, cst.Subscript)
                and isinstance(n.value, cst.Name)
                and n.value.value in names
            ):
                positional = True  # w[0], w[:k], V[:, i], ...
            elif isinstance(n, cst.Call):
                func = n.func
                fname = (
                    func.attr.value
                    if isinstance(func, cst.Attribute)
                    else (func.value if isinstance(func, cst.Name) else None)
                )
                if fname in ("argsort", "sort", "sorted"):
                    receiver = func.value if isinstance(func, cst.Attribute) else None
                    operands = [a.value for a in n.args] + (
                        [receiver] if receiver is not None else []
                    )
                    if any(isinstance(o, cst.Name) and o.value == values for o in operands):
                        sorted_values = True
        return sorted_values or not positional


def _is_transpose_of(t: cst.BaseExpression, x: cst.BaseExpression) -> bool:
    """``t`` is ``x.T`` (or ``x.transpose()``/``x.t()`` without arguments)."""
    if isinstance(t, cst.Attribute) and t.attr.value in ("T", "mT", "H"):
        return cst_equal(t.value, x)
    if (
        isinstance(t, cst.Call)
        and not t.args
        and isinstance(t.func, cst.Attribute)
        and t.func.attr.value in ("transpose", "t")
    ):
        return cst_equal(t.func.value, x)
    return False


def _gram(left: cst.BaseExpression, right: cst.BaseExpression) -> bool:
    return _is_transpose_of(left, right) or _is_transpose_of(right, left)


def _transposed(t: cst.BaseExpression, x: cst.BaseExpression) -> bool:
    return _is_transpose_of(t, x)


def _spelled(module: str) -> str:
    for long, short in _SHORT.items():
        if module == long or module.startswith(long + "."):
            return short + module[len(long) :]
    return module
