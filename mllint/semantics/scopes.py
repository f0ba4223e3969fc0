"""Scopes, bindings and the import alias table (RULES.md §0.3 items 1, 4 and 5).

Built by one cheap pass over the *statements* of a module (expressions are entered only to
find ``:=`` bindings, and only when the source contains ``:=``). Lambda and comprehension
scopes are created on demand by the :class:`~mllint.semantics.context.FileContext` while the
engine walks, because everything they bind is syntactically local.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

from mllint.prescan import absolute_module
from mllint.semantics.cstutil import iter_names_in_target
from mllint.semantics.walk import iter_descendants


@dataclass(slots=True, eq=False)
class Binding:
    """One binding of a name in a scope."""

    name: str
    #: import | assign | annassign | augassign | param | for | with | def | class | except |
    #: walrus | del | global | comprehension | other
    kind: str
    node: cst.CSTNode
    value: cst.BaseExpression | None = None
    annotation: cst.BaseExpression | None = None
    qualname: str | None = None  # imports only
    #: for unpacking targets: the name was bound from part of ``value``
    unpacked: bool = False
    scope: Scope | None = None
    #: bound under ``if TYPE_CHECKING:`` (does not exist at run time)
    type_checking: bool = False


@dataclass(eq=False)
class ClassInfo:
    name: str
    node: cst.ClassDef
    scope: Scope
    bases: tuple[cst.BaseExpression, ...]
    #: ``self.<attr> = value`` in any method (value None = not an expression we can read)
    attr_bindings: dict[str, list[Binding]] = field(default_factory=dict)
    methods: dict[str, cst.FunctionDef] = field(default_factory=dict)


@dataclass(eq=False)
class FunctionInfo:
    node: cst.FunctionDef
    scope: Scope
    is_async: bool
    is_method: bool
    self_name: str | None  # first parameter of a method, unless static
    _generator: bool | None = None

    @property
    def is_generator(self) -> bool:
        """Whether the body contains ``yield`` (computed on first use)."""
        if self._generator is None:
            self._generator = _contains_yield(self.node)
        return self._generator


@dataclass(eq=False)
class Scope:
    kind: str  # module | class | function | lambda | comprehension
    node: cst.CSTNode
    parent: Scope | None
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    class_info: ClassInfo | None = None
    function_info: FunctionInfo | None = None

    def bind(self, binding: Binding) -> None:
        binding.scope = self
        self.bindings.setdefault(binding.name, []).append(binding)

    def module_scope(self) -> Scope:
        s = self
        while s.parent is not None:
            s = s.parent
        return s

    def enclosing_class(self) -> ClassInfo | None:
        """The class whose method this scope is (directly), if any."""
        if self.kind == "function" and self.parent is not None and self.parent.kind == "class":
            return self.parent.class_info
        return None


@dataclass(eq=False)
class SemanticModel:
    module_scope: Scope
    scopes: dict[int, Scope]  # id(node) -> Scope for Module / FunctionDef / ClassDef
    classes: list[ClassInfo]
    functions: dict[int, FunctionInfo]
    #: every imported module's qualified name, and their top-level packages
    imported_modules: set[str]
    imported_top: set[str]
    package: str | None

    def scope_for(self, node: cst.CSTNode) -> Scope | None:
        return self.scopes.get(id(node))

    def lookup(self, name: str, scope: Scope) -> list[Binding] | None:
        """Python's LEGB lookup (class scopes are visible only to their own body)."""
        s: Scope | None = scope
        first = True
        while s is not None:
            if name in s.globals:
                s = s.module_scope()
                return s.bindings.get(name)
            if s.kind == "class" and not first:
                s = s.parent
                continue
            found = s.bindings.get(name)
            if found:
                return found
            first = False
            s = s.parent
        return None

    def imports(self, lib: str) -> bool:
        """True when the module imports ``lib`` (a top-level package or a dotted module)."""
        if "." not in lib:
            return lib in self.imported_top
        return any(m == lib or m.startswith(lib + ".") for m in self.imported_modules)


def _import_alias_qualname(alias: cst.ImportAlias) -> tuple[str, str] | None:
    """(bound local name, qualified name) for ``import a.b [as c]``."""
    full = _attr_chain(alias.name)
    if full is None:
        return None
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value, full
    top = full.split(".", 1)[0]
    return top, top


