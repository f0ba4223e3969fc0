"""ML902 retry-loop-unbounded."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name, walk
from mllint.rule import Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import (
    call_arg,
    dotted_name,
    expression_names,
    float_literal,
    identifier_tokens,
    int_value,
    iter_names_in_target,
)
from mllint.semantics.walk import child_nodes, iter_descendants

_SLEEPS = frozenset({"time.sleep", "asyncio.sleep"})
_SLEEP_NAMES = frozenset({"sleep"})
#: ast.TryStar is Python 3.11+
_AST_TRY = tuple(t for t in (getattr(ast, "Try", None), getattr(ast, "TryStar", None)) if t)
_AST_EXITS = (ast.Return, ast.Raise, ast.Break)
_BROAD = frozenset({"builtins.Exception", "builtins.BaseException"})
#: identifiers that name an attempt budget or a deadline
_BUDGET_TOKENS = frozenset(
    {
        "attempt", "attempts", "retry", "retries", "tries", "try", "deadline", "timeout",
        "elapsed", "remaining", "budget",
    }
)  # fmt: skip
_SCOPES = (cst.FunctionDef, cst.ClassDef, cst.Lambda)
_LOOPS = (cst.For, cst.While)
_EXITS = (cst.Return, cst.Raise, cst.Break)


def _is_true(test: cst.BaseExpression) -> bool:
    if isinstance(test, cst.Name):
        return test.value == "True"
    return int_value(test) == 1


def _ends_with_exit(body: cst.BaseSuite) -> bool:
    """The block's last statement is an unconditional ``raise``/``return``/``break``/
    ``continue``-free exit (the handler does not retry)."""
    stmts = body.body if isinstance(body, cst.IndentedBlock) else [body]
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, cst.SimpleStatementLine):
        return bool(last.body) and isinstance(last.body[-1], _EXITS)
    if isinstance(last, cst.SimpleStatementSuite):
        return bool(last.body) and isinstance(last.body[-1], _EXITS)
    return False


class RetryLoopUnbounded(Rule):
    """
    ## What it does
    Flags a `while True:` retry loop: its body has a `try` whose success path leaves the loop
    (`return`/`break`) and whose `except` handler calls `time.sleep(...)` or
    `await asyncio.sleep(...)` and then retries, when

    * no `break`/`return`/`raise` of the loop depends on an attempt counter or a deadline
      (a name changed inside the loop, a clock call, or a name such as `attempts`,
      `retries`, `deadline`) — the loop never gives up; or
    * the sleep is a constant (a numeric literal or a name bound only to one) — no backoff.

    The message also says when the handler catches every exception (bare `except`,
    `Exception`, `BaseException`). Loops whose `try` never leaves the loop on success
    (daemons and workers that process forever) are not retry loops and are not flagged.

    ## Why is this bad?
    An unbounded retry on a permanent error (bad credentials, a malformed payload, a missing
    file) hangs the job forever instead of failing; a constant delay from many workers
    hammers a rate-limited API in lockstep; catching every exception retries bugs
    (`TypeError`, `KeyError`) that will never succeed.

    ## Example
    ```python
    while True:
        try:
            return client.embed(texts)
        except Exception:
            time.sleep(1)
    ```

    ## Use instead
    ```python
    for attempt in range(5):
        try:
            return client.embed(texts)
        except (TimeoutError, ConnectionError):
            time.sleep(2**attempt + random.random())
    raise RuntimeError("embedding service unavailable after 5 attempts")
    ```

    Or use a retry library such as `tenacity`
    (`@retry(stop=stop_after_attempt(5), wait=wait_random_exponential())`).

    ## Fix safety
    There is no fix: the number of attempts, the backoff and the retryable errors are
    decisions for the author.
    """

    code = "ML902"
    name = "retry-loop-unbounded"
    summary = "A retry loop that never gives up or never backs off"
    tier = 2
    default_enabled = False
    requires_text = ("sleep",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # `while True:` / `while 1:` holding a try statement with a handler that calls
        # (an alias of) sleep and does not end with return/raise/break
        sleeps: frozenset[str] | None = None
        for loop in scan.of(ast.While):
            test = loop.test
            if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.UAdd):
                test = test.operand  # `while +1:` (int_value reads a unary plus)
            if not (isinstance(test, ast.Constant) and test.value == 1):
                continue
            for stmt in loop.body:
                if not isinstance(stmt, _AST_TRY):
                    continue
                for handler in stmt.handlers:
                    if handler.body and isinstance(handler.body[-1], _AST_EXITS):
                        continue
                    if sleeps is None:
                        sleeps = scan.import_aliases(_SLEEP_NAMES)
                    for n in walk(handler):
                        if isinstance(n, ast.Call) and terminal_name(n.func) in sleeps:
                            return True
        return False

    def visit_While(self, node: cst.While) -> None:
        if not _is_true(node.test) or not isinstance(node.body, cst.IndentedBlock):
            return
        for stmt in node.body.body:
            if not isinstance(stmt, (cst.Try, cst.TryStar)):
                continue
            found = self._retry_handler(node, stmt)
            if found is not None:
                self._judge(node, *found)
                return

    def _retry_handler(
        self, loop: cst.While, try_: cst.Try | cst.TryStar
    ) -> tuple[cst.Try | cst.TryStar, cst.BaseExpression | None, bool] | None:
        """(try, sleep argument, broad handler) of the first handler that sleeps and
        retries, when the loop also has a success exit outside the handlers."""
        for handler in try_.handlers:
            if _ends_with_exit(handler.body):
                continue
            sleep = self._sleep_in(handler.body)
            if sleep is None:
                continue
            if not self._success_exit(loop, try_):
                return None
            arg = call_arg(sleep, ("secs", "seconds", "delay"), 0)
            broad = handler.type is None or self._broad(handler.type)
            return try_, arg.value if arg is not None else None, broad
        return None

    def _sleep_in(self, body: cst.CSTNode) -> cst.Call | None:
        for n in iter_descendants(body, into_scopes=False):
            if isinstance(n, cst.Call) and self.ctx.qualname(n.func) in _SLEEPS:
                return n
        return None

    def _broad(self, typ: cst.BaseExpression) -> bool:
        if isinstance(typ, cst.Tuple):
            return any(self._broad(el.value) for el in typ.elements)
        return self.ctx.qualname(typ) in _BROAD

    def _success_exit(self, loop: cst.While, try_: cst.Try | cst.TryStar) -> bool:
        """A ``return``/``break`` of the loop in the ``try`` body, its ``else`` or another
        statement of the loop body (the success path leaves the loop)."""
        roots: list[cst.CSTNode] = []
        assert isinstance(loop.body, cst.IndentedBlock)
        for stmt in loop.body.body:
            if stmt is try_:
                roots.append(try_.body)
                if try_.orelse is not None:
                    roots.append(try_.orelse)
            else:
                roots.append(cst.IndentedBlock(body=[stmt]))
        return any(_exit_nodes(root, (cst.Return, cst.Break)) for root in roots)

    # -- judgement -----------------------------------------------------------------------
    def _judge(
        self,
        loop: cst.While,
        try_: cst.Try | cst.TryStar,
        sleep_arg: cst.BaseExpression | None,
        broad: bool,
    ) -> None:
        gives_up = self._gives_up(loop, try_)
        constant = self._constant(sleep_arg) if sleep_arg is not None else None
        if gives_up and constant is None:
            return
        parts: list[str] = []
        if not gives_up:
            parts.append("never gives up")
        if constant is not None:
            parts.append(f"sleeps a constant {constant}s")
        if broad:
            parts.append("catches every exception")
        what = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        self.report(
            loop,
            f"Retry loop {what}; bound the attempts, back off exponentially with jitter and "
            "retry only transient errors",
        )

    def _constant(self, arg: cst.BaseExpression) -> str | None:
        if int_value(arg) is not None or float_literal(arg) is not None:
            return self.ctx.code(arg).strip()
        if isinstance(arg, cst.Name):
            bindings = self.ctx.bindings(arg.value)
            values: list[str] = []
            for b in bindings:
                if b.kind not in ("assign", "annassign") or b.unpacked or b.value is None:
                    return None
                if int_value(b.value) is None and float_literal(b.value) is None:
                    return None
                values.append(self.ctx.code(b.value).strip())
            if values and len(set(values)) == 1:
                return values[0]
        return None

    def _gives_up(self, loop: cst.While, try_: cst.Try | cst.TryStar) -> bool:
        """An exit on the failure path (outside the ``try`` body and its ``else``) guarded
        by an attempt counter, a deadline or a clock."""
        changing = _changed_names(loop.body)
        roots: list[cst.CSTNode] = []
        assert isinstance(loop.body, cst.IndentedBlock)
        for stmt in loop.body.body:
            if stmt is try_:
                roots.extend(try_.handlers)
                if try_.finalbody is not None:
                    roots.append(try_.finalbody)
            else:
                roots.append(stmt)
        for root in roots:
            wrapper = (
                cst.IndentedBlock(body=[root]) if isinstance(root, cst.BaseStatement) else root
            )
            for _exit, tests in _guarded_exits(wrapper):
                if any(self._budget_test(test, changing) for test in tests):
                    return True
        return False

    def _budget_test(self, test: cst.BaseExpression, changing: set[str]) -> bool:
        for n in (test, *iter_descendants(test, into_scopes=False)):  # `if expired:` too
            if isinstance(n, cst.Call):
                q = self.ctx.qualname(n.func) or ""
                if q.startswith("time.") or q.endswith((".now", ".utcnow")):
                    return True
            if isinstance(n, (cst.Name, cst.Attribute)):
                dotted = dotted_name(n)
                if dotted is not None and dotted in changing:
                    return True
        return any(
            t in _BUDGET_TOKENS for name in expression_names(test) for t in identifier_tokens(name)
        )


def _exit_nodes(
    node: cst.CSTNode, kinds: tuple[type[cst.CSTNode], ...], nested_loop: bool = False
) -> list[cst.CSTNode]:
    """``return``/``raise``/``break`` statements of the loop under ``node`` (a ``break`` of a
    nested loop is not the loop's)."""
    out: list[cst.CSTNode] = []
    for child in child_nodes(node):
        if isinstance(child, _SCOPES):
            continue
        if isinstance(child, kinds) and not (isinstance(child, cst.Break) and nested_loop):
            out.append(child)
        out.extend(_exit_nodes(child, kinds, nested_loop or isinstance(child, _LOOPS)))
    return out


def _guarded_exits(
    node: cst.CSTNode,
    tests: tuple[cst.BaseExpression, ...] = (),
    nested_loop: bool = False,
) -> list[tuple[cst.CSTNode, tuple[cst.BaseExpression, ...]]]:
    """Every exit of the loop with the ``if``/``while``/``assert`` tests guarding it."""
    out: list[tuple[cst.CSTNode, tuple[cst.BaseExpression, ...]]] = []
    for child in child_nodes(node):
        if isinstance(child, _SCOPES):
            continue
        if isinstance(child, _EXITS) and not (isinstance(child, cst.Break) and nested_loop):
            out.append((child, tests))
        if isinstance(child, cst.Assert):
            out.append((child, (*tests, child.test)))
        if isinstance(child, cst.If):
            inner = (*tests, child.test)
            out.extend(_guarded_exits(child.body, inner, nested_loop))
            if child.orelse is not None:
                out.extend(_guarded_exits(child.orelse, inner, nested_loop))
            continue
        if isinstance(child, cst.While):
            out.extend(_guarded_exits(child, (*tests, child.test), True))
            continue
        out.extend(_guarded_exits(child, tests, nested_loop or isinstance(child, _LOOPS)))
    return out


def _changed_names(body: cst.CSTNode) -> set[str]:
    """Names (and dotted ``self.x`` targets) rebound inside the loop body."""
    out: set[str] = set()
    for n in iter_descendants(body, into_scopes=False):
        targets: list[cst.BaseExpression] = []
        if isinstance(n, cst.AugAssign):
            targets.append(n.target)
        elif isinstance(n, cst.Assign):
            targets.extend(t.target for t in n.targets)
        elif isinstance(n, (cst.AnnAssign, cst.For, cst.CompFor, cst.NamedExpr)):
            targets.append(n.target)
        for t in targets:
            dotted = dotted_name(t)
            if dotted is not None:
                out.add(dotted)
            out.update(x.value for x in iter_names_in_target(t))
    return out
