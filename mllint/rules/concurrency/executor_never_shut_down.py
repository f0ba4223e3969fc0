"""ML807 executor-never-shut-down."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.concurrency.blocking_io_in_async import _enclosing_scope, _pool_calls
from mllint.semantics.concurrency import (
    POOL_CALLABLE_METHODS,
    PROCESS,
    enclosing_def_or_lambda,
    pool_kind_of_call,
    walk_with_parents,
)
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block

_CLOSERS = frozenset({"shutdown", "terminate"})
#: methods that use the pool without letting it escape
_USES = POOL_CALLABLE_METHODS | _CLOSERS | {"close", "join"}


class ExecutorNeverShutDown(Rule):
    """
    ## What it does
    Flags `N = ProcessPoolExecutor(...)`, `ThreadPoolExecutor(...)`, `multiprocessing.Pool(...)`
    or `get_context(...).Pool(...)` assigned inside a function when that function never calls
    `N.shutdown(...)`, `N.terminate()` or `N.close()` followed by `N.join()`, never uses
    `with N:`, and does not let `N` escape (return, yield, store on `self`, in a container or
    a global, or pass it to a call other than `loop.run_in_executor(N, ...)`).

    ## Why is this bad?
    The worker processes or threads keep running, holding memory and GPU handles, after the
    function or coroutine returns; every call creates a new pool, and at interpreter exit they
    are joined or leaked. pylint's R1732 catches `multiprocessing.Pool` but not the
    `concurrent.futures` executors.

    ## Example
    ```python
    async def score_all(sizes):
        loop = asyncio.get_running_loop()
        executor = ProcessPoolExecutor(max_workers=4)
        return await asyncio.gather(*(loop.run_in_executor(executor, cpu_task, n) for n in sizes))
    ```

    ## Use instead
    ```python
    async def score_all(sizes):
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(max_workers=4) as executor:
            return await asyncio.gather(
                *(loop.run_in_executor(executor, cpu_task, n) for n in sizes)
            )
    ```

    Module-level executors (deliberately long-lived pools) and executors used as `with` items
    are not flagged.

    ## Fix safety
    Unsafe, when the assignment is a statement of its own and every use of `N` is in the
    statements that follow it in the same block: the assignment becomes
    `with <call> as N:` and those statements are indented under it. Leaving the block now
    waits for the pending tasks and stops the workers.
    """

    code = "ML807"
    name = "executor-never-shut-down"
    summary = (
        "A process/thread pool created in a function is neither used as a context manager "
        "nor shut down"
    )
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("Pool",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # `name = <pool constructor>(...)` directly in the body of a def
        pools = {id(c) for c in _pool_calls(scan, None)}
        if not pools:
            return False
        for a in scan.of(ast.Assign):
            if (
                id(a.value) in pools
                and len(a.targets) == 1
                and isinstance(a.targets[0], ast.Name)
                and isinstance(_enclosing_scope(scan, a), (ast.FunctionDef, ast.AsyncFunctionDef))
            ):
                return True
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        ctx = self.ctx
        if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
            return
        value = node.value
        if not isinstance(value, cst.Call):
            return
        kind = pool_kind_of_call(ctx, value, ctx.scope)
        if kind is None:
            return
        fdef = enclosing_def_or_lambda(ctx)
        if not isinstance(fdef, cst.FunctionDef):
            return
        name = node.targets[0].target.value
        if name in ctx.scope.globals or name in ctx.scope.nonlocals:
            return
        if not self._leaks(fdef, node, name):
            return
        executor = ctx.snippet(value.func, 40)
        workers = "processes" if kind == PROCESS else "threads"
        q = ctx.qualname(value.func)
        is_mp_pool = q is None or not q.endswith("PoolExecutor")
        stop = f"{name}.close() and {name}.join()" if is_mp_pool else f"{name}.shutdown()"
        self.report(
            node,
            f"'{name} = {executor}(…)' is never shut down; worker {workers} outlive this "
            f"function — use 'with {executor}(…) as {name}:' or call {stop}",
            self._fix(node, name),
        )

    def _leaks(self, fdef: cst.FunctionDef, assign: cst.Assign, name: str) -> bool:
        """True when the pool is never closed and never escapes the function."""
        closed = False
        saw_close = saw_join = False
        for sub, parent in walk_with_parents(fdef.body):
            if not isinstance(sub, cst.Name) or sub.value != name:
                continue
            if parent is assign.targets[0]:
                continue
            if isinstance(parent, (cst.AssignTarget, cst.Param)):
                return False  # rebound: too complex
            if isinstance(parent, cst.Attribute) and parent.value is sub:
                attr = parent.attr.value
                if attr in _CLOSERS:
                    closed = True
                elif attr == "close":
                    saw_close = True
                elif attr == "join":
                    saw_join = True
                elif attr not in _USES:
                    return False
                continue
            if isinstance(parent, cst.WithItem) and parent.item is sub:
                closed = True
                continue
            if isinstance(parent, cst.Arg) and parent.value is sub:
                if self._run_in_executor_arg(fdef, parent):
                    continue
                return False
            if isinstance(parent, (cst.Global, cst.Nonlocal, cst.NameItem)):
                return False
            return False  # returned, yielded, stored, compared...: it escapes
        if saw_close and saw_join:
            closed = True
        return not closed

    def _run_in_executor_arg(self, fdef: cst.FunctionDef, arg: cst.Arg) -> bool:
        for sub, _parent in walk_with_parents(fdef.body):
            if isinstance(sub, cst.Call) and sub.args and sub.args[0] is arg:
                func = sub.func
                return isinstance(func, cst.Attribute) and func.attr.value == "run_in_executor"
        return False

    # -- the fix ---------------------------------------------------------------------------
    def _fix(self, node: cst.Assign, name: str) -> Fix | None:
        ctx = self.ctx
        stack = ctx.stack
        # stack: ..., IndentedBlock, SimpleStatementLine, Assign
        if len(stack) < 3:
            return None
        line, block = stack[-2], stack[-3]
        if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
            return None
        if not isinstance(block, cst.IndentedBlock):
            return None
        body = list(block.body)
        index = next((i for i, s in enumerate(body) if s is line), None)
        if index is None or index + 1 >= len(body):
            return None
        following = body[index + 1 :]
        inside: set[int] = set()
        for stmt in following:
            inside.add(id(stmt))
            inside.update(id(n) for n, _ in walk_with_parents(stmt))
        fdef = enclosing_def_or_lambda(ctx)
        if fdef is None:
            return None
        for sub, _parent in walk_with_parents(fdef.body):
            if (
                isinstance(sub, cst.Name)
                and sub.value == name
                and id(sub) not in inside
                and sub is not node.targets[0].target
            ):
                return None
        with_node = cst.With(
            items=[
                cst.WithItem(
                    item=node.value,
                    asname=cst.AsName(name=cst.Name(name)),
                )
            ],
            body=cst.IndentedBlock(body=following, header=line.trailing_whitespace),
            leading_lines=line.leading_lines,
        )
        new_block = block.with_changes(body=[*body[:index], with_node])
        text = code_in_block(ctx.module, new_block, block_indents(ctx.module, stack[:-3]))
        return Fix(FixSafety.UNSAFE, [(block, text)])