def _attr_chain(node: cst.CSTNode) -> str | None:
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def resolve_from_module(node: cst.ImportFrom, package: str | None) -> str | None:
    """The absolute module of a ``from X import ...`` statement (None if unknown)."""
    base = _attr_chain(node.module) if node.module is not None else ""
    if base is None:
        return None
    return absolute_module(base, len(node.relative), package)


class _Builder:
    def __init__(self, module: cst.Module, package: str | None, walrus: bool) -> None:
        self.package = package
        self.walrus = walrus
        self.scopes: dict[int, Scope] = {}
        self.classes: list[ClassInfo] = []
        self.functions: dict[int, FunctionInfo] = {}
        self.imported_modules: set[str] = set()
        self.type_checking = 0
        self.module_scope = Scope("module", module, None)
        self.scopes[id(module)] = self.module_scope

    def build(self, module: cst.Module) -> SemanticModel:
        self.block(module.body, self.module_scope)
        top = {m.split(".", 1)[0] for m in self.imported_modules}
        return SemanticModel(
            self.module_scope,
            self.scopes,
            self.classes,
            self.functions,
            self.imported_modules,
            top,
            self.package,
        )

    # -- statements --------------------------------------------------------------------
    def block(self, body: Sequence[cst.CSTNode], scope: Scope) -> None:
        for stmt in body:
            self.statement(stmt, scope)

    def suite(self, suite: cst.BaseSuite, scope: Scope) -> None:
        if isinstance(suite, cst.IndentedBlock):
            self.block(suite.body, scope)
        elif isinstance(suite, cst.SimpleStatementSuite):
            for small in suite.body:
                self.small(small, scope)

    def _target_scope(self, name: str, scope: Scope) -> Scope:
        if name in scope.globals:
            return scope.module_scope()
        return scope

    def bind(self, scope: Scope, binding: Binding) -> None:
        binding.type_checking = self.type_checking > 0
        self._target_scope(binding.name, scope).bind(binding)

    def statement(self, stmt: cst.CSTNode, scope: Scope) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self.small(small, scope)
        elif isinstance(stmt, cst.FunctionDef):
            self.function(stmt, scope)
        elif isinstance(stmt, cst.ClassDef):
            self.klass(stmt, scope)
        elif isinstance(stmt, cst.If):
            self.expr(stmt.test, scope)
            guarded = is_type_checking_test(stmt.test)
            self.type_checking += guarded
            self.suite(stmt.body, scope)
            self.type_checking -= guarded
            if stmt.orelse is not None:
                if isinstance(stmt.orelse, cst.If):
                    self.statement(stmt.orelse, scope)
                else:
                    self.suite(stmt.orelse.body, scope)
        elif isinstance(stmt, cst.For):
            self.expr(stmt.iter, scope)
            for name in iter_names_in_target(stmt.target):
                self.bind(
                    scope,
                    Binding(
                        name.value,
                        "for",
                        stmt,
                        value=stmt.iter,
                        unpacked=not isinstance(stmt.target, cst.Name),
                    ),
                )
            self.suite(stmt.body, scope)
            if stmt.orelse is not None:
                self.suite(stmt.orelse.body, scope)
        elif isinstance(stmt, cst.While):
            self.expr(stmt.test, scope)
            self.suite(stmt.body, scope)
            if stmt.orelse is not None:
                self.suite(stmt.orelse.body, scope)
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            self.suite(stmt.body, scope)
            for handler in stmt.handlers:
                if handler.name is not None and isinstance(handler.name.name, cst.Name):
                    self.bind(scope, Binding(handler.name.name.value, "except", handler))
                self.suite(handler.body, scope)
            if stmt.orelse is not None:
                self.suite(stmt.orelse.body, scope)
            if stmt.finalbody is not None:
                self.suite(stmt.finalbody.body, scope)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                self.expr(item.item, scope)
                if item.asname is not None:
                    target = item.asname.name
                    for name in iter_names_in_target(target):
                        self.bind(
                            scope,
                            Binding(
                                name.value,
                                "with",
                                stmt,
                                value=item.item,
                                unpacked=not isinstance(target, cst.Name),
                            ),
                        )
            self.suite(stmt.body, scope)
        elif isinstance(stmt, cst.Match):
            for case in stmt.cases:
                for node in iter_descendants(case.pattern):
                    if isinstance(node, (cst.MatchAs, cst.MatchStar)) and isinstance(
                        node.name, cst.Name
                    ):
                        self.bind(scope, Binding(node.name.value, "other", case))
                self.suite(case.body, scope)

    def small(self, small: cst.CSTNode, scope: Scope) -> None:
        if isinstance(small, cst.Assign):
            self.expr(small.value, scope)
            for assign_target in small.targets:
                self.assign_target(assign_target.target, small.value, small, scope, "assign")
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self.expr(small.value, scope)
            ann_target = small.target
            if isinstance(ann_target, cst.Name):
                self.bind(
                    scope,
                    Binding(
                        ann_target.value,
                        "annassign",
                        small,
                        value=small.value,
                        annotation=small.annotation.annotation,
                    ),
                )
            else:
                self.self_attr(ann_target, small.value, small, scope, small.annotation.annotation)
        elif isinstance(small, cst.AugAssign):
            self.expr(small.value, scope)
            aug_target = small.target
            if isinstance(aug_target, cst.Name):
                self.bind(scope, Binding(aug_target.value, "augassign", small, value=None))
            else:
                self.self_attr(aug_target, None, small, scope, None)
        elif isinstance(small, cst.Import):
            for alias in small.names:
                pair = _import_alias_qualname(alias)
                if pair is None:
                    continue
                local, qual = pair
                self.imported_modules.add(_attr_chain(alias.name) or qual)
                self.bind(scope, Binding(local, "import", small, qualname=qual))
        elif isinstance(small, cst.ImportFrom):
            mod = resolve_from_module(small, self.package)
            if mod is not None and not small.relative:
                self.imported_modules.add(mod)
            if isinstance(small.names, cst.ImportStar):
                return
            for alias in small.names:
                imported = _attr_chain(alias.name)
                if imported is None:
                    continue
                local = imported
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    local = alias.asname.name.value
                from_qual = f"{mod}.{imported}" if mod else None
                if mod is not None and small.relative == () and from_qual:
                    # `from numpy import random` imports the submodule numpy.random too
                    self.imported_modules.add(from_qual)
                self.bind(scope, Binding(local, "import", small, qualname=from_qual))
        elif isinstance(small, cst.Global):
            for n in small.names:
                scope.globals.add(n.name.value)
        elif isinstance(small, cst.Nonlocal):
            for n in small.names:
                scope.nonlocals.add(n.name.value)
        elif isinstance(small, cst.Del):
            for deleted in iter_names_in_target(small.target):
                self.bind(scope, Binding(deleted.value, "del", small))
        elif isinstance(small, (cst.Expr, cst.Return, cst.Assert, cst.Raise)):
            for child in (
                getattr(small, "value", None),
                getattr(small, "test", None),
                getattr(small, "exc", None),
            ):
                if isinstance(child, cst.BaseExpression):
                    self.expr(child, scope)

    def assign_target(
        self,
        target: cst.BaseExpression,
        value: cst.BaseExpression | None,
        stmt: cst.CSTNode,
        scope: Scope,
        kind: str,
    ) -> None:
        if isinstance(target, cst.Name):
            self.bind(scope, Binding(target.value, kind, stmt, value=value))
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            values: Sequence[cst.BaseElement] | None = None
            if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(elements):
                values = value.elements
            for i, el in enumerate(elements):
                sub_value = None
                if values is not None and not isinstance(values[i], cst.StarredElement):
                    sub_value = values[i].value
                if isinstance(el, cst.StarredElement) or sub_value is None:
                    for name in iter_names_in_target(el.value):
                        self.bind(
                            scope, Binding(name.value, kind, stmt, value=value, unpacked=True)
                        )
                else:
                    self.assign_target(el.value, sub_value, stmt, scope, kind)
        else:
            self.self_attr(target, value, stmt, scope, None)

    def self_attr(
        self,
        target: cst.BaseExpression,
        value: cst.BaseExpression | None,
        stmt: cst.CSTNode,
        scope: Scope,
        annotation: cst.BaseExpression | None,
    ) -> None:
        """Record ``self.<attr> = value`` for attribute facts (§0.3 item 4)."""
        if not (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)):
            return
        finfo = scope.function_info
        cls = scope.enclosing_class()
        if finfo is None or cls is None or finfo.self_name != target.value.value:
            return
        cls.attr_bindings.setdefault(target.attr.value, []).append(
            Binding(
                target.attr.value, "attr", stmt, value=value, annotation=annotation, scope=scope
            )
        )

    # -- definitions -------------------------------------------------------------------
    def function(self, node: cst.FunctionDef, scope: Scope) -> None:
        for dec in node.decorators:
            self.expr(dec.decorator, scope)
        self.bind(scope, Binding(node.name.value, "def", node))
        fscope = Scope("function", node, scope)
        self.scopes[id(node)] = fscope
        is_method = scope.kind == "class"
        static = any(_decorator_name(d) == "staticmethod" for d in node.decorators)
        params = node.params
        ordered = [*params.posonly_params, *params.params]
        self_name = None
        if is_method and not static and ordered:
            self_name = ordered[0].name.value
        info = FunctionInfo(
            node,
            fscope,
            node.asynchronous is not None,
            is_method,
            self_name,
        )
        fscope.function_info = info
        self.functions[id(node)] = info
        if is_method and scope.class_info is not None:
            scope.class_info.methods.setdefault(node.name.value, node)
        for param in _all_params(params):
            annotation = param.annotation.annotation if param.annotation is not None else None
            fscope.bind(
                Binding(
                    param.name.value, "param", param, value=param.default, annotation=annotation
                )
            )
        self.suite(node.body, fscope)

    def klass(self, node: cst.ClassDef, scope: Scope) -> None:
        for dec in node.decorators:
            self.expr(dec.decorator, scope)
        self.bind(scope, Binding(node.name.value, "class", node))
        cscope = Scope("class", node, scope)
        self.scopes[id(node)] = cscope
        info = ClassInfo(
            node.name.value, node, cscope, tuple(a.value for a in node.bases if a.keyword is None)
        )
        cscope.class_info = info
        self.classes.append(info)
        self.suite(node.body, cscope)

    # -- expressions (only for := bindings) ----------------------------------------------
    def expr(self, node: cst.BaseExpression, scope: Scope) -> None:
        if not self.walrus:
            return
        target_scope = scope
        # the expression itself too: `if (x := f()):` has the walrus as the whole test
        for sub in (node, *iter_descendants(node, into_scopes=False)):
            if isinstance(sub, cst.NamedExpr) and isinstance(sub.target, cst.Name):
                self.bind(target_scope, Binding(sub.target.value, "walrus", sub, value=sub.value))


