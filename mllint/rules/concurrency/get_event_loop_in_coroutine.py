"""ML808 get-event-loop-in-coroutine."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.concurrency.blocking_io_in_async import _in_async_body, _qual_calls
from mllint.semantics.concurrency import enclosing_async_def
from mllint.semantics.context import FileFacts


class GetEventLoopInCoroutine(Rule):
    """
    ## What it does
    Flags a call to `asyncio.get_event_loop()` lexically inside an `async def` (not inside a
    nested synchronous `def` or a `lambda`).

    ## Why is this bad?
    Inside a coroutine an event loop is always running, and `asyncio.get_running_loop()`
    returns exactly that loop. `get_event_loop()` is the legacy, policy-dependent API: its
    behaviour when no loop is running is deprecated (DeprecationWarning on Python 3.12/3.13),
    so code that uses it in coroutines tends to be copied into places where it misbehaves.
    Often the whole `loop.run_in_executor(None, f, ...)` pattern can become
    `await asyncio.to_thread(f, ...)`.

    ## Example
    ```python
    async def predict(request):
        loop = asyncio.get_event_loop()
        return await loop.run_in_executor(None, model.predict, request.features)
    ```

    ## Use instead
    ```python
    async def predict(request):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, model.predict, request.features)
    ```

    ## Fix safety
    Safe: `asyncio.get_event_loop()` becomes `asyncio.get_running_loop()` (reusing the
    existing `asyncio` alias, or the `from asyncio import ...` style). Inside a running
    coroutine both return the same loop object. The fix is skipped when the call has
    arguments or the name it would bind is taken.
    """

    code = "ML808"
    name = "get-event-loop-in-coroutine"
    summary = "`asyncio.get_event_loop()` inside `async def`"
    tier = 3
    fix_safety = (FixSafety.SAFE,)
    requires_text = ("get_event_loop",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a call that may be asyncio.get_event_loop() directly in the body of an `async def`
        if not scan.has(ast.AsyncFunctionDef):
            return False
        return _in_async_body(scan, _qual_calls(scan, ("asyncio.get_event_loop",)))

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.qualname(node.func) != "asyncio.get_event_loop":
            return
        if enclosing_async_def(self.ctx) is None:
            return
        fix = None
        if not node.args:
            plan = self.ctx.import_name("asyncio", "get_running_loop")
            if plan is not None:
                fix = Fix(FixSafety.SAFE, [(node.func, plan.local)], [plan])
        self.report(
            node,
            "Use asyncio.get_running_loop() inside a coroutine; get_event_loop() is the legacy, "
            "policy-dependent API",
            fix,
        )
