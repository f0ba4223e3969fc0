"""The per-file context every rule queries: name resolution, kinds, loop/scope context,
file roles, project facts, import planning for fixes.

The engine pushes/pops nodes while it walks (:meth:`FileContext.enter` / :meth:`leave`);
the context-dependent queries (``in_loop()``, ``scope``, ``qualname()``...) describe the node
currently being visited.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from mllint.semantics import kinds as K
from mllint.semantics.cstutil import cst_equal, iter_names_in_target, snippet
from mllint.semantics.scopes import (
    Binding,
    ClassInfo,
    FunctionInfo,
    Scope,
    SemanticModel,
    all_params,
    is_type_checking_test,
)

_BUILTIN_NAMES = frozenset(dir(builtins))
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
_LOOPS = (cst.For, cst.While)


@dataclass(frozen=True)
class FileFacts:
    """What the engine knows about the file and the project it belongs to."""

    path: str  # as given (posix separators), used for roles and messages
    is_test: bool = False
    is_script: bool = False
    is_package_init: bool = False
    package: str | None = None  # dotted package of the file, when inside a package
    min_python: tuple[int, int] | None = None
    library_versions: Mapping[str, tuple[int, ...]] | None = None
    #: the file's absolute path on disk, when the caller knows it (None: found from ``path``
    #: and the current directory, see mllint.semantics.project_index.locate)
    abspath: str | None = None


@dataclass(frozen=True)
class ImportPlan:
    """How a fix refers to ``module[.attr]``: ``local`` is the expression text to emit;
    ``statement`` (when not None) must be inserted at ``anchor``."""

    local: str
    statement: str | None = None
    #: insert after (or, with ``before``, before) this module-body statement;
    #: None = before the first statement
    anchor: cst.CSTNode | None = None
    before_first: bool = False
    before: bool = False


class FileContext:
    def __init__(
        self,
        module: cst.Module,
        source: str,
        model: SemanticModel,
        facts: FileFacts,
    ) -> None:
        self.module = module
        self.source = source
        self.model = model
        self.facts = facts
        self.stack: list[cst.CSTNode] = []
        self._scopes: list[Scope] = [model.module_scope]
        self._scope_push_depth: list[int] = []
        self._derived_scopes: dict[int, Scope] = {}
        self.kinds = K.KindInference(self)

    # -- walking (called by the engine) --------------------------------------------------
    def enter(self, node: cst.CSTNode) -> None:
        self.stack.append(node)
        self.enter_scope(node)

    def enter_scope(self, node: cst.CSTNode) -> None:
        """Push the scope ``node`` opens, if any (``node`` is already on the stack)."""
        parent = self.stack[-2] if len(self.stack) >= 2 else None
        scope = None
        if parent is not None:
            if isinstance(parent, (cst.FunctionDef, cst.ClassDef)) and node is parent.body:
                scope = self.model.scope_for(parent)
            elif isinstance(parent, cst.Lambda) and node is parent.body:
                scope = self._lambda_scope(parent)
        if isinstance(node, _COMPREHENSIONS):
            scope = self._comprehension_scope(node)
        if scope is not None:
            self._scopes.append(scope)
            self._scope_push_depth.append(len(self.stack))

    def leave(self, node: cst.CSTNode) -> None:
        if self._scope_push_depth and self._scope_push_depth[-1] == len(self.stack):
            self.leave_scope()
        self.stack.pop()

    def leave_scope(self) -> None:
        self._scope_push_depth.pop()
        self._scopes.pop()

    def _lambda_scope(self, node: cst.Lambda) -> Scope:
        scope = self._derived_scopes.get(id(node))
        if scope is None:
            scope = Scope("lambda", node, self._scopes[-1])
            for p in all_params(node.params):
                scope.bind(Binding(p.name.value, "param", p, value=p.default))
            self._derived_scopes[id(node)] = scope
        return scope

    def _comprehension_scope(self, node: cst.CSTNode) -> Scope:
        scope = self._derived_scopes.get(id(node))
        if scope is None:
            scope = Scope("comprehension", node, self._scopes[-1])
            comp: cst.CompFor | None = getattr(node, "for_in", None)
            while comp is not None:
                for name in iter_names_in_target(comp.target):
                    scope.bind(
                        Binding(
                            name.value,
                            "comprehension",
                            comp,
                            value=comp.iter,
                            unpacked=not isinstance(comp.target, cst.Name),
                        )
                    )
                comp = comp.inner_for_in
            self._derived_scopes[id(node)] = scope
        return scope

    # -- current position ----------------------------------------------------------------
    @property
    def node(self) -> cst.CSTNode:
        return self.stack[-1]

    @property
    def parent(self) -> cst.CSTNode | None:
        return self.stack[-2] if len(self.stack) >= 2 else None

    def ancestors(self) -> Iterator[cst.CSTNode]:
        """Ancestors of the current node, innermost first."""
        return reversed(self.stack[:-1])

    @property
    def scope(self) -> Scope:
        return self._scopes[-1]

    def function_scope(self) -> Scope | None:
        """The innermost enclosing ``def`` scope (skipping lambdas/comprehensions)."""
        for s in reversed(self._scopes):
            if s.kind == "function":
                return s
            if s.kind in ("class", "module"):
                return None
        return None

    def enclosing_function(self) -> FunctionInfo | None:
        s = self.function_scope()
        return s.function_info if s is not None else None

    def enclosing_class(self) -> ClassInfo | None:
        """The class whose body (directly) contains the current node, or whose method does."""
        for s in reversed(self._scopes):
            if s.kind == "class":
                return s.class_info
            if s.kind == "function":
                return s.enclosing_class()
        return None

    def in_loop(self) -> bool:
        """RULES.md §0.1 "in a loop" for the current node."""
        return bool(self.enclosing_loops(innermost_only=True))

    def enclosing_loops(self, innermost_only: bool = False) -> list[cst.CSTNode]:
        """Loops (For/While statements and comprehension nodes) whose *repeated* part contains
        the current node, without crossing a def/lambda/class; outermost first."""
        found: list[cst.CSTNode] = []
        stack = self.stack
        for i in range(len(stack) - 1, 0, -1):
            child, parent = stack[i], stack[i - 1]
            if isinstance(parent, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                break
            hit = False
            if isinstance(parent, _LOOPS):
                hit = child is parent.body
            elif isinstance(parent, _COMPREHENSIONS):
                hit = child is not getattr(parent, "for_in", None)
            elif isinstance(parent, cst.CompFor):
                if child is parent.iter:
                    hit = i >= 2 and isinstance(stack[i - 2], cst.CompFor)
                    if hit:
                        # the loop is the comprehension owning these clauses
                        found.append(self._owning_comprehension(i - 1))
                        if innermost_only:
                            return found
                        continue
                elif child is parent.inner_for_in or child in parent.ifs:
                    hit = True
            if hit:
                owner = parent
                if isinstance(parent, cst.CompFor):
                    owner = self._owning_comprehension(i - 1)
                found.append(owner)
                if innermost_only:
                    return found
        found.reverse()
        # de-duplicate (a comprehension may be found through several clauses)
        out: list[cst.CSTNode] = []
        for n in found:
            if not out or out[-1] is not n:
                out.append(n)
        return out

    def _owning_comprehension(self, idx: int) -> cst.CSTNode:
        for j in range(idx, -1, -1):
            if isinstance(self.stack[j], _COMPREHENSIONS):
                return self.stack[j]
        return self.stack[idx]  # pragma: no cover

    def value_context(self) -> str:
        """How the current expression's value is used: ``"elementwise"`` (an index inside
        ``[...]``/``.loc[...]``, an argument of ``np.where``/``torch.where``, an operand of
        ``&``/``|``/``~``), ``"scalar"`` (the test of ``if``/``elif``/``while``/``assert``/a
        ternary, an operand of ``and``/``or``/``not``, a ``return`` value, the value of an
        assignment), or ``"other"``."""
        node = self.stack[-1]
        parent = self.parent
        if parent is None:
            return "other"
        if isinstance(parent, cst.Index):
            return "elementwise"
        if isinstance(parent, cst.BinaryOperation) and isinstance(
            parent.operator, (cst.BitAnd, cst.BitOr, cst.BitXor)
        ):
            return "elementwise"
        if isinstance(parent, cst.UnaryOperation):
            if isinstance(parent.operator, cst.BitInvert):
                return "elementwise"
            if isinstance(parent.operator, cst.Not):
                return "scalar"
        if isinstance(parent, cst.Arg) and len(self.stack) >= 3:
            call = self.stack[-3]
            if isinstance(call, cst.Call) and self.qualname(call.func) in (
                "numpy.where",
                "torch.where",
                "numpy.select",
            ):
                return "elementwise"
            return "other"
        if (
            isinstance(parent, (cst.If, cst.While, cst.Assert, cst.IfExp))
            and getattr(parent, "test", None) is node
        ):
            return "scalar"
        if isinstance(parent, cst.BooleanOperation):
            return "scalar"
        if isinstance(parent, cst.Return):
            return "scalar"
        if isinstance(parent, (cst.Assign, cst.AnnAssign)) and parent.value is node:
            return "scalar"
        return "other"

    def statement(self) -> cst.CSTNode | None:
        """The innermost enclosing statement (simple statement line or compound statement)."""
        for node in reversed(self.stack):
            if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return node
        return None

    def is_module_level(self) -> bool:
        """Executed at import time: not inside a def/lambda (class bodies count as module level)."""
        return all(
            not isinstance(n, (cst.FunctionDef, cst.Lambda)) for n in self.stack[:-1]
        ) and not isinstance(self.stack[-1], cst.Lambda)

    def in_type_checking(self) -> bool:
        for i in range(len(self.stack) - 1, 0, -1):
            parent, child = self.stack[i - 1], self.stack[i]
            if (
                isinstance(parent, cst.If)
                and child is parent.body
                and is_type_checking_test(parent.test)
            ):
                return True
        return False

    def in_main_guard(self) -> bool:
        """Inside the body of an ``if __name__ == "__main__":`` (not its ``else``: that part
        runs on import)."""
        stack = self.stack
        return any(
            isinstance(n, cst.If) and stack[i + 1] is n.body and is_main_guard_test(n.test)
            for i, n in enumerate(stack[:-1])
        )

    # -- names ---------------------------------------------------------------------------
    def qualname(self, expr: cst.CSTNode | None) -> str | None:
        return self.qualname_in(expr, self.scope)

    def qualname_in(self, expr: cst.CSTNode | None, scope: Scope) -> str | None:
        """The qualified name of a Name/Attribute chain through the import alias table."""
        parts: list[str] = []
        node = expr
        while isinstance(node, cst.Attribute):
            parts.append(node.attr.value)
            node = node.value
        if not isinstance(node, cst.Name):
            return None
        base = self._resolve_name(node.value, scope)
        if base is None:
            return None
        parts.append(base)
        return ".".join(reversed(parts))

    def _resolve_name(self, name: str, scope: Scope) -> str | None:
        bindings = self.model.lookup(name, scope)
        if bindings is None:
            return f"builtins.{name}" if name in _BUILTIN_NAMES else None
        qual: str | None = None
        for b in bindings:
            if b.kind != "import":
                return None
            if qual is None:
                qual = b.qualname
        return qual

    def bindings(self, name: str, scope: Scope | None = None) -> list[Binding]:
        return self.model.lookup(name, scope or self.scope) or []

    def imports(self, lib: str) -> bool:
        return self.model.imports(lib)

    def kind(self, expr: cst.CSTNode, scope: Scope | None = None) -> str | None:
        return self.kinds.of(expr, scope or self.scope)

    def local_class(self, name: str) -> ClassInfo | None:
        return self.kinds.local_class(name, self.scope)

    def class_bases(self, cls: ClassInfo) -> list[str]:
        """Resolved qualified names of a class's bases (same-module bases transitively)."""
        out: list[str] = []
        seen: set[int] = set()

        def visit(c: ClassInfo) -> None:
            if id(c) in seen:
                return
            seen.add(id(c))
            for base in c.bases:
                parent_scope = c.scope.parent or c.scope
                q = self.qualname_in(base, parent_scope)
                if q is not None:
                    out.append(q)
                if isinstance(base, cst.Name):
                    other = self.kinds.local_class(base.value, parent_scope)
                    if other is not None:
                        visit(other)

        visit(cls)
        return out

    # -- helpers ---------------------------------------------------------------------------
    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def snippet(self, node: cst.CSTNode, limit: int = 60) -> str:
        """The node's code on one line for a message (comments dropped, shortened)."""
        return snippet(self.module.code_for_node(node), limit)

    @staticmethod
    def equal(a: cst.CSTNode, b: cst.CSTNode) -> bool:
        return cst_equal(a, b)

    def library_version(self, lib: str) -> tuple[int, ...] | None:
        versions = self.facts.library_versions or {}
        return versions.get(lib)

    # -- import planning for fixes ---------------------------------------------------------
    def import_name(self, module: str, attr: str | None = None) -> ImportPlan | None:
        """Plan how a fix refers to ``module`` (or ``module.attr``), reusing existing imports.

        Returns None when the name the fix would bind is already bound to something else in
        scope (the fix must then be skipped).
        """
        scope = self.scope
        mod_scope = self.model.module_scope
        target = f"{module}.{attr}" if attr else module
        # 1. an existing binding of exactly what we need, visible here
        for local, binding in self._runtime_imports(mod_scope):
            if (
                attr is not None
                and binding.qualname == target
                and self._visible(local, binding, scope)
            ):
                return ImportPlan(local)
        for local, binding in self._runtime_imports(mod_scope):
            if (
                binding.qualname == module
                and self._is_module_import(binding)
                and self._visible(local, binding, scope)
            ):
                return ImportPlan(f"{local}.{attr}" if attr else local)
        # 2. a new import
        uses_from = attr is not None and any(
            isinstance(b.node, cst.ImportFrom) and (b.qualname or "").startswith(module + ".")
            for _, b in self._runtime_imports(mod_scope)
        )
        if uses_from and attr is not None:
            if not self._name_free(attr, scope):
                return None
            stmt = f"from {module} import {attr}"
            local = attr
        else:
            top = module.split(".", 1)[0]
            if not self._name_free(top, scope):
                # `import a.b` binds `a`: fine when `a` is this very package
                existing = self.model.lookup(top, scope)
                if not existing or not all(
                    b.kind == "import" and b.qualname == top and not b.type_checking
                    for b in existing
                ):
                    return None
            stmt = f"import {module}"
            local = target
        anchor, before_first, before = self._import_anchor(module.split(".", 1)[0])
        return ImportPlan(local, stmt, anchor, before_first, before)

    def _runtime_imports(self, mod_scope: Scope) -> list[tuple[str, Binding]]:
        """The module's runtime import bindings, computed once per file (a fix asks for each
        finding, and a generated module can bind tens of thousands of names)."""
        cached: list[tuple[str, Binding]] | None = self.__dict__.get("_runtime_imports_cache")
        if cached is None or self.__dict__.get("_runtime_imports_scope") is not mod_scope:
            cached = [
                (local, b)
                for local, bindings in mod_scope.bindings.items()
                for b in bindings
                if b.kind == "import" and not b.type_checking and b.qualname
            ]
            self.__dict__["_runtime_imports_cache"] = cached
            self.__dict__["_runtime_imports_scope"] = mod_scope
        return cached

    @staticmethod
    def _is_module_import(b: Binding) -> bool:
        return isinstance(b.node, cst.Import)

    def _visible(self, local: str, binding: Binding, scope: Scope) -> bool:
        found = self.model.lookup(local, scope)
        return bool(found) and all(
            x.kind == "import" and x.qualname == binding.qualname for x in found or []
        )

    def _name_free(self, name: str, scope: Scope) -> bool:
        if self.model.lookup(name, scope):
            return False
        return not self.model.module_scope.bindings.get(name)

    def _import_anchor(self, top: str) -> tuple[cst.CSTNode | None, bool, bool]:
        """Where a new ``import <top>...`` goes: (anchor, before_first, before).

        In the leading import block (after the docstring and ``from __future__`` imports), a
        standard-library import goes after the last standard-library import, or before the
        first other import; anything else after the last import, as isort would place it."""
        body = self.module.body
        header: cst.CSTNode | None = None  # docstring / __future__ imports
        last_import: cst.CSTNode | None = None
        last_std: cst.CSTNode | None = None
        first_other: cst.CSTNode | None = None
        for i, stmt in enumerate(body):
            if isinstance(stmt, cst.SimpleStatementLine):
                first = stmt.body[0] if stmt.body else None
                if _is_notebook_magic(stmt):
                    continue  # a masked IPython line (`%matplotlib inline`) among the imports
                if isinstance(first, cst.ImportFrom) and _import_top(first) == "__future__":
                    header = stmt
                    continue
                if isinstance(first, (cst.Import, cst.ImportFrom)):
                    last_import = stmt
                    if _import_top(first) in _STDLIB:
                        last_std = stmt
                    elif first_other is None:
                        first_other = stmt
                    continue
                if (
                    i == 0
                    and isinstance(first, cst.Expr)
                    and isinstance(first.value, (cst.SimpleString, cst.ConcatenatedString))
                ):
                    header = stmt
                    continue
            elif isinstance(stmt, cst.If) and is_type_checking_test(stmt.test):
                continue
            elif isinstance(stmt, cst.Try) and _is_import_try(stmt):
                last_import = stmt
                if first_other is None:
                    first_other = stmt
                continue
            break
        if top in _STDLIB:
            if last_std is not None:
                return last_std, False, False
            if first_other is not None:
                return first_other, False, True
        anchor = last_import or header
        return anchor, anchor is None, False