def is_type_checking_test(test: cst.BaseExpression) -> bool:
    """``TYPE_CHECKING`` / ``typing.TYPE_CHECKING`` / ``typing_extensions.TYPE_CHECKING``."""
    if isinstance(test, cst.Name):
        return test.value == "TYPE_CHECKING"
    return (
        isinstance(test, cst.Attribute)
        and test.attr.value == "TYPE_CHECKING"
        and isinstance(test.value, cst.Name)
        and test.value.value in ("typing", "typing_extensions", "t")
    )


def type_checking_block(body: Sequence[cst.CSTNode]) -> cst.If | None:
    """The first plain ``if TYPE_CHECKING:`` block (no ``else``) among ``body``'s statements,
    where a fix can add imports."""
    for stmt in body:
        if (
            isinstance(stmt, cst.If)
            and is_type_checking_test(stmt.test)
            and stmt.orelse is None
            and isinstance(stmt.body, cst.IndentedBlock)
        ):
            return stmt
    return None


def _decorator_name(dec: cst.Decorator) -> str | None:
    d = dec.decorator
    if isinstance(d, cst.Call):
        d = d.func
    if isinstance(d, cst.Name):
        return d.value
    if isinstance(d, cst.Attribute):
        return d.attr.value
    return None


def _all_params(params: cst.Parameters) -> Iterator[cst.Param]:
    yield from params.posonly_params
    yield from params.params
    if isinstance(params.star_arg, cst.Param):
        yield params.star_arg
    yield from params.kwonly_params
    if params.star_kwarg is not None:
        yield params.star_kwarg


def all_params(params: cst.Parameters) -> list[cst.Param]:
    return list(_all_params(params))


def _contains_yield(func: cst.FunctionDef) -> bool:
    for node in iter_descendants(func.body, into_scopes=False):
        if isinstance(node, cst.Yield):
            return True
    return False


def build_model(module: cst.Module, package: str | None, source: str) -> SemanticModel:
    return _Builder(module, package, ":=" in source).build(module)
