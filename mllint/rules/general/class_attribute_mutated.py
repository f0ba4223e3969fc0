"""ML007 class-attribute-mutated-via-self."""

from __future__ import annotations

import re

import libcst as cst

from mllint.rule import Option, Rule
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
        for stmt in node.body.body:
            if isinstance(stmt, cst.FunctionDef):
                self._check_method(stmt, node.name.value, attrs)

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