_STDLIB = frozenset(getattr(__import__("sys"), "stdlib_module_names", ()))


def _is_notebook_magic(stmt: cst.SimpleStatementLine) -> bool:
    """The ``pass`` placeholder that stands for an IPython line of a notebook cell."""
    comment = stmt.trailing_whitespace.comment
    return (
        len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Pass)
        and comment is not None
        and comment.value.startswith("# mllint-magic:")
    )


def _import_top(node: cst.Import | cst.ImportFrom) -> str | None:
    target: cst.BaseExpression | None
    if isinstance(node, cst.ImportFrom):
        if node.relative:
            return None
        target = node.module
    else:
        target = node.names[0].name if node.names else None
    while isinstance(target, cst.Attribute):
        target = target.value
    return target.value if isinstance(target, cst.Name) else None


def _is_import_try(stmt: cst.Try) -> bool:
    def only_imports(suite: cst.BaseSuite) -> bool:
        if not isinstance(suite, cst.IndentedBlock):
            return False
        for s in suite.body:
            if not isinstance(s, cst.SimpleStatementLine):
                return False
            for small in s.body:
                if not isinstance(small, (cst.Import, cst.ImportFrom, cst.Pass, cst.Assign)):
                    return False
        return True

    return only_imports(stmt.body) and all(only_imports(h.body) for h in stmt.handlers)


def is_main_guard_test(test: cst.BaseExpression) -> bool:
    """``__name__ == "__main__"`` (either operand order; ``!=`` is not a guard)."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    if not isinstance(test.comparisons[0].operator, cst.Equal):
        return False
    left = test.left
    right = test.comparisons[0].comparator
    names = {getattr(left, "value", None), getattr(right, "value", None)}
    return "__name__" in names and any(
        isinstance(x, cst.SimpleString) and x.evaluated_value == "__main__" for x in (left, right)
    )


def option_value(options: Mapping[str, Any], name: str) -> Any:
    return options[name]
