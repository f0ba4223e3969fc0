"""ML015 exit-swallows-exceptions."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, walk
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import expression_names, float_literal, int_value, string_value
from mllint.semantics.scopes import all_params
from mllint.semantics.walk import iter_descendants


def _truthy_literal(value: cst.BaseExpression | None) -> bool:
    if value is None:
        return False
    if isinstance(value, cst.Name):
        return value.value == "True"
    number = int_value(value)
    if number is not None:
        return number != 0
    f = float_literal(value)
    if f is not None:
        return f != 0.0
    s = string_value(value)
    if s is not None:
        return s != ""
    if isinstance(value, (cst.List, cst.Tuple, cst.Set, cst.Dict)):
        return bool(value.elements)
    return False


def _ast_maybe_truthy(value: ast.expr | None) -> bool:
    """A ``return`` value _truthy_literal may accept: a truthy constant (True, a number, a
    string), a unary sign on anything, a display."""
    if isinstance(value, ast.Constant):
        return bool(value.value)
    return isinstance(value, (ast.UnaryOp, ast.List, ast.Tuple, ast.Set, ast.Dict))


class ExitSwallowsExceptions(Rule):
    """
    ## What it does
    Flags `return True` (or another truthy constant: a non-zero number, a non-empty string or
    container) in the `__exit__`/`__aexit__` method of a class, unless the method inspects
    the exception: an `if` (or conditional expression) whose test mentions the exception
    parameters, `issubclass(...)` or `isinstance(...)`, around the `return` or before it
    (a checker that returns `False` for other exception types, then `True`).

    ## Why is this bad?
    A truthy return value from `__exit__` tells Python that the exception was handled. Every
    exception raised in the `with` body then disappears: `with Timer(): model.fit(X, y)`
    carries on as if `fit` had succeeded, and the pipeline saves a broken model.

    ## Example
    ```python
    class Timer:
        def __enter__(self):
            self.t0 = time.perf_counter()
            return self

        def __exit__(self, exc_type, exc, tb):
            log.info("took %.2fs", time.perf_counter() - self.t0)
            return True
    ```

    ## Use instead
    ```python
    class Timer:
        def __enter__(self):
            self.t0 = time.perf_counter()
            return self

        def __exit__(self, exc_type, exc, tb):
            log.info("took %.2fs", time.perf_counter() - self.t0)
            return False
    ```

    To ignore one specific error, use `contextlib.suppress(FileNotFoundError)` or return
    `issubclass(exc_type, FileNotFoundError)`.

    ## Fix safety
    Unsafe: the constant becomes `False`. Exceptions that were silently swallowed now
    propagate, which is the intent but changes what the program does.
    """

    code = "ML015"
    name = "exit-swallows-exceptions"
    summary = (
        "`__exit__` returns a truthy constant and suppresses every exception from the `with` body"
    )
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("__exit__", "__aexit__")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a def named __exit__/__aexit__ with a `return <literal>` that may be truthy
        for fn in scan.functions():
            if fn.name in ("__exit__", "__aexit__"):
                for n in walk(fn):
                    if isinstance(n, ast.Return) and _ast_maybe_truthy(n.value):
                        return True
        return False

    def visit_Return(self, node: cst.Return) -> None:
        func = self.ctx.enclosing_function()
        if func is None or func.node.name.value not in ("__exit__", "__aexit__"):
            return
        if not func.is_method or self.ctx.scope is not func.scope:
            return
        if not _truthy_literal(node.value):
            return
        params = [p.name.value for p in all_params(func.node.params)][1:4]
        guard_names = set(params) | {"issubclass", "isinstance"}
        # an `if` on the exception anywhere in the method (an early `return False` for
        # other exception types, then `return True`): the suppression is deliberate
        for n in iter_descendants(func.node.body, into_scopes=False):
            if isinstance(n, (cst.If, cst.IfExp)) and expression_names(n.test) & guard_names:
                return
        assert node.value is not None
        shown = self.ctx.snippet(node.value, 30)
        self.report(
            node,
            f"__exit__ returns {shown}, which suppresses every exception raised in the "
            "with-block (failed training or saving looks successful)",
            Fix(FixSafety.UNSAFE, [(node.value, "False")]),
        )
