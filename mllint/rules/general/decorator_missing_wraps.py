"""ML005 decorator-missing-wraps."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name, walk
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import attr_name, block_indents, code_in_block, dotted_name
from mllint.semantics.scopes import Scope, all_params
from mllint.semantics.walk import iter_descendants

#: decorator factories that preserve the metadata themselves
_DECORATOR_LIBS = frozenset({"decorator.decorator", "wrapt.decorator"})
_WRAPS = frozenset({"functools.wraps", "functools.update_wrapper"})
_METADATA_ATTRS = frozenset({"__name__", "__wrapped__", "__qualname__"})


class DecoratorMissingWraps(Rule):
    """
    ## What it does
    Flags the wrapper function of a decorator that is not decorated with
    `@functools.wraps(func)`: a nested `def inner` that calls a parameter `func` of the
    enclosing function (directly or with `await`) and is returned by it with `return inner`,
    when the enclosing function does not call `functools.update_wrapper(inner, func)` or set
    `inner.__name__`/`inner.__wrapped__` either. Decorator factories
    (`outer(args) -> decorator(func) -> inner`) are covered the same way.

    ## Why is this bad?
    Without `wraps`, the decorated function is renamed to `wrapper`: logs and timers print
    "wrapper took 0.5s", pytest, Sphinx, click and FastAPI introspect the wrong signature and
    docstring, and pickling by reference (multiprocessing workers) looks up the wrong name.

    ## Example
    ```python
    import time

    def timer(func):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                print(f"{func.__name__} took {time.perf_counter() - t0:.2f}s")
        return wrapper
    ```

    ## Use instead
    ```python
    import functools

    def timer(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            ...
        return wrapper
    ```

    Decorators built with `decorator.decorator` or `wrapt.decorator`, class-based decorators,
    closure factories whose inner function does not call the parameter, and wrappers returned
    inside a tuple or dict are not flagged.

    ## Fix safety
    Unsafe: the fix inserts `@functools.wraps(<param>)` (or `@wraps(<param>)` when the module
    already imports `wraps` from `functools`) as the first decorator of the wrapper, which
    changes its `__name__`, `__doc__`, `__wrapped__` and `inspect.signature`. That is the
    intent, but frameworks observe it (pytest fixture injection follows `__wrapped__`).
    """

    code = "ML005"
    name = "decorator-missing-wraps"
    summary = "A decorator's wrapper function does not use `functools.wraps`"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("return",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # `return NAME` where NAME is a function without `@...wraps(...)` that calls a
        # parameter of some function (not its own) forwarding all its own parameters or its
        # *args/**kwargs
        returned = {r.value.id for r in scan.of(ast.Return) if isinstance(r.value, ast.Name)}
        if not returned:
            return False
        params: set[str] | None = None
        for fn in scan.functions():
            if fn.name not in returned or any(
                terminal_name(d.func if isinstance(d, ast.Call) else d) == "wraps"
                for d in fn.decorator_list
            ):
                continue  # `@wraps(...)`/`@functools.wraps(...)`: not flagged
            own, stars = _ast_params(fn.args)
            for stmt in fn.body:
                for sub in walk(stmt):
                    if not (
                        isinstance(sub, ast.Call)
                        and isinstance(sub.func, ast.Name)
                        and sub.func.id not in own
                    ):
                        continue
                    passed = {
                        v.id
                        for v in (
                            *(a.value if isinstance(a, ast.Starred) else a for a in sub.args),
                            *(k.value for k in sub.keywords),
                        )
                        if isinstance(v, ast.Name)
                    }
                    if not (own <= passed or stars & passed):
                        continue
                    if params is None:
                        params = set()
                        for f in scan.functions():
                            params |= _ast_params(f.args)[0]
                    if sub.func.id in params:
                        return True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        outer_scope = self.ctx.scope
        if outer_scope.kind != "function" or outer_scope.function_info is None:
            return
        outer = outer_scope.function_info.node
        name = node.name.value
        if self._has_wraps_decorator(node, outer_scope):
            return
        if not _returns_name(outer, name):
            return
        param = self._called_parameter(node, outer_scope)
        if param is None:
            return
        if self._library_decorated(outer_scope) or _restores_metadata(outer, name):
            return
        self.report(
            node.name if node.decorators else node,
            f"Wrapper '{name}' returned by decorator '{outer.name.value}' lacks "
            f"@functools.wraps({param}): the decorated function loses __name__, __doc__, "
            "__qualname__ and __wrapped__",
            self._fix(node, param),
        )

    def _has_wraps_decorator(self, node: cst.FunctionDef, scope: Scope) -> bool:
        for dec in node.decorators:
            expr = dec.decorator
            if isinstance(expr, cst.Call):
                expr = expr.func
            q = self.ctx.qualname_in(expr, scope)
            if q in _WRAPS or attr_name(expr) == "wraps":
                return True
        return False

    def _called_parameter(self, inner: cst.FunctionDef, outer_scope: Scope) -> str | None:
        """A parameter of the enclosing function that ``inner`` calls (``f(...)``,
        ``await f(...)``) forwarding its own arguments: the call passes every parameter of
        ``inner``, or forwards its ``*args``/``**kwargs`` (an adapter with another signature
        must not get ``wraps``, which would make ``inspect.signature`` lie)."""
        inner_scope = self.ctx.model.scope_for(inner)
        if inner_scope is None:
            return None
        params = inner.params
        stars = {
            p.name.value for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)
        }
        own = {p.name.value for p in all_params(params)}
        for sub in iter_descendants(inner.body, into_scopes=False):
            if not (isinstance(sub, cst.Call) and isinstance(sub.func, cst.Name)):
                continue
            found = self.ctx.model.lookup(sub.func.value, inner_scope)
            if not found or not all(b.kind == "param" and b.scope is outer_scope for b in found):
                continue
            passed = {a.value.value for a in sub.args if isinstance(a.value, cst.Name)}
            if own <= passed or stars & passed:
                return sub.func.value
        return None

    def _library_decorated(self, scope: Scope | None) -> bool:
        """The enclosing function (or a factory level above it) is decorated with
        ``decorator.decorator`` / ``wrapt.decorator``."""
        while scope is not None and scope.kind == "function" and scope.function_info is not None:
            node = scope.function_info.node
            parent = scope.parent or scope
            for dec in node.decorators:
                expr = dec.decorator
                if isinstance(expr, cst.Call):
                    expr = expr.func
                if self.ctx.qualname_in(expr, parent) in _DECORATOR_LIBS:
                    return True
            scope = scope.parent
        return False

    def _fix(self, node: cst.FunctionDef, param: str) -> Fix | None:
        inner_scope = self.ctx.model.scope_for(node)
        plan = self.ctx.import_name("functools", "wraps")
        if plan is None or inner_scope is None:
            return None
        root = plan.local.split(".", 1)[0]
        # the decorator is evaluated in the enclosing function: its root name must not be a
        # local there
        if root in self.ctx.scope.bindings:
            return None
        decorator = cst.Decorator(decorator=cst.parse_expression(f"{plan.local}({param})"))
        new_node = node.with_changes(decorators=[decorator, *node.decorators])
        text = code_in_block(
            self.ctx.module, new_node, block_indents(self.ctx.module, self.ctx.stack[:-1])
        )
        return Fix(FixSafety.UNSAFE, [(node, text)], [plan])


def _ast_params(args: ast.arguments) -> tuple[set[str], set[str]]:
    """(every parameter name, the ``*args``/``**kwargs`` names)."""
    stars = {p.arg for p in (args.vararg, args.kwarg) if p is not None}
    return {p.arg for p in (*args.posonlyargs, *args.args, *args.kwonlyargs)} | stars, stars


def _returns_name(outer: cst.FunctionDef, name: str) -> bool:
    for sub in iter_descendants(outer.body, into_scopes=False):
        if (
            isinstance(sub, cst.Return)
            and isinstance(sub.value, cst.Name)
            and sub.value.value == name
        ):
            return True
    return False


def _restores_metadata(outer: cst.FunctionDef, name: str) -> bool:
    """``update_wrapper(inner, f)`` or ``inner.__name__ = ...`` in the enclosing function."""
    for sub in iter_descendants(outer.body, into_scopes=False):
        if isinstance(sub, cst.Call):
            callee = attr_name(sub.func)
            if callee in ("update_wrapper", "setattr") and sub.args:
                first = sub.args[0].value
                if isinstance(first, cst.Name) and first.value == name:
                    return True
            if callee == "wraps":
                return True  # wraps(f)(inner) applied by hand
        elif isinstance(sub, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
            targets = (
                [t.target for t in sub.targets] if isinstance(sub, cst.Assign) else [sub.target]
            )
            for t in targets:
                d = dotted_name(t)
                if (
                    d is not None
                    and d.startswith(name + ".")
                    and d.split(".", 1)[1] in _METADATA_ATTRS
                ):
                    return True
    return False
