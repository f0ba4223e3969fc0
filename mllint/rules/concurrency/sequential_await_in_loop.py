"""ML981 sequential-await-in-loop."""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name, walk
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import expression_names, iter_names_in_target
from mllint.semantics.walk import iter_descendants


class SequentialAwaitInLoop(Rule):
    """
    ## What it does
    Flags an `await <call>` that is the element of a list comprehension, or a statement (or
    the value of an assignment) directly in the body of a (non-`async`) `for` loop, when the
    call's arguments use the loop variable, the loop has no `break`, does not sleep, and
    nothing else in the loop body reads the awaited result except appending it to a list.
    Stream operations whose order is the point (`send`, `write`, `writelines`, `drain`, `put`,
    `send_bytes`, `send_text`, `send_json`) are not flagged.

    ## Why is this bad?
    Each iteration waits for the previous call to finish: ten 500 ms requests take 5 s.
    `asyncio.gather` overlaps independent calls (about 0.5 s), bounded by an
    `asyncio.Semaphore` when the service limits concurrency.

    ## Example
    ```python
    async def embed_all(client, texts):
        return [await fetch_embedding(client, t) for t in texts]
    ```

    ## Use instead
    ```python
    async def embed_all(client, texts):
        return await asyncio.gather(*(fetch_embedding(client, t) for t in texts))
    ```

    This rule is off by default: ordering is often intended (rate limits, pagination,
    transactions).

    ## Fix safety
    Unsafe, for the list-comprehension form only: `[await f(x) for x in xs]` becomes
    `await asyncio.gather(*(f(x) for x in xs))`. The calls now run concurrently, side effects
    interleave, and the first exception no longer stops the remaining calls from starting.
    """

    code = "ML981"
    name = "sequential-await-in-loop"
    summary = "Independent awaits executed one after another in a loop"
    tier = 2
    default_enabled = False
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("await",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # `[await f(..x..) for x in ...]` (no `async for`), or a statement `[y =] await
        # f(..x..)` directly in the body of a plain `for x in ...:`
        if not scan.has(ast.Await):
            return False
        for comp in scan.of(ast.ListComp):
            elt = comp.elt
            if not isinstance(elt, ast.Await) or not isinstance(elt.value, ast.Call):
                continue
            if any(g.is_async for g in comp.generators):
                continue
            if _ast_args_use(elt.value, [g.target for g in comp.generators]):
                return True
        for loop in scan.of(ast.For):
            for stmt in loop.body:
                if isinstance(stmt, ast.Expr):
                    pass
                elif isinstance(stmt, ast.Assign):
                    if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                        continue
                elif isinstance(stmt, ast.AnnAssign):
                    if not isinstance(stmt.target, ast.Name):
                        continue
                else:
                    continue
                value = stmt.value
                if not isinstance(value, ast.Await) or not isinstance(value.value, ast.Call):
                    continue
                if _ast_args_use(value.value, [loop.target]):
                    return True
        return False

    def visit_ListComp(self, node: cst.ListComp) -> None:
        elt = node.elt
        if not isinstance(elt, cst.Await) or not isinstance(elt.expression, cst.Call):
            return
        call = elt.expression
        targets: set[str] = set()
        comp: cst.CompFor | None = node.for_in
        while comp is not None:
            if comp.asynchronous is not None:
                return
            targets.update(n.value for n in iter_names_in_target(comp.target))
            comp = comp.inner_for_in
        if not _args_use(call, targets):
            return
        self.report(elt, self._message(call), self._fix(node, call))

    def visit_For(self, node: cst.For) -> None:
        if node.asynchronous is not None or not isinstance(node.body, cst.IndentedBlock):
            return
        targets = {n.value for n in iter_names_in_target(node.target)}
        for sub in iter_descendants(node.body, into_scopes=False):
            if isinstance(sub, cst.Break):
                return
            if isinstance(sub, cst.Call) and self.ctx.qualname(sub.func) in (
                "asyncio.sleep",
                "time.sleep",
            ):
                return
        stmts = node.body.body
        for stmt in stmts:
            if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
                continue
            small = stmt.body[0]
            result: str | None = None
            awaited: cst.BaseExpression | None
            if isinstance(small, cst.Expr):
                awaited = small.value
            elif isinstance(small, cst.Assign) and len(small.targets) == 1:
                awaited = small.value
                target = small.targets[0].target
                if not isinstance(target, cst.Name):
                    continue
                result = target.value
            elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                awaited = small.value
                result = small.target.value
            else:
                continue
            if not isinstance(awaited, cst.Await) or not isinstance(awaited.expression, cst.Call):
                continue
            call = awaited.expression
            if not _args_use(call, targets):
                continue
            if result is not None and not self._only_appended(stmts, stmt, result):
                continue
            self.report(awaited, self._message(call))

    def _only_appended(
        self, stmts: Sequence[cst.BaseStatement], own: cst.BaseStatement, name: str
    ) -> bool:
        for stmt in stmts:
            if stmt is own or name not in expression_names(stmt):
                continue
            if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
                return False
            small = stmt.body[0]
            if not (
                isinstance(small, cst.Expr)
                and isinstance(small.value, cst.Call)
                and isinstance(small.value.func, cst.Attribute)
                and small.value.func.attr.value == "append"
                and len(small.value.args) == 1
                and isinstance(small.value.args[0].value, cst.Name)
                and small.value.args[0].value.value == name
                and name not in expression_names(small.value.func)
            ):
                return False
        return True

    def _message(self, call: cst.Call) -> str:
        return (
            f"Awaiting '{self.ctx.snippet(call, 50)}' inside this loop runs the calls one at a "
            "time; if they are independent, run them concurrently with asyncio.gather (bounded "
            "by a Semaphore)"
        )

    def _fix(self, node: cst.ListComp, call: cst.Call) -> Fix | None:
        ctx = self.ctx
        plan = ctx.import_name("asyncio", "gather")
        if plan is None:
            return None
        gen = cst.GeneratorExp(elt=call, for_in=node.for_in)
        new: cst.BaseExpression = cst.Await(
            expression=cst.Call(
                func=cst.parse_expression(plan.local),
                args=[cst.Arg(value=gen, star="*")],
            )
        )
        parent = ctx.parent
        safe_parent = (
            isinstance(parent, (cst.Assign, cst.AnnAssign, cst.Return, cst.Expr, cst.Arg))
            and getattr(parent, "value", None) is node
        )
        if not safe_parent:
            new = new.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return Fix(FixSafety.UNSAFE, [(node, new)], [plan])


#: stream operations whose order is the point (ASGI ``send``, file/stream writes, queue puts)
_ORDERED_METHODS = frozenset(
    {"send", "write", "writelines", "drain", "put", "send_bytes", "send_text", "send_json"}
)


def _args_use(call: cst.Call, targets: set[str]) -> bool:
    func = call.func
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
    if name in _ORDERED_METHODS:
        return False
    return any(expression_names(a.value) & targets for a in call.args)


def _ast_args_use(call: ast.Call, targets: list[ast.expr]) -> bool:
    """``_args_use`` on ``ast`` (a superset): some argument mentions a name of a target."""
    if terminal_name(call.func) in _ORDERED_METHODS:
        return False
    bound = {n.id for t in targets for n in walk(t) if isinstance(n, ast.Name)}
    for a in (*call.args, *(kw.value for kw in call.keywords)):
        for n in walk(a):
            if isinstance(n, ast.Name):
                if n.id in bound:
                    return True
            elif isinstance(n, ast.Attribute):
                if n.attr in bound:
                    return True
            elif isinstance(n, ast.keyword):
                if n.arg in bound:
                    return True
            elif isinstance(n, ast.arg) and n.arg in bound:
                return True
    return False
