"""ML804 unpicklable-process-target."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Mapping, Sequence
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.concurrency.blocking_io_in_async import _arg, _process_targets, _qual_in
from mllint.semantics.concurrency import (
    POOL_CALLABLE_METHODS,
    PROCESS,
    is_process_call,
    main_guards,
    pool_kind_of_expr,
    walk_with_parents,
)
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg, iter_names_in_target
from mllint.semantics.walk import iter_descendants

_BUILTINS = frozenset(dir(builtins))


def process_callable_arg(rule: Rule, call: cst.Call) -> cst.Arg | None:
    """The callable argument of ``<process pool>.map/submit/...(f, ...)`` or
    ``multiprocessing.Process(target=f)``, else None (shared with ML805)."""
    ctx = rule.ctx
    func = call.func
    scope = ctx.scope
    if isinstance(func, cst.Attribute) and func.attr.value in POOL_CALLABLE_METHODS:
        if pool_kind_of_expr(ctx, func.value, scope) != PROCESS:
            return None
        keyword = "fn" if func.attr.value == "submit" else "func"
        return call_arg(call, keyword, 0)
    if is_process_call(ctx, call, scope):
        return call_arg(call, "target", 1)
    return None


class UnpicklableProcessTarget(Rule):
    """
    ## What it does
    Flags the callable sent to worker processes — the first argument of `map`, `imap`,
    `imap_unordered`, `starmap`, `starmap_async`, `map_async`, `apply`, `apply_async` or
    `submit` on a `multiprocessing.Pool`, `multiprocessing.get_context(...).Pool` or
    `concurrent.futures.ProcessPoolExecutor` (also `with ... as pool`), or the `target=` of
    `multiprocessing.Process` — when it is a `lambda`, `functools.partial(<lambda>, ...)`, a
    function nested inside another function, or a function defined under
    `if __name__ == "__main__":`.

    ## Why is this bad?
    Tasks reach the workers by pickling the function by its qualified name. Lambdas and nested
    functions cannot be pickled at all (`PicklingError: Can't pickle <function <lambda>>`). A
    function defined under the main guard exists in the parent, but workers started with
    spawn or forkserver re-import the module as `__mp_main__`, where the guard body does not
    run (`AttributeError: Can't get attribute ...`, then `BrokenProcessPool`). It works with
    fork only, so it breaks on macOS/Windows and with Python 3.14's Linux default.

    ## Example
    ```python
    with ProcessPoolExecutor() as pool:
        results = list(pool.map(lambda c: evaluate(c, X, y), configs))
    ```

    ## Use instead
    ```python
    def evaluate_config(c):
        return evaluate(c, X, y)

    with ProcessPoolExecutor() as pool:
        results = list(pool.map(evaluate_config, configs))
    ```

    Thread pools are not flagged (nothing is pickled).

    ## Fix safety
    Unsafe, only for a function defined directly in the body of the module-level
    `if __name__ == "__main__":` block whose free names are all builtins or module-level names
    bound outside the guard: the `def` is moved to module level just before the guard. It is
    now importable by workers (and by anyone importing the module). Lambdas and nested
    functions have no fix.
    """

    code = "ML804"
    name = "unpicklable-process-target"
    summary = "A lambda, nested function or main-guard function is sent to a process pool"
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("Pool", "Process")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._guard_defs: dict[int, cst.If] | None = None

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a callable sent to worker processes that is a lambda, `partial(<lambda>, ...)`, or
        # the name of a def that is not directly in the module or a class body
        targets = _process_targets(scan)
        if not targets:
            return False
        top: set[int] = {id(s) for s in scan.tree.body}
        for klass in scan.of(ast.ClassDef):
            top.update(id(s) for s in klass.body)
        nested = {fn.name for fn in scan.functions() if id(fn) not in top}
        for t in targets:
            if isinstance(t, ast.Lambda):
                return True
            if isinstance(t, ast.Name) and t.id in nested:
                return True
            if (
                isinstance(t, ast.Call)
                and isinstance(_arg(t, ("func",), 0), ast.Lambda)
                and _qual_in(scan, t.func, ("functools.partial",))
            ):
                return True
        return False

    def _main_guard_defs(self) -> dict[int, cst.If]:
        """id(def) -> the module-level main guard whose body contains it (not in a def)."""
        if self._guard_defs is None:
            found: dict[int, cst.If] = {}
            for guard in main_guards(self.ctx.module):
                for sub in iter_descendants(guard.body, into_scopes=False):
                    if isinstance(sub, cst.FunctionDef):
                        found[id(sub)] = guard
            self._guard_defs = found
        return self._guard_defs

    def visit_Call(self, node: cst.Call) -> None:
        arg = process_callable_arg(self, node)
        if arg is None:
            return
        reason = self._reason(arg.value)
        if reason is None:
            return
        kind, fdef = reason
        fix = self._fix(fdef) if fdef is not None and kind.startswith("defined") else None
        self.report(
            arg.value,
            f"'{self.ctx.snippet(arg.value, 40)}' cannot be pickled by reference for worker "
            f"processes ({kind}); define it at module top level",
            fix,
        )

    def _reason(self, expr: cst.BaseExpression) -> tuple[str, cst.FunctionDef | None] | None:
        ctx = self.ctx
        if isinstance(expr, cst.Lambda):
            return "lambda", None
        if isinstance(expr, cst.Call) and ctx.qualname(expr.func) == "functools.partial":
            first = call_arg(expr, "func", 0)
            if first is not None and isinstance(first.value, cst.Lambda):
                return "lambda", None
            return None
        if not isinstance(expr, cst.Name):
            return None
        bindings = ctx.bindings(expr.value)
        if len(bindings) != 1 or bindings[0].kind != "def":
            return None
        b = bindings[0]
        fdef = b.node
        if not isinstance(fdef, cst.FunctionDef) or b.scope is None:
            return None
        if b.scope.kind == "function":
            return "nested function", None
        if b.scope.kind == "module" and id(fdef) in self._main_guard_defs():
            return 'defined under if __name__ == "__main__"', fdef
        return None

    # -- the fix ---------------------------------------------------------------------------
    def _fix(self, fdef: cst.FunctionDef) -> Fix | None:
        ctx = self.ctx
        guard = self._main_guard_defs().get(id(fdef))
        if guard is None or not isinstance(guard.body, cst.IndentedBlock):
            return None
        if not any(s is fdef for s in guard.body.body):
            return None  # nested in a block of the guard
        if not self._free_names_ok(fdef, guard):
            return None
        rest = [s for s in guard.body.body if s is not fdef]
        if not rest:
            return None
        first = rest[0]
        if isinstance(first, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            rest[0] = first.with_changes(leading_lines=_drop_blank(first.leading_lines))
        module = ctx.module
        new_guard = guard.with_changes(body=guard.body.with_changes(body=rest))
        own = _drop_blank(fdef.leading_lines)
        moved = fdef.with_changes(leading_lines=[*guard.leading_lines, *own])
        new_guard = new_guard.with_changes(
            leading_lines=[cst.EmptyLine(indent=False), cst.EmptyLine(indent=False)]
        )
        new_body: list[cst.BaseStatement] = []
        for s in module.body:
            if s is guard:
                new_body.extend([moved, new_guard])
            else:
                new_body.append(s)
        new_module = module.with_changes(body=new_body)
        return Fix(FixSafety.UNSAFE, [(module, new_module.code)])

    def _free_names_ok(self, fdef: cst.FunctionDef, guard: cst.If) -> bool:
        ctx = self.ctx
        fscope = ctx.model.scope_for(fdef)
        if fscope is None:
            return False
        module_scope = ctx.model.module_scope
        guard_nodes = {id(n) for n in iter_descendants(guard)}
        local = set(fscope.bindings) - fscope.globals
        loaded, nested_bound = _names(fdef)
        for name in loaded - nested_bound:
            if name in local:
                continue
            bindings = module_scope.bindings.get(name)
            if not bindings:
                if name in _BUILTINS:
                    continue
                return False
            if any(id(b.node) in guard_nodes for b in bindings):
                return False
        return True


def _names(fdef: cst.FunctionDef) -> tuple[set[str], set[str]]:
    """(names read anywhere in ``fdef`` incl. decorators/defaults, names bound by nested
    lambdas, comprehensions and defs inside it)."""
    loaded: set[str] = set()
    bound: set[str] = set()
    for node, parent in walk_with_parents(fdef):
        if isinstance(node, cst.Name):
            if isinstance(parent, cst.Attribute) and node is parent.attr:
                continue
            if isinstance(parent, cst.Arg) and node is parent.keyword:
                continue
            if isinstance(parent, (cst.FunctionDef, cst.ClassDef)) and node is parent.name:
                if parent is not fdef:
                    bound.add(node.value)
                continue
            if isinstance(parent, cst.Param) and node is parent.name:
                bound.add(node.value)
                continue
            loaded.add(node.value)
        elif isinstance(node, cst.CompFor):
            bound.update(n.value for n in iter_names_in_target(node.target))
    return loaded, bound


def _drop_blank(lines: Sequence[cst.EmptyLine]) -> list[cst.EmptyLine]:
    """``lines`` without the blank (comment-less) lines before the first comment."""
    start = 0
    while start < len(lines) and lines[start].comment is None:
        start += 1
    return list(lines[start:])
