"""ML007 class-attribute-mutated-via-self."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Option, Rule
from mllint.rules.general.lru_cache_method import _import_locals
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import attr_name
from mllint.semantics.general_facts import annotation_elements, mutable_value_category
from mllint.semantics.scopes import ClassInfo, Scope
from mllint.semantics.walk import iter_descendants

_MUTATORS = frozenset(
    {
        "append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse", "update",
        "add", "discard", "setdefault", "popitem", "appendleft", "extendleft",
    }
)  # fmt: skip
#: class bases whose class-level attributes are declarations, not shared state
_DECLARATIVE_PREFIXES = (
    "enum.",
    "typing.NamedTuple",
    "typing.TypedDict",
    "typing_extensions.",
    "pydantic.",
    "pydantic_settings.",
    "django.",
    "sqlalchemy.",
    "sqlmodel.",
    "attr.",
    "attrs.",
    "msgspec.",
)
_CLASS_DECORATORS = ("dataclasses.dataclass", "attr.", "attrs.", "pydantic.")
_SPECIAL = frozenset({"__slots__", "__all__", "__annotations__", "__match_args__"})
_AST_DISPLAYS = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)
#: modules of the calls ``mutable_value_category(..., models=False)`` classifies
_CONTAINER_MODULES = ("builtins", "collections", "array", "numpy", "pandas")
#: the builtins among them (an unbound name resolves to ``builtins.<name>``)
_BUILTIN_CONTAINERS = frozenset({"list", "dict", "set", "bytearray"})


class ClassAttributeMutatedViaSelf(Rule):
    """
    ## What it does
    Flags a method that mutates, through `self`, a mutable container defined in the class body:
    `self.NAME.append(...)` (and `extend`, `insert`, `remove`, `pop`, `clear`, `sort`,
    `reverse`, `update`, `add`, `discard`, `setdefault`, `popitem`, `appendleft`,
    `extendleft`), `self.NAME[k] = v`, `del self.NAME[k]` or `self.NAME += ...`, where the class
    body assigns `NAME` a list/dict/set display or comprehension, a `list()`/`dict()`/`set()`
    or `collections` constructor, a NumPy array or a pandas frame, and no method assigns
    `self.NAME = ...`.

    ## Why is this bad?
    Mutating (not rebinding) a class-level container through an instance modifies the single
    object stored on the class: every instance, including models created later, sees the
    change (`m1.add_feature("x")` makes `m2.FEATURES == ["x"]`).

    Mutations through `cls.NAME` or `ClassName.NAME` (explicitly class-wide), names that look
    deliberately shared (see the option), dataclasses, enums, `NamedTuple`, `TypedDict`,
    pydantic, Django and SQLAlchemy models are not flagged.

    ## Example
    ```python
    class FeatureEngineer:
        FEATURES = []

        def add_feature(self, name):
            self.FEATURES.append(name)
    ```

    ## Use instead
    ```python
    class FeatureEngineer:
        BASE_FEATURES = ("age", "tenure")

        def __init__(self):
            self.features = list(self.BASE_FEATURES)

        def add_feature(self, name):
            self.features.append(name)
    ```

    ## Fix safety
    There is no fix: whether the state should be per instance or explicitly class-wide is a
    design decision.

    ## Options
    - `shared-name-pattern` (regex, default
      `(?i)(cache|registry|registries|memo|instances|_seen)`): class attributes whose name
      matches are deliberately shared and never flagged.
    """

    code = "ML007"
    name = "class-attribute-mutated-via-self"
    summary = "A mutable class attribute is mutated through `self`, changing it for every instance"
    tier = 2
    options = (
        Option(
            "shared-name-pattern",
            "regex",
            "(?i)(cache|registry|registries|memo|instances|_seen)",
            "Class attributes whose name matches are deliberately shared.",
        ),
    )
    requires_text = ("self.",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # 1. class-body assignments of a display, a comprehension, a builtin container call
        #    or a call rooted at a name imported from a container/array/frame module
        pattern = re.compile(options["shared-name-pattern"])
        bound: set[str] | None = None
        names: set[str] = set()
        for klass in scan.of(ast.ClassDef):
            for stmt in klass.body:
                if isinstance(stmt, ast.Assign):
                    if len(stmt.targets) != 1:
                        continue
                    target, value = stmt.targets[0], stmt.value
                elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                    target, value = stmt.target, stmt.value
                else:
                    continue
                if not isinstance(target, ast.Name) or target.id in names:
                    continue
                if isinstance(value, ast.Call):
                    func = value.func
                    while isinstance(func, ast.Attribute):
                        func = func.value
                    if not isinstance(func, ast.Name):
                        continue
                    if func is not value.func or func.id not in _BUILTIN_CONTAINERS:
                        if bound is None:
                            bound = _import_locals(scan, facts, _CONTAINER_MODULES)
                        if func.id not in bound:
                            continue
                elif not isinstance(value, _AST_DISPLAYS):
                    continue
                if target.id not in _SPECIAL and not pattern.search(target.id):
                    names.add(target.id)
        if not names:
            return False
        # 2. a mutation of `<name>.<attr>`: a mutator call, an item store/delete or `+=`
        for call in scan.calls(*_MUTATORS):
            recv = call.func.value if isinstance(call.func, ast.Attribute) else None
            if _ast_attr_of_name(recv, names):
                return True
        for node in scan.of(ast.Subscript):
            if not isinstance(node.ctx, ast.Load) and _ast_attr_of_name(node.value, names):
                return True
        return any(_ast_attr_of_name(aug.target, names) for aug in scan.of(ast.AugAssign))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        cscope = self.ctx.model.scope_for(node)
        if (
            cscope is None
            or cscope.class_info is None
            or not isinstance(node.body, cst.IndentedBlock)
        ):
            return
        cls = cscope.class_info
        attrs = self._mutable_class_attributes(node, cscope)
        if not attrs or self._declarative(node, cls):
            return
        for name in list(attrs):
            for b in cls.attr_bindings.get(name, []):
                if not isinstance(b.node, cst.AugAssign):
                    del attrs[name]  # an instance attribute shadows the class one
                    break
        if not attrs:
            return
        # the methods, also those defined under an `if`/`try` in the class body
        for sub in iter_descendants(node.body, into_scopes=False):
            if isinstance(sub, cst.FunctionDef):
                self._check_method(sub, node.name.value, attrs)

    def _mutable_class_attributes(self, node: cst.ClassDef, cscope: Scope) -> dict[str, str]:
        pattern = re.compile(self.option("shared-name-pattern"))
        found: dict[str, str] = {}
        assert isinstance(node.body, cst.IndentedBlock)
        for stmt in node.body.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                target: cst.BaseExpression | None = None
                value: cst.BaseExpression | None = None
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target, value = small.targets[0].target, small.value
                elif isinstance(small, cst.AnnAssign) and small.value is not None:
                    if self._is_classvar(small.annotation.annotation, cscope):
                        continue
                    target, value = small.target, small.value
                if not isinstance(target, cst.Name) or value is None:
                    continue
                name = target.value
                if name in _SPECIAL or pattern.search(name):
                    continue
                if len(cscope.bindings.get(name, [])) != 1:
                    continue
                if mutable_value_category(self.ctx, value, cscope, models=False) is not None:
                    found[name] = name
        return found

    def _is_classvar(self, ann: cst.BaseExpression, scope: Scope) -> bool:
        for el in annotation_elements(self.ctx, ann, scope) or [ann]:
            target = el.value if isinstance(el, cst.Subscript) else el
            q = self.ctx.qualname_in(target, scope)
            if q in ("typing.ClassVar", "typing_extensions.ClassVar") or (
                q is None and attr_name(target) == "ClassVar"
            ):
                return True
        return False

    def _declarative(self, node: cst.ClassDef, cls: ClassInfo) -> bool:
        outer = cls.scope.parent or cls.scope
        for dec in node.decorators:
            expr = dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator
            q = self.ctx.qualname_in(expr, outer)
            if q is not None and (q in _CLASS_DECORATORS or q.startswith(_CLASS_DECORATORS)):
                return True
        for q in self.ctx.class_bases(cls):
            if q.startswith(_DECLARATIVE_PREFIXES):
                return True
        if self.ctx.imports("sqlalchemy") or self.ctx.imports("django"):
            # `Base = declarative_base()`: bases we cannot resolve
            return any(
                not isinstance(b, cst.Name) or b.value.endswith(("Base", "Model"))
                for b in cls.bases
            )
        return False

    def _check_method(self, method: cst.FunctionDef, cls_name: str, attrs: dict[str, str]) -> None:
        info = self.ctx.model.functions.get(id(method))
        if info is None or info.self_name is None:
            return
        for dec in method.decorators:
            expr = dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator
            if attr_name(expr) in ("classmethod", "staticmethod"):
                return
        fscope = info.scope
        self_name = info.self_name
        if len(fscope.bindings.get(self_name, [])) != 1:
            return  # `self` rebound
        for sub in iter_descendants(method.body, into_scopes=False):
            hit = _mutation(sub, self_name, attrs)
            if hit is None:
                continue
            name, shown = hit
            self.report(
                sub,
                f"'{shown}' mutates the class attribute {cls_name}.{name} shared by all "
                "instances; initialise it in __init__ or use an immutable tuple/frozenset",
            )


def _ast_attr_of_name(expr: ast.expr | None, names: set[str]) -> bool:
    """``x.NAME`` with ``x`` a plain name and ``NAME`` in ``names``."""
    return (
        isinstance(expr, ast.Attribute) and expr.attr in names and isinstance(expr.value, ast.Name)
    )


def _self_attr(expr: cst.BaseExpression, self_name: str, attrs: dict[str, str]) -> str | None:
    if (
        isinstance(expr, cst.Attribute)
        and isinstance(expr.value, cst.Name)
        and expr.value.value == self_name
        and expr.attr.value in attrs
    ):
        return expr.attr.value
    return None


def _subscript_of_attr(
    expr: cst.BaseExpression, self_name: str, attrs: dict[str, str]
) -> str | None:
    if isinstance(expr, cst.Subscript):
        return _self_attr(expr.value, self_name, attrs)
    return None


def _op(node: cst.AugAssign) -> str:
    return cst.Module([]).code_for_node(node.operator).strip()


def _mutation(node: cst.CSTNode, s: str, attrs: dict[str, str]) -> tuple[str, str] | None:
    """(attribute, rendered operation) when ``node`` mutates ``self.<attr>``."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        method = node.func.attr.value
        name = _self_attr(node.func.value, s, attrs)
        if name is not None and method in _MUTATORS:
            return name, f"{s}.{name}.{method}(...)"
    elif isinstance(node, cst.Assign):
        for t in node.targets:
            name = _subscript_of_attr(t.target, s, attrs)
            if name is not None:
                return name, f"{s}.{name}[...] = ..."
    elif isinstance(node, cst.AugAssign):
        name = _subscript_of_attr(node.target, s, attrs)
        if name is not None:
            return name, f"{s}.{name}[...] {_op(node)} ..."
        name = _self_attr(node.target, s, attrs)
        if name is not None:
            return name, f"{s}.{name} {_op(node)} ..."
    elif isinstance(node, cst.Del):
        targets = node.target.elements if isinstance(node.target, cst.Tuple) else None
        for deleted in [el.value for el in targets] if targets else [node.target]:
            name = _subscript_of_attr(deleted, s, attrs)
            if name is not None:
                return name, f"del {s}.{name}[...]"
    return None
