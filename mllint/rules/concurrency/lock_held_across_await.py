"""ML982 lock-held-across-await."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, walk
from mllint.rule import Rule
from mllint.rules.concurrency.blocking_io_in_async import _bound_to, _qual_calls, _receiver_in
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import int_value
from mllint.semantics.scopes import Binding
from mllint.semantics.walk import iter_descendants

_LOCKS = frozenset({"asyncio.Lock", "asyncio.locks.Lock"})
_CONDITIONS = frozenset({"asyncio.Condition", "asyncio.locks.Condition"})


class LockHeldAcrossAwait(Rule):
    """
    ## What it does
    Flags `async with L:` where `L` is an `asyncio.Lock()` (a name bound only from
    `asyncio.Lock()`, or `self.<attr>` assigned only `asyncio.Lock()` in the class) whose body
    awaits something other than `asyncio.sleep(0)` or a condition's `wait()`.

    ## Why is this bad?
    Holding the lock during a network round-trip or a model call serialises every coroutine
    that needs the lock behind the whole I/O, removing the concurrency asyncio was used for.
    The usual shape is a cache: check under the lock, do the I/O outside it, re-acquire the
    lock to write the result.

    ## Example
    ```python
    _lock = asyncio.Lock()

    async def embedding(text):
        async with _lock:
            if text not in _cache:
                _cache[text] = await embed(text)
            return _cache[text]
    ```

    ## Use instead
    ```python
    async def embedding(text):
        async with _lock:
            cached = _cache.get(text)
        if cached is not None:
            return cached
        result = await embed(text)
        async with _lock:
            _cache[text] = result
        return result
    ```

    This rule is off by default: some locks deliberately serialise a shared connection or
    prevent cache stampedes.

    ## Fix safety
    No fix: splitting the critical section is a design change.
    """

    code = "ML982"
    name = "lock-held-across-await"
    summary = "An `asyncio.Lock` is held while awaiting I/O"
    tier = 2
    default_enabled = False
    requires_text = ("Lock",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # `async with <name or x.attr>:` with an `await` in its body, the name or attribute
        # assigned a call that may be asyncio.Lock()
        withs = scan.of(ast.AsyncWith)
        if not withs or not scan.has(ast.Await):
            return False
        locks = _qual_calls(scan, _LOCKS)
        if not locks:
            return False
        names, attrs = _bound_to(scan, locks, with_items=False)
        for w in withs:
            if not any(_receiver_in(i.context_expr, set(), names, attrs) for i in w.items):
                continue
            if any(isinstance(n, ast.Await) for stmt in w.body for n in walk(stmt)):
                return True
        return False

    def visit_With(self, node: cst.With) -> None:
        if node.asynchronous is None:
            return
        for item in node.items:
            if self._is_asyncio_lock(item.item):
                awaited = self._first_io_await(node.body)
                if awaited is None:
                    return
                self.report(
                    node,
                    f"'async with {self.ctx.snippet(item.item, 40)}' is held across 'await "
                    f"{self.ctx.snippet(awaited, 50)}'; every other coroutine needing the lock "
                    "waits for the whole I/O — check under the lock, do I/O outside, re-acquire "
                    "to write",
                )
                return

    def _bound_from(self, bindings: list[Binding], quals: frozenset[str]) -> bool:
        return bool(bindings) and all(
            isinstance(b.value, cst.Call)
            and not b.unpacked
            and b.kind in ("assign", "annassign", "attr")
            and self.ctx.qualname_in(b.value.func, b.scope or self.ctx.scope) in quals
            for b in bindings
        )

    def _bindings_of(self, expr: cst.BaseExpression) -> list[Binding]:
        ctx = self.ctx
        if isinstance(expr, cst.Name):
            return ctx.bindings(expr.value)
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
            finfo = ctx.enclosing_function()
            cls = ctx.enclosing_class()
            if finfo is not None and cls is not None and finfo.self_name == expr.value.value:
                return cls.attr_bindings.get(expr.attr.value, [])
        return []

    def _is_asyncio_lock(self, expr: cst.BaseExpression) -> bool:
        return self._bound_from(self._bindings_of(expr), _LOCKS)

    def _first_io_await(self, body: cst.BaseSuite) -> cst.BaseExpression | None:
        for sub in iter_descendants(body, into_scopes=False):
            if not isinstance(sub, cst.Await):
                continue
            expr = sub.expression
            if isinstance(expr, cst.Call):
                q = self.ctx.qualname(expr.func)
                if q == "asyncio.sleep":
                    arg = expr.args[0] if expr.args else None
                    if arg is not None and int_value(arg.value) == 0:
                        continue
                func = expr.func
                if (
                    isinstance(func, cst.Attribute)
                    and func.attr.value in ("wait", "wait_for")
                    and self._bound_from(self._bindings_of(func.value), _CONDITIONS)
                ):
                    continue
            return expr
        return None
