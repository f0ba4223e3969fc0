"""ML805 process-worker-mutates-global."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Rule
from mllint.rules.concurrency.blocking_io_in_async import (
    _enclosing_scope,
    _process_targets,
    _qual_calls,
    _qual_in,
    _target_functions,
)
from mllint.rules.concurrency.unpicklable_process_target import process_callable_arg
from mllint.semantics import kinds as K
from mllint.semantics.concurrency import local_function, walk_with_parents
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg, iter_names_in_target, string_value

_MUTATORS = frozenset({"append", "extend", "insert", "update", "add", "setdefault", "pop", "clear"})
_CONTAINERS = frozenset({K.LIST, K.DICT, K.SET})
_THREAD_BACKENDS = frozenset({"threading", "sequential", "dask", "ray"})


class ProcessWorkerMutatesGlobal(Rule):
    """
    ## What it does
    Flags, in a function of this module that is sent to worker processes (the callable of
    `map`/`imap`/`starmap`/`apply_async`/`submit`/... on a `multiprocessing.Pool` or
    `ProcessPoolExecutor`, `multiprocessing.Process(target=...)`, or
    `joblib.Parallel(...)(delayed(f)(...) ...)` with a process backend), an assignment to a
    name declared `global`, or a mutation (`append`, `extend`, `insert`, `update`, `add`,
    `setdefault`, `pop`, `clear`, item assignment) of a module-level list, dict or set.

    ## Why is this bad?
    Each worker process has its own copy of the module's globals. Appends in a worker never
    reach the parent, which sees the list exactly as it was (empty) and gets no error.

    ## Example
    ```python
    results = []

    def work(x):
        results.append(x * 2)

    with Pool(4) as pool:
        pool.map(work, data)
    ```

    ## Use instead
    ```python
    def work(x):
        return x * 2

    with Pool(4) as pool:
        results = pool.map(work, data)
    ```

    `multiprocessing.Value`/`Array`/`Queue`/`Manager()` objects (shared on purpose) and thread
    pools (see ML806) are not flagged.

    ## Fix safety
    No fix: the worker must return its result instead.
    """

    code = "ML805"
    name = "process-worker-mutates-global"
    summary = "A process-pool worker appends to or assigns a module-level variable"
    tier = 2
    requires_text = ("Pool", "Process", "Parallel")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._checked: set[int] = set()

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a def of this file sent to worker processes (pool method, Process(target=...),
        # joblib `Parallel(...)(delayed(f)(...) ...)`) whose own body has a `global`, an item
        # assignment to a name or a mutator method call on a name
        targets = _process_targets(scan)
        targets.extend(_joblib_targets(scan))
        fns = _target_functions(scan, targets)
        if not fns:
            return False
        for g in scan.of(ast.Global):
            if id(_enclosing_scope(scan, g)) in fns:
                return True
        for node in scan.of(ast.Assign, ast.AugAssign, ast.AnnAssign):
            tgts = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(
                isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) for t in tgts
            ) and (id(_enclosing_scope(scan, node)) in fns):
                return True
        for c in scan.calls(*_MUTATORS):
            func = c.func
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and id(_enclosing_scope(scan, c)) in fns
            ):
                return True
        return False

    def visit_Call(self, node: cst.Call) -> None:
        arg = process_callable_arg(self, node)
        target = arg.value if arg is not None else self._joblib_target(node)
        if target is None:
            return
        fdef = local_function(self.ctx, target, self.ctx.scope)
        if fdef is None or id(fdef) in self._checked:
            return
        self._checked.add(id(fdef))
        self._check_worker(fdef)

    def _joblib_target(self, node: cst.Call) -> cst.BaseExpression | None:
        """``Parallel(...)(delayed(f)(...) for ...)`` -> ``f``."""
        ctx = self.ctx
        outer = node.func
        if not isinstance(outer, cst.Call) or ctx.qualname(outer.func) != "joblib.Parallel":
            return None
        for key in ("backend", "prefer"):
            arg = call_arg(outer, key)
            if arg is not None:
                value = string_value(arg.value)
                if value is None or value in _THREAD_BACKENDS or value == "threads":
                    return None
        if not node.args:
            return None
        gen = node.args[0].value
        if not isinstance(gen, (cst.GeneratorExp, cst.ListComp)):
            return None
        elt = gen.elt
        if not isinstance(elt, cst.Call) or not isinstance(elt.func, cst.Call):
            return None
        delayed = elt.func
        if ctx.qualname(delayed.func) != "joblib.delayed" or not delayed.args:
            return None
        return delayed.args[0].value

    def _check_worker(self, fdef: cst.FunctionDef) -> None:
        ctx = self.ctx
        fscope = ctx.model.scope_for(fdef)
        if fscope is None:
            return
        module_scope = ctx.model.module_scope
        declared = fscope.globals
        fname = fdef.name.value

        def is_module_container(name: str) -> bool:
            if name in fscope.bindings and name not in declared:
                return False  # a local
            if not module_scope.bindings.get(name):
                return False
            return ctx.kinds.of_name(name, module_scope) in _CONTAINERS

        def report(node: cst.CSTNode, name: str) -> None:
            self.report(
                node,
                f"Worker '{fname}' runs in another process; its change to global '{name}' is "
                f"lost (the parent's '{name}' never changes) — return the result from the "
                "worker instead",
            )

        for sub, _parent in walk_with_parents(fdef.body, into_scopes=False):
            if isinstance(sub, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
                targets = (
                    [t.target for t in sub.targets] if isinstance(sub, cst.Assign) else [sub.target]
                )
                for t in targets:
                    hit = None
                    for n in iter_names_in_target(t):
                        if n.value in declared:
                            hit = n.value
                            break
                    if hit is None and isinstance(t, cst.Subscript):
                        base = t.value
                        if isinstance(base, cst.Name) and is_module_container(base.value):
                            hit = base.value
                    if hit is not None:
                        report(sub, hit)
                        break
            elif isinstance(sub, cst.Call):
                func = sub.func
                if (
                    isinstance(func, cst.Attribute)
                    and func.attr.value in _MUTATORS
                    and isinstance(func.value, cst.Name)
                    and is_module_container(func.value.value)
                ):
                    report(sub, func.value.value)


def _joblib_targets(scan: Scan) -> list[ast.AST]:
    """``f`` of ``Parallel(...)(delayed(f)(...) for ...)`` (any argument of ``delayed``)."""
    out: list[ast.AST] = []
    parallels = {id(c) for c in _qual_calls(scan, ("joblib.Parallel",))}
    if not parallels:
        return out
    for node in scan.of(ast.Call):
        if id(node.func) not in parallels:
            continue
        for a in (*node.args, *(kw.value for kw in node.keywords)):
            gen = a.value if isinstance(a, ast.Starred) else a
            if not isinstance(gen, (ast.GeneratorExp, ast.ListComp)):
                continue
            elt = gen.elt
            if not isinstance(elt, ast.Call) or not isinstance(elt.func, ast.Call):
                continue
            delayed = elt.func
            if _qual_in(scan, delayed.func, ("joblib.delayed",)):
                for d in (*delayed.args, *(kw.value for kw in delayed.keywords)):
                    out.append(d.value if isinstance(d, ast.Starred) else d)
    return out
