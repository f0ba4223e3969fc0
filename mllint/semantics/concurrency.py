"""Facts about processes, threads, pools and coroutines shared by the ML8xx/ML98x rules.

Everything here is resolved through the import alias table (``ctx.qualname_in``); an
unresolvable receiver is never treated as a pool.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from mllint.semantics.context import FileContext, is_main_guard_test
from mllint.semantics.scopes import Scope
from mllint.semantics.walk import child_nodes

PROCESS = "process"
THREAD = "thread"

#: constructors of worker pools -> the kind of worker they start
POOL_CONSTRUCTORS: dict[str, str] = {
    "multiprocessing.Pool": PROCESS,
    "multiprocessing.pool.Pool": PROCESS,
    "multiprocessing.context.BaseContext.Pool": PROCESS,
    "torch.multiprocessing.Pool": PROCESS,
    "concurrent.futures.ProcessPoolExecutor": PROCESS,
    "concurrent.futures.process.ProcessPoolExecutor": PROCESS,
    "concurrent.futures.ThreadPoolExecutor": THREAD,
    "concurrent.futures.thread.ThreadPoolExecutor": THREAD,
    "multiprocessing.pool.ThreadPool": THREAD,
    "multiprocessing.dummy.Pool": THREAD,
}
#: ``multiprocessing.get_context(...)``: its ``.Pool``/``.Process`` start processes
CONTEXT_FACTORIES = frozenset({"multiprocessing.get_context", "torch.multiprocessing.get_context"})
PROCESS_CLASSES = frozenset(
    {"multiprocessing.Process", "multiprocessing.process.Process", "torch.multiprocessing.Process"}
)
#: pool methods whose first argument is the callable run by the workers
POOL_CALLABLE_METHODS = frozenset(
    {
        "map",
        "imap",
        "imap_unordered",
        "starmap",
        "starmap_async",
        "map_async",
        "apply",
        "apply_async",
        "submit",
    }
)


def enclosing_def_or_lambda(ctx: FileContext) -> cst.FunctionDef | cst.Lambda | None:
    """The innermost ``def`` or ``lambda`` whose body contains the current node."""
    stack = ctx.stack
    for i in range(len(stack) - 1, 0, -1):
        parent, child = stack[i - 1], stack[i]
        if isinstance(parent, (cst.FunctionDef, cst.Lambda)) and child is parent.body:
            return parent
        if isinstance(parent, cst.ClassDef) and child is parent.body:
            return None
    return None


def enclosing_async_def(ctx: FileContext) -> cst.FunctionDef | None:
    """The ``async def`` whose body directly contains the current node (not through a nested
    sync ``def`` or ``lambda``), else None."""
    node = enclosing_def_or_lambda(ctx)
    if isinstance(node, cst.FunctionDef) and node.asynchronous is not None:
        return node
    return None


def _is_context(ctx: FileContext, expr: cst.BaseExpression, scope: Scope) -> bool:
    """``multiprocessing.get_context(...)`` or a name bound only from it."""
    if isinstance(expr, cst.Call):
        return ctx.qualname_in(expr.func, scope) in CONTEXT_FACTORIES
    if isinstance(expr, cst.Name):
        bindings = ctx.bindings(expr.value, scope)
        return bool(bindings) and all(
            b.kind == "assign"
            and not b.unpacked
            and isinstance(b.value, cst.Call)
            and ctx.qualname_in(b.value.func, b.scope or scope) in CONTEXT_FACTORIES
            for b in bindings
        )
    return False


def pool_kind_of_call(ctx: FileContext, call: cst.Call, scope: Scope) -> str | None:
    """``"process"``/``"thread"`` when ``call`` constructs a worker pool, else None."""
    q = ctx.qualname_in(call.func, scope)
    if q is not None and q in POOL_CONSTRUCTORS:
        return POOL_CONSTRUCTORS[q]
    func = call.func
    if (
        isinstance(func, cst.Attribute)
        and func.attr.value == "Pool"
        and _is_context(ctx, func.value, scope)
    ):
        return PROCESS
    return None


def is_process_call(ctx: FileContext, call: cst.Call, scope: Scope) -> bool:
    """``multiprocessing.Process(...)`` (also through ``get_context(...)`` and torch)."""
    if ctx.qualname_in(call.func, scope) in PROCESS_CLASSES:
        return True
    func = call.func
    return (
        isinstance(func, cst.Attribute)
        and func.attr.value == "Process"
        and _is_context(ctx, func.value, scope)
    )


def pool_kind_of_expr(ctx: FileContext, expr: cst.BaseExpression, scope: Scope) -> str | None:
    """The pool kind of a receiver: a pool constructor call, a name every binding of which
    (assignment or ``with ... as``) is such a call, or ``self.<attr>`` assigned only pools."""
    if isinstance(expr, cst.Call):
        return pool_kind_of_call(ctx, expr, scope)
    if isinstance(expr, cst.Name):
        bindings = ctx.bindings(expr.value, scope)
        kinds: set[str | None] = set()
        for b in bindings:
            if b.kind not in ("assign", "annassign", "with") or b.unpacked:
                return None
            if not isinstance(b.value, cst.Call):
                return None
            kinds.add(pool_kind_of_call(ctx, b.value, b.scope or scope))
        if len(kinds) == 1:
            return kinds.pop()
        return None
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
        cls = ctx.enclosing_class()
        finfo = ctx.enclosing_function()
        if cls is None or finfo is None or finfo.self_name != expr.value.value:
            return None
        attr_bindings = cls.attr_bindings.get(expr.attr.value, [])
        kinds = set()
        for b in attr_bindings:
            if not isinstance(b.value, cst.Call):
                return None
            kinds.add(pool_kind_of_call(ctx, b.value, b.scope or scope))
        if len(kinds) == 1:
            return kinds.pop()
    return None


def local_function(
    ctx: FileContext, expr: cst.BaseExpression, scope: Scope
) -> cst.FunctionDef | None:
    """The ``def`` of this module a Name refers to (its only binding), or the method of the
    enclosing class for ``self.<m>``."""
    if isinstance(expr, cst.Name):
        bindings = ctx.bindings(expr.value, scope)
        if len(bindings) == 1 and bindings[0].kind == "def":
            node = bindings[0].node
            if isinstance(node, cst.FunctionDef):
                return node
        return None
    if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
        cls = ctx.enclosing_class()
        finfo = ctx.enclosing_function()
        if cls is None or finfo is None or finfo.self_name != expr.value.value:
            return None
        return cls.methods.get(expr.attr.value)
    return None


def main_guards(module: cst.Module) -> list[cst.If]:
    """The module-body ``if __name__ == "__main__":`` statements."""
    return [s for s in module.body if isinstance(s, cst.If) and is_main_guard_test(s.test)]


def walk_with_parents(
    node: cst.CSTNode, *, into_scopes: bool = True
) -> Iterator[tuple[cst.CSTNode, cst.CSTNode]]:
    """(node, parent) pairs below ``node``, pre-order (source order)."""
    stack: list[tuple[cst.CSTNode, cst.CSTNode]] = [(c, node) for c in child_nodes(node)]
    stack.reverse()
    while stack:
        cur, parent = stack.pop()
        yield cur, parent
        if not into_scopes and isinstance(cur, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            continue
        kids = [(c, cur) for c in child_nodes(cur)]
        kids.reverse()
        stack.extend(kids)
