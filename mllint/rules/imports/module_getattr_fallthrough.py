"""ML702 module-getattr-falls-through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import libcst as cst

from mllint.prescan import Scan, scope_statements
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block, dotted_name
from mllint.semantics.walk import iter_descendants

_FALLS_THROUGH = (
    "Module __getattr__ can fall through and return None for unknown names (hasattr() is then "
    "always True and 'from pkg import Typo' binds None); end it with raise AttributeError(...)"
)


def module_getattr_param(node: cst.FunctionDef) -> str | None:
    """The name of the single positional parameter of a ``def __getattr__(name)``."""
    params = node.params
    ordered = [*params.posonly_params, *params.params]
    if len(ordered) != 1 or params.kwonly_params or isinstance(params.star_arg, cst.Param):
        return None
    return ordered[0].name.value


def has_module_getattr(scan: Scan) -> bool:
    """The ``ast`` pre-scan of ML702/ML703: a ``def __getattr__(name)`` (async too) with one
    positional parameter, at module level (also inside module-level if/try/with/loops/match,
    not in a class or function)."""
    candidates = {
        id(fn)
        for fn in scan.functions()
        if fn.name == "__getattr__"
        and len(fn.args.posonlyargs) + len(fn.args.args) == 1
        and not fn.args.kwonlyargs
        and fn.args.vararg is None
    }
    if not candidates:
        return False
    return any(id(stmt) in candidates for stmt in scope_statements(scan.tree.body))


def _is_none_return(stmt: cst.Return) -> bool:
    value = stmt.value
    return value is None or (isinstance(value, cst.Name) and value.value == "None")


def _suite_statements(suite: cst.BaseSuite) -> Sequence[cst.CSTNode]:
    if isinstance(suite, cst.IndentedBlock):
        return suite.body
    if isinstance(suite, cst.SimpleStatementSuite):
        return suite.body
    return ()


def _block_exits(stmts: Sequence[cst.CSTNode]) -> bool:
    """Whether every path through the statements ends in ``return <value>`` or ``raise``
    (simple analysis: a statement that always exits ends the block)."""
    return any(_stmt_exits(s) for s in stmts)


def _stmt_exits(stmt: cst.CSTNode) -> bool:
    if isinstance(stmt, cst.SimpleStatementLine):
        return _block_exits(stmt.body)
    if isinstance(stmt, cst.Raise):
        return True
    if isinstance(stmt, cst.Return):
        return not _is_none_return(stmt)
    if isinstance(stmt, cst.If):
        if not _block_exits(_suite_statements(stmt.body)):
            return False
        orelse = stmt.orelse
        if orelse is None:
            return False
        if isinstance(orelse, cst.If):
            return _stmt_exits(orelse)
        return _block_exits(_suite_statements(orelse.body))
    if isinstance(stmt, (cst.Try, cst.TryStar)):
        if stmt.finalbody is not None and _block_exits(_suite_statements(stmt.finalbody.body)):
            return True
        main = _block_exits(_suite_statements(stmt.body)) or (
            stmt.orelse is not None and _block_exits(_suite_statements(stmt.orelse.body))
        )
        return main and all(_block_exits(_suite_statements(h.body)) for h in stmt.handlers)
    if isinstance(stmt, cst.With):
        return _block_exits(_suite_statements(stmt.body))
    if isinstance(stmt, cst.While):
        # `while True:` without break never falls out of the loop
        if isinstance(stmt.test, cst.Name) and stmt.test.value == "True":
            return not _has_break(stmt)
        return False
    if isinstance(stmt, cst.Match):
        for case in stmt.cases:
            if not _block_exits(_suite_statements(case.body)):
                return False
        return any(_irrefutable(case.pattern) and case.guard is None for case in stmt.cases)
    return False


def _has_break(loop: cst.While) -> bool:
    """Any ``break`` in the loop body (conservative: also those of nested loops)."""
    return any(isinstance(n, cst.Break) for n in iter_descendants(loop.body, into_scopes=False))


def _irrefutable(pattern: cst.MatchPattern) -> bool:
    return isinstance(pattern, cst.MatchAs) and pattern.pattern is None


def _none_returns(func: cst.FunctionDef) -> bool:
    return any(
        isinstance(n, cst.Return) and _is_none_return(n)
        for n in iter_descendants(func.body, into_scopes=False)
    )


class ModuleGetattrFallsThrough(Rule):
    """
    ## What it does
    Flags a module-level `def __getattr__(name)` (PEP 562) where some path reaches the end of
    the body, or a bare `return` / `return None`, without raising — so the lookup of an
    unknown attribute returns `None`. Also flags a `__getattr__` whose final `raise` raises
    something other than `AttributeError` (such as `ImportError`).

    ## Why is this bad?
    Python calls a module `__getattr__` for every attribute the module does not have.
    Returning `None` makes every probe succeed: `hasattr(pkg, "Typo")` is True and
    `from pkg import Typo` silently binds `None`, so a typo surfaces much later as
    `'NoneType' object is not callable`. Raising another exception type breaks `hasattr`,
    `getattr(mod, name, default)` and tools that probe module attributes, which all expect
    `AttributeError`.

    ## Example
    ```python
    def __getattr__(name):
        if name == "TorchModel":
            from .torch_model import TorchModel
            return TorchModel
    ```

    ## Use instead
    ```python
    from typing import Any


    def __getattr__(name: str) -> Any:
        if name == "TorchModel":
            from .torch_model import TorchModel
            return TorchModel
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    ```

    No `# type: ignore[misc]` is needed on a lazy `__getattr__`; annotate it `-> Any`.

    ## Fix safety
    Safe: when the body falls off its end, the fix appends
    `raise AttributeError(f"module {__name__!r} has no attribute {name!r}")` (using the
    function's parameter name). The only behaviour that changes is that lookups of unknown
    attributes raise instead of returning `None`, which is what the module attribute protocol
    requires. There is no fix when the function returns `None` explicitly, raises another
    exception type, or when `AttributeError` is rebound in the module.
    """

    code = "ML702"
    name = "module-getattr-falls-through"
    summary = "A module-level `__getattr__` can return `None` instead of raising AttributeError"
    tier = 2
    fix_safety = (FixSafety.SAFE,)
    requires_text = ("__getattr__",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        return has_module_getattr(scan)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if node.name.value != "__getattr__" or self.ctx.scope.kind != "module":
            return
        param = module_getattr_param(node)
        if param is None:
            return
        body = _suite_statements(node.body)
        last = body[-1] if body else None
        wrong = self._wrong_exception(last)
        if wrong is not None:
            self.report(
                node,
                f"Module __getattr__ raises {wrong} for unknown names instead of AttributeError "
                "(hasattr() and getattr(module, name, default) then raise too); raise "
                "AttributeError(...)",
            )
            return
        explicit_none = _none_returns(node)
        if not explicit_none and _block_exits(body):
            return
        fix = None if explicit_none else self._fix(node, param)
        self.report(node, _FALLS_THROUGH, fix)

    def _wrong_exception(self, last: cst.CSTNode | None) -> str | None:
        """The name of the exception the final ``raise`` statement raises, when it is not
        AttributeError (or a subclass we can see)."""
        if not isinstance(last, cst.SimpleStatementLine) or len(last.body) != 1:
            return None
        stmt = last.body[0]
        if not isinstance(stmt, cst.Raise) or stmt.exc is None:
            return None
        exc = stmt.exc
        if isinstance(exc, cst.Call):
            exc = exc.func
        name = dotted_name(exc)
        if name is None:
            return None
        q = self.ctx.qualname(exc)
        if q is None or not q.startswith("builtins."):
            # a variable, a local exception class or an import: not judged
            return None
        return None if q == "builtins.AttributeError" else name

    def _fix(self, node: cst.FunctionDef, param: str) -> Fix | None:
        ctx = self.ctx
        if not isinstance(node.body, cst.IndentedBlock):
            return None
        if ctx.bindings("AttributeError") or ctx.bindings("__name__"):
            return None
        if ctx.parent is not None and not isinstance(ctx.parent, cst.Module):
            indents = block_indents(ctx.module, ctx.stack[:-1])
        else:
            indents = []
        raise_stmt = cst.parse_statement(
            f'raise AttributeError(f"module {{__name__!r}} has no attribute {{{param}!r}}")\n'
        )
        new_body = node.body.with_changes(body=[*node.body.body, raise_stmt])
        text = code_in_block(ctx.module, node.with_changes(body=new_body), indents)
        return Fix(FixSafety.SAFE, [(node, text)])
