"""ML809 except-star-around-gather."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Rule
from mllint.rules.concurrency.blocking_io_in_async import _qual_calls
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg


class ExceptStarAroundGather(Rule):
    """
    ## What it does
    Flags `await asyncio.gather(...)` without `return_exceptions=True` directly in the body of
    a `try ... except*` statement (as an expression statement, an assignment value or a
    `return` value).

    ## Why is this bad?
    `gather` propagates the *first* exception unchanged and does not cancel the other
    awaitables, which keep running. `except*` then wraps that single exception in a
    one-element `ExceptionGroup`: with two failing tasks the handler sees one exception.
    Collecting every failure into an `ExceptionGroup` (and cancelling the rest) is what
    `asyncio.TaskGroup` does, not `gather`.

    ## Example
    ```python
    try:
        await asyncio.gather(*(validate(b) for b in batches))
    except* DataValidationError as eg:
        report(eg.exceptions)
    ```

    ## Use instead
    ```python
    try:
        async with asyncio.TaskGroup() as tg:
            for b in batches:
                tg.create_task(validate(b))
    except* DataValidationError as eg:
        report(eg.exceptions)
    ```

    ## Fix safety
    No fix: moving to `TaskGroup` changes cancellation and requires Python 3.11.
    """

    code = "ML809"
    name = "except-star-around-gather"
    summary = "`except*` around `asyncio.gather(...)` expecting all task failures"
    tier = 3
    requires_text = ("except*", "except *")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # `try ... except*` whose body has a statement `[x =] [return] await <gather>(...)`
        # without `return_exceptions=<anything but False>`
        try_star = getattr(ast, "TryStar", None)
        if try_star is None:  # pragma: no cover - Python < 3.11 cannot parse `except*`
            return True
        tries = scan.of(try_star)
        if not tries:
            return False
        gathers = {id(c) for c in _qual_calls(scan, ("asyncio.gather",))}
        if not gathers:
            return False
        for t in tries:
            for stmt in t.body:
                if not isinstance(stmt, (ast.Expr, ast.Assign, ast.AnnAssign, ast.Return)):
                    continue
                value = stmt.value
                if not isinstance(value, ast.Await) or id(value.value) not in gathers:
                    continue
                assert isinstance(value.value, ast.Call)
                flag = next(
                    (kw.value for kw in value.value.keywords if kw.arg == "return_exceptions"),
                    None,
                )
                if flag is None or (isinstance(flag, ast.Constant) and flag.value is False):
                    return True
        return False

    def visit_TryStar(self, node: cst.TryStar) -> None:
        body = node.body
        if not isinstance(body, cst.IndentedBlock):
            return
        for stmt in body.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                value = getattr(small, "value", None)
                if not isinstance(small, (cst.Expr, cst.Assign, cst.AnnAssign, cst.Return)):
                    continue
                if not isinstance(value, cst.Await) or not isinstance(value.expression, cst.Call):
                    continue
                call = value.expression
                if self.ctx.qualname(call.func) != "asyncio.gather":
                    continue
                flag = call_arg(call, "return_exceptions")
                if flag is not None and not (
                    isinstance(flag.value, cst.Name) and flag.value.value == "False"
                ):
                    continue
                self.report(
                    call,
                    "asyncio.gather raises only the first exception (the other tasks keep "
                    "running); except* here sees a one-element group — use asyncio.TaskGroup "
                    "to collect all failures and cancel the rest",
                )
