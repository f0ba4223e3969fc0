"""ML108 write-to-indexing-copy."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name
from mllint.prescan import start_pos as _pos
from mllint.rule import Rule
from mllint.rules.numerics.array_in_boolean_context import _LIST, _ND, _TENSOR, _kinds_of
from mllint.rules.numerics.float_equality import (
    _end,
    _local_names,
    _may_resolve_into,
    _regions_of,
)
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
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

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # (a) an assignment to `A[I1][I2]` or (b) `B = A[I1]` in a function, written in
        # place there and not otherwise used; A may be an ndarray/tensor and I1 an advanced
        # index (a mask shape, a list, or a name that may be a list/array/tensor)
        assigns = scan.of(ast.Assign)
        augs = scan.of(ast.AugAssign)
        if not (assigns or augs) or not _may_resolve_into(scan, facts, _AST_ARRAY_LIBS):
            return False
        masks = _local_names(scan, _AST_MASK_NAMES)
        chained: list[tuple[ast.stmt, ast.Subscript]] = []
        copies: list[ast.Assign] = []
        for a in assigns:
            for t in a.targets:
                inner = _ast_chained(t, masks)
                if inner is not None:
                    chained.append((a, inner))
            if (
                len(a.targets) == 1
                and isinstance(a.targets[0], ast.Name)
                and isinstance(a.value, ast.Subscript)
                and _ast_advanced(a.value, masks)
            ):
                copies.append(a)
        for g in augs:
            inner = _ast_chained(g.target, masks)
            if inner is not None:
                chained.append((g, inner))
        if not (chained or copies):
            return False
        # the array (and a name index) must be able to have the kinds the rule wants
        kinds = _kinds_of(scan, facts)

        def advanced_array(stmt: ast.stmt, sub: ast.Subscript) -> bool:
            if not kinds.kinds_in(sub.value, stmt) & _AST_ARRAYS:
                return False
            return _ast_advanced(sub, masks, lambda n: bool(kinds.kinds_in(n, stmt) & _AST_INDEX))

        if any(advanced_array(stmt, inner) for stmt, inner in chained):
            return True
        copies = [
            c for c in copies if isinstance(c.value, ast.Subscript) and advanced_array(c, c.value)
        ]
        if not copies:
            return False
        return _dead_copy_possible(scan, facts, copies, assigns, augs)

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


# -- the ast pre-scan -------------------------------------------------------------------------

_AST_ARRAY_LIBS = ("numpy", "torch", "pandas")
_AST_ARRAYS = _ND | _TENSOR  # `_ARRAYS`
_AST_INDEX = _LIST | _ND | _TENSOR  # `_INDEX_KINDS`
_AST_MASK_NAMES = frozenset(q.rpartition(".")[2] for q in _MASK_FUNCS)


def _ast_chained(target: ast.expr, masks: frozenset[str]) -> ast.Subscript | None:
    """``A[I1]`` of a target ``A[I1][I2]`` with an advanced-looking ``I1``."""
    if (
        isinstance(target, ast.Subscript)
        and isinstance(target.value, ast.Subscript)
        and _ast_advanced(target.value, masks)
    ):
        return target.value
    return None


def _ast_advanced(
    sub: ast.Subscript, masks: frozenset[str], index_name: Callable[[ast.Name], bool] | None = None
) -> bool:
    """An index element of ``_advanced_index``'s shapes; a name when ``index_name`` says it
    may be a list or an array (any name without it)."""
    index = sub.slice
    for el in index.elts if isinstance(index, ast.Tuple) else (index,):
        if isinstance(el, ast.Starred):  # `A[*idx]` (libcst: an Index with a star)
            el = el.value
        if isinstance(el, (ast.Compare, ast.List)):
            return True
        if isinstance(el, ast.Name) and (index_name is None or index_name(el)):
            return True
        if isinstance(el, ast.UnaryOp) and isinstance(el.op, ast.Invert):
            return True
        if isinstance(el, ast.BinOp) and isinstance(el.op, (ast.BitAnd, ast.BitOr)):
            return True
        if isinstance(el, ast.Call) and terminal_name(el.func) in masks:
            return True
    return False


def _subscript_base(target: ast.expr) -> str | None:
    """``B`` for a target ``B[...]``."""
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        return target.value.id
    return None


def _dead_copy_possible(
    scan: Scan,
    facts: FileFacts,
    copies: list[ast.Assign],
    assigns: list[ast.Assign],
    augs: list[ast.AugAssign],
) -> bool:
    """(b): some ``B = A[I1]`` in a function body has an in-place write to ``B`` in that
    body, and every other ``B`` there is inside such a write (the rule gives up when ``B``
    is read, or used in a nested scope)."""
    names = {t.id for c in copies for t in c.targets if isinstance(t, ast.Name)}
    writes: dict[str, list[ast.stmt]] = {}
    for a in assigns:
        base = _subscript_base(a.targets[0]) if len(a.targets) == 1 else None
        if base in names:
            writes.setdefault(base, []).append(a)
    for g in augs:
        t = g.target
        base = t.id if isinstance(t, ast.Name) else _subscript_base(t)
        if base in names:
            writes.setdefault(base, []).append(g)
    copyto = _local_names(scan, ("copyto",))
    for e in scan.of(ast.Expr):
        call = e.value
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in _INPLACE_METHODS
            and isinstance(func.value, ast.Name)
            and func.value.id in names
        ):
            writes.setdefault(func.value.id, []).append(e)
        elif (
            call.args
            and isinstance(call.args[0], ast.Name)
            and call.args[0].id in names
            and terminal_name(func) in copyto
        ):
            writes.setdefault(call.args[0].id, []).append(e)
    if not writes:
        return False
    uses: dict[str, list[ast.Name]] = {}
    for n in scan.of(ast.Name):
        if n.id in writes:
            uses.setdefault(n.id, []).append(n)
    regions = _regions_of(scan, facts)
    for copy in copies:
        target = copy.targets[0]
        assert isinstance(target, ast.Name)
        name = target.id
        if name not in writes:
            continue
        r = regions.at(_pos(copy))
        if not isinstance(regions.owner[r], (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue  # the rule wants the copy in a function's own scope
        start, end = regions.starts[r], regions.ends[r]
        spans = [(_pos(w), _end(w)) for w in writes[name]]
        spans = [(s, e) for s, e in spans if start <= s < end]
        if not spans:
            continue
        for n in uses[name]:
            at = _pos(n)
            if n is target or not start <= at < end:
                continue
            if not any(s <= at < e for s, e in spans):
                break  # read (or used by a nested scope)
        else:
            return True
    return False
