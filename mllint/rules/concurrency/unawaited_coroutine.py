"""ML802 unawaited-coroutine."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.prescan import start_pos as _start
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.concurrency.blocking_io_in_async import (
    _enclosing_scope,
    _end,
    _qual_calls,
    _qual_in,
)
from mllint.semantics.concurrency import enclosing_async_def
from mllint.semantics.context import FileFacts
from mllint.semantics.scopes import FunctionInfo

#: decorators that keep an ``async def`` a coroutine function
_TRANSPARENT_DECORATORS = frozenset(
    {
        "builtins.staticmethod",
        "builtins.classmethod",
        "abc.abstractmethod",
        "typing.override",
        "typing_extensions.override",
    }
)


class UnawaitedCoroutine(Rule):
    """
    ## What it does
    Flags an expression statement that calls an `async def` of the same module (a
    module-level coroutine function, or `self.<m>(...)`/`cls.<m>(...)` where `<m>` is an
    `async def` method of the enclosing class) or `asyncio.sleep(...)`, without `await`.

    ## Why is this bad?
    Calling an `async def` only builds a coroutine object: its body never runs, and Python
    emits `RuntimeWarning: coroutine '...' was never awaited` (a warning that has existed
    since Python 3.5, not a 3.12 novelty), which is easily lost in server logs. Metrics are
    silently not logged, caches not warmed, `asyncio.sleep` does not sleep.

    ## Example
    ```python
    async def log_metrics(batch): ...

    async def handle(batch):
        log_metrics(batch)
        return await predict(batch)
    ```

    ## Use instead
    ```python
    async def handle(batch):
        await log_metrics(batch)
        return await predict(batch)
    ```

    Calls whose result is assigned, returned, awaited or passed to another call
    (`asyncio.run(main())`, `asyncio.gather(f())`, `loop.create_task(f())`) are not flagged,
    nor async generator functions (they contain `yield`) and coroutine functions with other
    decorators (a decorator may turn them into something else). Bare
    `asyncio.create_task(...)` statements are ruff's RUF006.

    ## Fix safety
    Unsafe, and only inside an `async def`: the call is prefixed with `await`. The coroutine
    now actually runs (and may raise or take time) at that point.
    """

    code = "ML802"
    name = "unawaited-coroutine"
    summary = "A coroutine function of the same module is called as a statement and never awaited"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("async",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # an expression statement calling `asyncio.sleep(...)`, `name(...)` where `name` is
        # a module-level `async def`, or `<x>.name(...)` inside a class with an `async def`
        # method `name` (async defs whose decorators are plain names/attributes only)
        methods: dict[str, list[ast.AST]] = {}
        coros: set[str] = set()
        for fn in scan.of(ast.AsyncFunctionDef):
            if not _plain_decorators(scan, fn):
                continue
            owner = _enclosing_scope(scan, fn)
            if owner is None:
                coros.add(fn.name)
            elif isinstance(owner, ast.ClassDef):
                methods.setdefault(fn.name, []).append(owner)
        sleeps = {id(c) for c in _qual_calls(scan, ("asyncio.sleep",))}
        if not coros and not methods and not sleeps:
            return False
        for stmt in scan.of(ast.Expr):
            call = stmt.value
            if not isinstance(call, ast.Call):
                continue
            func = call.func
            if id(call) in sleeps or (isinstance(func, ast.Name) and func.id in coros):
                return True
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                for klass in methods.get(func.attr, ()):
                    if _start(klass) <= _start(stmt) and _end(stmt) <= _end(klass):
                        return True
        return False

    def visit_Expr(self, node: cst.Expr) -> None:
        call = node.value
        if not isinstance(call, cst.Call):
            return
        if not self._is_coroutine_call(call):
            return
        fix = None
        if enclosing_async_def(self.ctx) is not None:
            fix = Fix(FixSafety.UNSAFE, [(call, cst.Await(expression=call))])
        shown = self.ctx.snippet(call.func, 50)
        self.report(
            call,
            f"'{shown}(…)' creates a coroutine that never runs; await it (or schedule it with "
            "asyncio.create_task and keep the task)",
            fix,
        )

    def _is_coroutine_call(self, call: cst.Call) -> bool:
        ctx = self.ctx
        func = call.func
        if ctx.qualname(func) == "asyncio.sleep":
            return True
        if isinstance(func, cst.Name):
            bindings = ctx.bindings(func.value)
            if len(bindings) != 1:
                return False
            b = bindings[0]
            scope = b.scope
            if b.kind != "def" or scope is None or scope.kind != "module":
                return False
            info = ctx.model.functions.get(id(b.node))
            return info is not None and self._is_coroutine_function(info)
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            finfo = ctx.enclosing_function()
            cls = ctx.enclosing_class()
            if finfo is None or cls is None or finfo.self_name != func.value.value:
                return False
            self_bindings = ctx.bindings(func.value.value)
            if len(self_bindings) != 1 or self_bindings[0].scope is not finfo.scope:
                return False  # `self` rebound, or shadowed by a lambda/comprehension
            method = cls.methods.get(func.attr.value)
            if method is None or len(cls.scope.bindings.get(func.attr.value, [])) != 1:
                return False
            info = ctx.model.functions.get(id(method))
            return info is not None and self._is_coroutine_function(info)
        return False

    def _is_coroutine_function(self, info: FunctionInfo) -> bool:
        if not info.is_async or info.is_generator:
            return False
        parent = info.scope.parent
        if parent is None:
            return False
        for dec in info.node.decorators:
            expr = dec.decorator
            if isinstance(expr, cst.Call):
                return False
            if self.ctx.qualname_in(expr, parent) not in _TRANSPARENT_DECORATORS:
                return False
        return True


def _plain_decorators(scan: Scan, fn: ast.AsyncFunctionDef) -> bool:
    """Every decorator may be one that keeps a coroutine function one."""
    return all(
        not isinstance(d, ast.Call) and _qual_in(scan, d, _TRANSPARENT_DECORATORS)
        for d in fn.decorator_list
    )
