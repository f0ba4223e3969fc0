"""ML108 write-to-indexing-copy."""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from mllint.rule import Rule
from mllint.semantics import kinds as K
from mllint.semantics.walk import iter_descendants

_ARRAYS = frozenset({K.NDARRAY, K.TENSOR})
_INDEX_KINDS = frozenset({K.LIST, K.NDARRAY, K.TENSOR})
_MASK_FUNCS = frozenset({"numpy.isnan", "numpy.isin", "numpy.isfinite", "numpy.isinf"})
_INPLACE_METHODS = frozenset({"fill", "sort"})


class WriteToIndexingCopy(Rule):
    """
    ## What it does
    Flags writes that go through advanced indexing of a NumPy array or a torch tensor and
    therefore never reach it: `A[mask][j] = v` / `A[[0, 1]][j] += v` where the first index is
    a boolean mask (a comparison, `~`/`&`/`|`, `np.isnan/isin/isfinite`) or an integer
    list/array; and `B = A[mask]` followed by an in-place write to `B` (`B[...] = v`,
    `B op= v`, `B.fill(...)`, `B.sort()`, `np.copyto(B, ...)`) when `B` is never read again.

    ## Why is this bad?
    Basic slicing (ints, slices, `None`, `...`) returns a view, but indexing with a boolean
    mask or an integer list/array always returns a new array. Writing into that copy leaves the
    original unchanged: `a[a > 2][0] = 99` and `a[[0, 1]][0] = 99` do nothing to `a`.

    ## Example
    ```python
    X[X[:, 0] < 0][:, 0] = 0.0
    outliers = X[np.abs(X) > 5]
    outliers[:] = 5
    ```

    ## Use instead
    ```python
    X[X[:, 0] < 0, 0] = 0.0
    X[np.abs(X) > 5] = 5
    ```

    Basic indexing (`a[2:5][0] = 99` writes through a view), pandas objects (see ML201) and
    arrays of unknown type are not flagged.

    ## Fix safety
    No fix: the combined index is not always expressible mechanically.
    """

    code = "ML108"
    name = "write-to-indexing-copy"
    summary = "Writing through advanced (fancy/boolean) indexing of an array, which returns a copy"
    tier = 2
    requires_text = ("[",)

    # -- (a) A[I1][I2] = v -----------------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._chained(node, t.target)
        if len(node.targets) == 1:
            self._dead_copy(node, node.targets[0].target, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._chained(node, node.target)

    def _chained(self, stmt: cst.CSTNode, target: cst.BaseExpression) -> None:
        if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Subscript)):
            return
        inner = target.value
        if self.ctx.kind(inner.value) not in _ARRAYS or not self._advanced(inner):
            return
        self._report(stmt, inner)

    def _advanced(self, sub: cst.Subscript) -> bool:
        for el in sub.slice:
            s = el.slice
            if isinstance(s, cst.Index) and self._advanced_index(s.value):
                return True
        return False

    def _advanced_index(self, expr: cst.BaseExpression) -> bool:
        if isinstance(expr, (cst.Comparison, cst.List)):
            return True
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.BitInvert):
            return True
        if isinstance(expr, cst.BinaryOperation) and isinstance(
            expr.operator, (cst.BitAnd, cst.BitOr)
        ):
            return True
        if isinstance(expr, cst.Call) and self.ctx.qualname(expr.func) in _MASK_FUNCS:
            return True
        if isinstance(expr, cst.Name):
            return self.ctx.kind(expr) in _INDEX_KINDS
        return False

    def _report(self, node: cst.CSTNode, inner: cst.Subscript) -> None:
        ctx = self.ctx
        a = ctx.snippet(inner.value, 30)
        index = ", ".join(ctx.snippet(el.slice, 40) for el in inner.slice)
        message = (
            f"{a}[{index}] is a copy (advanced indexing); this write never reaches {a} — "
            f"assign with {a}[{index}] = ... directly"
        )
        self.report(node, message)

    # -- (b) B = A[I1]; B[...] = v; B never read ------------------------------------------------
    def _dead_copy(
        self, node: cst.Assign, target: cst.BaseExpression, value: cst.BaseExpression
    ) -> None:
        ctx = self.ctx
        if not isinstance(target, cst.Name) or not isinstance(value, cst.Subscript):
            return
        if ctx.kind(value.value) not in _ARRAYS or not self._advanced(value):
            return
        scope = ctx.scope
        if scope.kind != "function" or target.value in scope.globals | scope.nonlocals:
            return
        func = scope.node
        if not isinstance(func, cst.FunctionDef):
            return
        bindings = scope.bindings.get(target.value, [])
        if any(b.kind not in ("assign", "augassign") for b in bindings):
            return
        name = target.value
        writes: list[cst.CSTNode] = []
        allowed: set[int] = {id(target)}
        after = False
        for n in iter_descendants(func.body, into_scopes=True):
            if n is node:
                after = True
                continue
            if isinstance(n, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                if any(isinstance(x, cst.Name) and x.value == name for x in iter_descendants(n)):
                    return  # used by a nested scope
                continue
            write = _write_to(n, name, ctx.qualname)
            if write is not None:
                if not after:
                    return  # the name is written before this binding: not a simple dead copy
                writes.append(n)
                # the write may read the copy itself (`B[B > 5] = 5`, `B -= B.mean()`)
                allowed.update(id(x) for x in iter_descendants(n) if isinstance(x, cst.Name))
                allowed.add(id(write))
            if isinstance(n, cst.Assign) and n is not node:
                for t in n.targets:
                    if isinstance(t.target, cst.Name) and t.target.value == name:
                        return  # rebound: keep it simple
        if not writes:
            return
        for n in iter_descendants(func.body, into_scopes=False):
            if isinstance(n, cst.Name) and n.value == name and id(n) not in allowed:
                return  # read somewhere
        for w in writes:
            self._report(w, value)


def _write_to(
    node: cst.CSTNode, name: str, qualname: Callable[[cst.CSTNode], str | None]
) -> cst.Name | None:
    """The Name of ``name`` written in place by the statement ``node``, if any."""
    if isinstance(node, cst.Assign) and len(node.targets) == 1:
        t = node.targets[0].target
        if isinstance(t, cst.Subscript) and isinstance(t.value, cst.Name) and t.value.value == name:
            return t.value
    if isinstance(node, cst.AugAssign):
        t = node.target
        if isinstance(t, cst.Name) and t.value == name:
            return t
        if isinstance(t, cst.Subscript) and isinstance(t.value, cst.Name) and t.value.value == name:
            return t.value
    if isinstance(node, cst.Expr) and isinstance(node.value, cst.Call):
        call = node.value
        func = call.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value in _INPLACE_METHODS
            and isinstance(func.value, cst.Name)
            and func.value.value == name
        ):
            return func.value
        if call.args and qualname(func) == "numpy.copyto":
            first = call.args[0].value
            if isinstance(first, cst.Name) and first.value == name:
                return first
    return None
