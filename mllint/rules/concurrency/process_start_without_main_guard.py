"""ML803 process-start-without-main-guard."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.concurrency.blocking_io_in_async import (
    _at_import_time,
    _bound_to,
    _pool_calls,
    _process_calls,
    _qual_calls,
    _receiver_in,
)
from mllint.semantics.concurrency import (
    PROCESS,
    is_process_call,
    pool_kind_of_call,
)
from mllint.semantics.context import FileFacts, is_main_guard_test
from mllint.semantics.cstutil import call_arg, expression_names, int_value, iter_names_in_target
from mllint.semantics.walk import iter_descendants

_SPAWN = frozenset({"torch.multiprocessing.spawn", "torch.multiprocessing.start_processes"})
_DATALOADERS = frozenset({"torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader"})
#: executors that start no process until the first ``submit``/``map`` (CPython >= 3.9)
_LAZY_EXECUTORS = frozenset(
    {
        "concurrent.futures.ProcessPoolExecutor",
        "concurrent.futures.process.ProcessPoolExecutor",
    }
)
_EXECUTOR_STARTERS = frozenset({"submit", "map"})


class ProcessStartWithoutMainGuard(Rule):
    """
    ## What it does
    Flags statements executed at import time (module level, not inside a `def`/`class`, not
    under `if __name__ == "__main__":`) that start worker processes:
    `multiprocessing.Process(...).start()` or `<p>.start()` on a module-level `Process`;
    `multiprocessing.Pool(...)`, `multiprocessing.get_context(...).Pool(...)`,
    `concurrent.futures.ProcessPoolExecutor(...)` (also as a `with` item);
    `torch.multiprocessing.spawn(...)`; or a `for` loop over a module-level
    `torch.utils.data.DataLoader(..., num_workers=<n > 0>)`.

    ## Why is this bad?
    With the spawn start method (Windows, macOS) and forkserver (the Linux default since
    Python 3.14) every child process imports the main module again. Unguarded module-level
    process creation then raises "An attempt has been made to start a new process before the
    current process has finished its bootstrapping phase", or spawns recursively. The code
    works on Linux with fork and breaks on a colleague's laptop or the next Python.

    ## Example
    ```python
    configs = load_configs("sweep.yaml")
    with ProcessPoolExecutor(max_workers=4) as pool:
        scores = list(pool.map(cross_val, configs))
    ```

    ## Use instead
    ```python
    def main():
        configs = load_configs("sweep.yaml")
        with ProcessPoolExecutor(max_workers=4) as pool:
            return list(pool.map(cross_val, configs))

    if __name__ == "__main__":
        main()
    ```

    A `ProcessPoolExecutor(...)` merely assigned at module level (`executor =
    ProcessPoolExecutor(2)`, used later by request handlers) starts no process until its first
    `submit`/`map`, so the assignment is not flagged; an import-time `executor.submit(...)` or
    `executor.map(...)` on it is. Thread pools and code inside functions or the main guard are
    not flagged.

    ## Fix safety
    Unsafe, and only when the flagged statement and every module-level statement after it are
    neither `def`/`class`/`import` statements (nor an existing main guard), and bind no name
    used by a function or class defined earlier: those statements are indented under a new
    `if __name__ == "__main__":` at the end of the module. Names they bind no longer exist
    when the module is imported (by worker processes, tests or other modules).
    """

    code = "ML803"
    name = "process-start-without-main-guard"
    summary = 'Processes/pools are started at module level without `if __name__ == "__main__":`'
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("Process", "Pool", "spawn", "DataLoader", "start_processes")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._reported: set[int] = set()
        self._fix_given = False

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # at import time (outside defs, classes, lambdas and main guards): a process-pool
        # constructor or spawn call; `<x>.start()` when a Process is created; `<name>.submit/
        # map(...)` when a ProcessPoolExecutor is created; a `for` over a name when a
        # DataLoader(..., num_workers=...) is created
        starters: list[ast.AST] = [*_pool_calls(scan, PROCESS), *_qual_calls(scan, _SPAWN)]
        procs = _process_calls(scan)
        if procs:
            ids = {id(p) for p in procs}
            names, _ = _bound_to(scan, procs, with_items=False, annotated=False)
            for c in scan.calls("start"):
                func = c.func
                if (
                    isinstance(func, ast.Attribute)
                    and not c.args
                    and not c.keywords
                    and _receiver_in(func.value, ids, names, set())
                ):
                    starters.append(c)
        lazies = _qual_calls(scan, _LAZY_EXECUTORS)
        if lazies:
            names, _ = _bound_to(scan, lazies, with_items=False)
            for c in scan.calls(*_EXECUTOR_STARTERS):
                func = c.func
                if (
                    isinstance(func, ast.Attribute)
                    and isinstance(func.value, ast.Name)
                    and func.value.id in names
                ):
                    starters.append(c)
        if any(
            any(kw.arg == "num_workers" for kw in c.keywords)
            for c in _qual_calls(scan, _DATALOADERS)
        ):
            for loop in scan.of(ast.For, ast.AsyncFor):
                if isinstance(loop.iter, ast.Name):
                    starters.append(loop)
        return any(_at_import_time(scan, n) for n in starters)

    def _import_time(self) -> bool:
        stack = self.ctx.stack
        for i, node in enumerate(stack[:-1]):
            if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                return False
            # the body of a main guard; its `else:` runs on import (in every spawned child too)
            if (
                isinstance(node, cst.If)
                and stack[i + 1] is node.body
                and is_main_guard_test(node.test)
            ):
                return False
        return True

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        func = node.func
        scope = ctx.scope
        starts = False
        if isinstance(func, cst.Attribute) and func.attr.value == "start" and not node.args:
            recv = func.value
            if isinstance(recv, cst.Call):
                starts = is_process_call(ctx, recv, scope)
            elif isinstance(recv, cst.Name):
                bindings = ctx.bindings(recv.value)
                starts = bool(bindings) and all(
                    b.kind == "assign"
                    and not b.unpacked
                    and isinstance(b.value, cst.Call)
                    and is_process_call(ctx, b.value, scope)
                    for b in bindings
                )
        elif isinstance(func, cst.Attribute) and func.attr.value in _EXECUTOR_STARTERS:
            starts = self._assigned_lazy_executor(func.value)
        else:
            starts = pool_kind_of_call(ctx, node, scope) == PROCESS or ctx.qualname(func) in _SPAWN
            if starts and self._lazy_executor_assignment(node):
                starts = False
        if starts and self._import_time():
            self._flag(f"{ctx.snippet(node, 50)}")

    def _lazy_executor_assignment(self, node: cst.Call) -> bool:
        """``x = ProcessPoolExecutor(...)``: no process exists until ``x.submit``/``x.map``."""
        parent = self.ctx.parent
        return (
            isinstance(parent, (cst.Assign, cst.AnnAssign))
            and parent.value is node
            and self.ctx.qualname(node.func) in _LAZY_EXECUTORS
        )

    def _assigned_lazy_executor(self, recv: cst.BaseExpression) -> bool:
        if not isinstance(recv, cst.Name):
            return False
        ctx = self.ctx
        bindings = ctx.bindings(recv.value)
        return bool(bindings) and all(
            b.kind in ("assign", "annassign")
            and not b.unpacked
            and isinstance(b.value, cst.Call)
            and ctx.qualname_in(b.value.func, b.scope or ctx.scope) in _LAZY_EXECUTORS
            for b in bindings
        )

    def visit_For(self, node: cst.For) -> None:
        ctx = self.ctx
        if not isinstance(node.iter, cst.Name) or not self._import_time():
            return
        bindings = ctx.bindings(node.iter.value)
        if not bindings or not all(
            b.kind == "assign"
            and not b.unpacked
            and b.scope is ctx.model.module_scope
            and isinstance(b.value, cst.Call)
            and self._worker_loader(b.value)
            for b in bindings
        ):
            return
        self._flag(f"iterating {node.iter.value} (a DataLoader with num_workers > 0)")

    def _worker_loader(self, call: cst.Call) -> bool:
        if self.ctx.qualname(call.func) not in _DATALOADERS:
            return False
        arg = call_arg(call, "num_workers")
        n = int_value(arg.value) if arg is not None else None
        return n is not None and n > 0

    def _flag(self, shown: str) -> None:
        ctx = self.ctx
        stmt = ctx.statement()
        if stmt is None or id(stmt) in self._reported:
            return
        self._reported.add(id(stmt))
        fix = None
        if not self._fix_given:
            fix = self._fix()
            self._fix_given = fix is not None
        ctx_msg = (
            f"{shown} starts worker processes at import time; under the spawn/forkserver start "
            "methods each worker re-imports this module and fails (or recurses) — put it under "
            'if __name__ == "__main__":'
        )
        self.report(stmt, ctx_msg, fix)

    # -- the fix ---------------------------------------------------------------------------
    def _fix(self) -> Fix | None:
        ctx = self.ctx
        module = ctx.module
        if len(ctx.stack) < 2:
            return None
        top = ctx.stack[1]  # the module-body statement holding the current node
        body = list(module.body)
        index = next((i for i, s in enumerate(body) if s is top), None)
        if index is None:
            return None
        moved = body[index:]
        bound: set[str] = set()
        for stmt in moved:
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                return None
            if isinstance(stmt, cst.If) and is_main_guard_test(stmt.test):
                return None
            for sub in [stmt, *iter_descendants(stmt)]:
                if isinstance(sub, (cst.Import, cst.ImportFrom, cst.FunctionDef, cst.ClassDef)):
                    return None
                if isinstance(sub, (cst.Global, cst.Nonlocal)):
                    return None
                bound.update(_bound_names(sub))
        used_earlier: set[str] = set()
        for stmt in body[:index]:
            for sub in [stmt, *iter_descendants(stmt)]:
                if isinstance(sub, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                    used_earlier |= expression_names(sub)
        if bound & used_earlier:
            return None
        if _has_multiline_string(moved):
            return None  # indenting would change the string's value
        indent = module.default_indent
        first = moved[0]
        above = module.code_for_node(module.with_changes(body=[first], header=(), footer=()))
        above = above[
            : len(above) - len(module.code_for_node(first.with_changes(leading_lines=())))
        ]
        lines = ['if __name__ == "__main__":']
        moved = [first.with_changes(leading_lines=()), *moved[1:]]
        for stmt in moved:
            code = module.code_for_node(stmt)
            for line in code.splitlines():
                lines.append(indent + line if line.strip() else "")
        new_code = module.code_for_node(module.with_changes(body=body[:index], footer=()))
        if new_code and not new_code.endswith("\n"):
            new_code += "\n"
        guard = "\n".join(lines).rstrip() + "\n"
        return Fix(FixSafety.UNSAFE, [(module, new_code + above + guard + _footer(module))])


def _bound_names(node: cst.CSTNode) -> set[str]:
    out: set[str] = set()
    if isinstance(node, cst.Assign):
        for t in node.targets:
            out.update(n.value for n in iter_names_in_target(t.target))
    elif isinstance(node, (cst.AnnAssign, cst.AugAssign, cst.For)):
        out.update(n.value for n in iter_names_in_target(node.target))
    elif isinstance(node, cst.WithItem) and node.asname is not None:
        out.update(n.value for n in iter_names_in_target(node.asname.name))
    elif isinstance(node, cst.NamedExpr):
        out.update(n.value for n in iter_names_in_target(node.target))
    return out


def _has_multiline_string(stmts: Sequence[cst.CSTNode]) -> bool:
    for stmt in stmts:
        for sub in iter_descendants(stmt):
            if isinstance(sub, (cst.SimpleString, cst.FormattedString)):
                code = cst.Module(body=[]).code_for_node(sub)
                if "\n" in code:
                    return True
    return False


def _footer(module: cst.Module) -> str:
    return "".join(cst.Module(body=[]).code_for_node(line) for line in module.footer)
