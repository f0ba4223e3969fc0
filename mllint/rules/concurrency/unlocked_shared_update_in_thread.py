"""ML806 unlocked-shared-update-in-thread."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Rule
from mllint.rules.concurrency.blocking_io_in_async import (
    _arg,
    _enclosing_scope,
    _pool_method_args,
    _qual_calls,
    _target_functions,
)
from mllint.semantics.concurrency import (
    POOL_CALLABLE_METHODS,
    THREAD,
    local_function,
    pool_kind_of_expr,
    walk_with_parents,
)
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg
from mllint.semantics.scopes import ClassInfo, Scope

_THREADS = frozenset({"threading.Thread"})
_TIMERS = frozenset({"threading.Timer"})
_LOCK_FACTORIES = frozenset(
    {
        "threading.Lock",
        "threading.RLock",
        "threading.Semaphore",
        "threading.BoundedSemaphore",
        "threading.Condition",
    }
)
_THREAD_LOCAL = frozenset({"threading.local", "_threading_local.local"})
_OPS: dict[type, str] = {
    cst.Add: "+",
    cst.Subtract: "-",
    cst.Multiply: "*",
    cst.Divide: "/",
    cst.FloorDivide: "//",
    cst.Modulo: "%",
    cst.Power: "**",
    cst.BitOr: "|",
    cst.BitAnd: "&",
    cst.BitXor: "^",
    cst.LeftShift: "<<",
    cst.RightShift: ">>",
    cst.MatrixMultiply: "@",
}


class UnlockedSharedUpdateInThread(Rule):
    """
    ## What it does
    Flags, in a function of this module that runs in threads (`threading.Thread(target=f)`,
    `threading.Timer(t, f)`, or the callable of `submit`/`map` on a `ThreadPoolExecutor` or
    `multiprocessing.pool.ThreadPool`), a read-modify-write of shared state: an augmented
    assignment (or `X = X <op> ...`) to a name declared `global` in the function, or to
    `self.<attr>` when the thread target is a bound method — unless it is inside `with <lock>:`
    (a name bound from `threading.Lock/RLock/Semaphore/BoundedSemaphore/Condition`, or named
    like `*lock*`/`*mutex*`) or between `<lock>.acquire()` and `<lock>.release()`.

    ## Why is this bad?
    `processed += 1` is a load, an add and a store; the interpreter can switch threads between
    them, so concurrent increments are lost and counters, running losses or progress totals
    come out too small, differently on every run.

    ## Example
    ```python
    processed = 0

    def worker(items):
        global processed
        for item in items:
            handle(item)
            processed += 1
    ```

    ## Use instead
    ```python
    processed = 0
    processed_lock = threading.Lock()

    def worker(items):
        global processed
        for item in items:
            handle(item)
            with processed_lock:
                processed += 1
    ```

    Single `list.append` / `dict[k] = v` operations (atomic on GIL builds), attributes of
    `threading.local()` objects and process pools (see ML805) are not flagged.

    ## Fix safety
    No fix: which lock protects which state is a design decision.
    """

    code = "ML806"
    name = "unlocked-shared-update-in-thread"
    summary = "A thread target does read-modify-write on shared state without a lock"
    tier = 2
    requires_text = ("Thread", "Timer")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._checked: set[int] = set()

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a def of this file run in threads (Thread(target=f), Timer(t, f), thread-pool
        # map/submit) whose own body has `x op= ...`/`x = x <op> ...` on `self.<attr>`, or on
        # a name when the body declares `global`
        targets = _pool_method_args(scan, THREAD)
        for quals, keyword in ((_THREADS, "target"), (_TIMERS, "function")):
            for c in _qual_calls(scan, quals):
                arg = _arg(c, (keyword,), 1)
                if arg is not None:
                    targets.append(arg)
        fns = _target_functions(scan, targets)
        if not fns:
            return False
        with_global: set[int] | None = None
        for node in scan.of(ast.AugAssign, ast.Assign):
            if isinstance(node, ast.AugAssign):
                target: ast.AST = node.target
            elif (
                len(node.targets) == 1
                and isinstance(node.value, ast.BinOp)
                and _same_ref(node.value.left, node.targets[0])
            ):
                target = node.targets[0]
            else:
                continue
            is_attr = isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
            if not is_attr and not isinstance(target, ast.Name):
                continue
            owner = id(_enclosing_scope(scan, node))
            if owner not in fns:
                continue
            if is_attr:
                return True
            if with_global is None:
                with_global = {id(_enclosing_scope(scan, g)) for g in scan.of(ast.Global)}
            if owner in with_global:
                return True
        return False

    def visit_Call(self, node: cst.Call) -> None:
        target = self._thread_target(node)
        if target is None:
            return
        ctx = self.ctx
        fdef = local_function(ctx, target, ctx.scope)
        if fdef is None or id(fdef) in self._checked:
            return
        self._checked.add(id(fdef))
        bound_method = isinstance(target, cst.Attribute)
        cls = ctx.enclosing_class() if bound_method else None
        self._check(fdef, bound_method, cls)

    def _thread_target(self, node: cst.Call) -> cst.BaseExpression | None:
        ctx = self.ctx
        q = ctx.qualname(node.func)
        arg: cst.Arg | None = None
        if q in _THREADS:
            arg = call_arg(node, "target", 1)
        elif q in _TIMERS:
            arg = call_arg(node, "function", 1)
        else:
            func = node.func
            if (
                isinstance(func, cst.Attribute)
                and func.attr.value in POOL_CALLABLE_METHODS
                and pool_kind_of_expr(ctx, func.value, ctx.scope) == THREAD
            ):
                arg = call_arg(node, "fn" if func.attr.value == "submit" else "func", 0)
        return arg.value if arg is not None else None

    def _check(self, fdef: cst.FunctionDef, bound_method: bool, cls: ClassInfo | None) -> None:
        ctx = self.ctx
        fscope = ctx.model.scope_for(fdef)
        info = ctx.model.functions.get(id(fdef))
        if fscope is None or info is None:
            return
        if bound_method:
            if cls is None or info.self_name is None:
                return
            if any(q in _THREAD_LOCAL for q in ctx.class_bases(cls)):
                return
        declared = fscope.globals
        self_name = info.self_name if bound_method else None
        if not declared and self_name is None:
            return
        events: list[tuple[str, cst.CSTNode]] = []  # source-ordered acquire/release/updates
        guarded: set[int] = set()
        for sub, _parent in walk_with_parents(fdef.body, into_scopes=False):
            if isinstance(sub, cst.With) and any(self._is_lock(i.item, fscope) for i in sub.items):
                guarded.update(id(n) for n, _ in walk_with_parents(sub.body, into_scopes=False))
            elif isinstance(sub, cst.Call) and isinstance(sub.func, cst.Attribute):
                if sub.func.attr.value in ("acquire", "release") and self._is_lock(
                    sub.func.value, fscope
                ):
                    events.append((sub.func.attr.value, sub))
            elif isinstance(sub, (cst.AugAssign, cst.Assign)):
                shown = self._update(sub, declared, self_name)
                if shown is not None and id(sub) not in guarded:
                    events.append(("update", sub))
        held = 0
        for kind, n in events:
            if kind == "acquire":
                held += 1
            elif kind == "release":
                held = max(0, held - 1)
            elif held == 0:
                assert isinstance(n, (cst.AugAssign, cst.Assign))
                shown = self._update(n, declared, self_name)
                self.report(
                    n,
                    f"'{shown} …' in thread target '{fdef.name.value}' is a read-modify-write "
                    "on shared state; concurrent threads lose updates — guard it with a "
                    "threading.Lock",
                )

    def _update(
        self, node: cst.AugAssign | cst.Assign, declared: set[str], self_name: str | None
    ) -> str | None:
        """``'<target> <op>='`` when ``node`` is a read-modify-write of shared state."""
        if isinstance(node, cst.AugAssign):
            target = node.target
            op = self.ctx.code(node.operator).strip()
        else:
            if len(node.targets) != 1:
                return None
            target = node.targets[0].target
            value = node.value
            if not isinstance(value, cst.BinaryOperation) or not self.ctx.equal(value.left, target):
                return None
            sym = _OPS.get(type(value.operator))
            if sym is None:
                return None
            op = sym + "="
        if isinstance(target, cst.Name) and target.value in declared:
            return f"{target.value} {op}"
        if (
            self_name is not None
            and isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value == self_name
        ):
            return f"{self_name}.{target.attr.value} {op}"
        return None

    def _is_lock(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        ctx = self.ctx
        if isinstance(expr, cst.Name):
            name = expr.value
            bindings = ctx.model.lookup(name, scope) or []
        elif isinstance(expr, cst.Attribute):
            name = expr.attr.value
            bindings = [b for c in ctx.model.classes for b in c.attr_bindings.get(name, [])]
        else:
            return False
        lowered = name.lower()
        if "lock" in lowered or "mutex" in lowered:
            return True
        return any(
            isinstance(b.value, cst.Call)
            and ctx.qualname_in(b.value.func, b.scope or scope) in _LOCK_FACTORIES
            for b in bindings
        )


def _same_ref(a: ast.AST, b: ast.AST) -> bool:
    """``a`` and ``b`` are the same name or the same ``<name>.<attr>``."""
    if isinstance(a, ast.Name) and isinstance(b, ast.Name):
        return a.id == b.id
    return (
        isinstance(a, ast.Attribute)
        and isinstance(b, ast.Attribute)
        and a.attr == b.attr
        and isinstance(a.value, ast.Name)
        and isinstance(b.value, ast.Name)
        and a.value.id == b.value.id
    )
