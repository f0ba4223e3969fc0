"""ML006 dataclass-mutable-default."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.general.lru_cache_method import _decorated_from, _import_locals
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import attr_name, expression_names
from mllint.semantics.general_facts import (
    CONTAINER,
    UNHASHABLE,
    annotation_elements,
    mutable_value_category,
)
from mllint.semantics.scopes import Scope

_DATACLASS = frozenset({"dataclasses.dataclass"})
_FIELD = frozenset({"dataclasses.field"})
_PSEUDO_FIELDS = frozenset({"typing.ClassVar", "typing_extensions.ClassVar", "dataclasses.InitVar"})
#: empty constructors whose factory is the type itself
_EMPTY_FACTORIES = {"builtins.list": "list", "builtins.dict": "dict", "builtins.set": "set"}
#: field values that can be (or hold, as ``field(default=...)``) a mutable object
_AST_FIELD_VALUES = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp, ast.Call)


class DataclassMutableDefault(Rule):
    """
    ## What it does
    Flags fields of a `@dataclass` (bare or called) whose default is a mutable object: a
    list/dict/set display or comprehension, `list()`/`dict()`/`set()` (and the `collections`
    containers), a NumPy array, a pandas `DataFrame`/`Series`, a torch tensor or
    `nn.Parameter`, a stateful `torch.nn` module, or an sklearn/XGBoost/LightGBM/CatBoost
    estimator, also when written as `field(default=...)`.

    ## Why is this bad?
    For list/dict/set values (and their subclasses) the class statement raises
    `ValueError: mutable default <class 'list'> for field cols is not allowed` on every Python
    version; since Python 3.11 any unhashable default (ndarray, DataFrame) raises the same.
    Hashable mutable objects (`torch.Tensor`, `torch.nn.Module`, sklearn estimators) are
    accepted and **silently shared** by every instance: every config object gets the same
    weight tensor or the same estimator.

    `field(default_factory=...)`, immutable values (numbers, strings, tuples, `frozenset(...)`,
    `None`, enum members, `Path(...)`), `ClassVar`/`InitVar` annotations and pydantic models
    (which copy their defaults) are not flagged.

    ## Example
    ```python
    from dataclasses import dataclass
    import torch
    from torch import nn

    @dataclass
    class RunConfig:
        hidden_layers: list = []
        class_weights: torch.Tensor = torch.ones(3)
        head: nn.Module = nn.Linear(128, 3)
    ```

    ## Use instead
    ```python
    from dataclasses import dataclass, field

    @dataclass
    class RunConfig:
        hidden_layers: list = field(default_factory=list)
        class_weights: torch.Tensor = field(default_factory=lambda: torch.ones(3))
        head: nn.Module = field(default_factory=lambda: nn.Linear(128, 3))
    ```

    ## Fix safety
    `[]`, `{}`, `set()`, `list()` and `dict()` become `field(default_factory=list|dict|set)`;
    other values become `field(default_factory=lambda: <expr>)`. `field` is imported from
    `dataclasses` (or written `dataclasses.field` when the module does `import dataclasses`).
    The fix is safe for list/dict/set values, and for arrays and frames when the project's
    minimum Python is 3.11 or later: the class statement always raised there. It is unsafe
    otherwise (tensors, modules, estimators, or arrays and frames before 3.11), because every
    instance now gets its own object. No fix when the value uses a name defined in the class
    body (a `lambda` cannot see it) or when `field` means something else in the class.
    """

    code = "ML006"
    name = "dataclass-mutable-default"
    summary = (
        "A dataclass field defaults to a mutable object (literal, array, frame, tensor, "
        "module, estimator)"
    )
    tier = 2
    fix_safety = (FixSafety.SAFE, FixSafety.UNSAFE)
    requires_text = ("dataclass",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a class with a decorator rooted at a name an import binds to dataclasses(.dataclass)
        # whose body annotates a name with a display, a comprehension or a call as value
        bound = _import_locals(scan, facts, _DATACLASS)
        if not bound:
            return False
        for klass in scan.of(ast.ClassDef):
            if not _decorated_from(klass, bound):
                continue
            for stmt in klass.body:
                if (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and isinstance(stmt.value, _AST_FIELD_VALUES)
                ):
                    return True
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if not node.decorators:
            return
        outer = self.ctx.scope
        if not any(
            self.ctx.qualname_in(
                d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator, outer
            )
            in _DATACLASS
            for d in node.decorators
        ):
            return
        cscope = self.ctx.model.scope_for(node)
        if cscope is None or not isinstance(node.body, cst.IndentedBlock):
            return
        for stmt in node.body.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if (
                    isinstance(small, cst.AnnAssign)
                    and small.value is not None
                    and isinstance(small.target, cst.Name)
                    and not self._pseudo_field(small.annotation.annotation, cscope)
                ):
                    self._check_field(small.target.value, small.value, cscope)

    def _pseudo_field(self, ann: cst.BaseExpression, scope: Scope) -> bool:
        for el in annotation_elements(self.ctx, ann, scope) or [ann]:
            target = el.value if isinstance(el, cst.Subscript) else el
            q = self.ctx.qualname_in(target, scope)
            if q in _PSEUDO_FIELDS or (q is None and attr_name(target) in ("ClassVar", "InitVar")):
                return True
        return False

    def _check_field(self, name: str, value: cst.BaseExpression, cscope: Scope) -> None:
        target_node: cst.CSTNode = value
        expr = value
        in_field: cst.Arg | None = None
        if isinstance(value, cst.Call) and self.ctx.qualname_in(value.func, cscope) in _FIELD:
            for arg in value.args:
                if arg.keyword is not None and arg.keyword.value == "default":
                    in_field = arg
                    expr = arg.value
                    target_node = arg.value
                    break
            else:
                return
        category = mutable_value_category(self.ctx, expr, cscope)
        if category is None:
            return
        min_py = self.ctx.facts.min_python
        crashes = category == CONTAINER or (
            category == UNHASHABLE and min_py is not None and min_py >= (3, 11)
        )
        if crashes:
            outcome = "raises ValueError at class creation"
        elif category == UNHASHABLE:
            outcome = (
                "raises ValueError at class creation on Python >= 3.11 and is shared by every "
                "instance before"
            )
        else:
            outcome = "is shared by every instance"
        message = (
            f"Dataclass field '{name}' defaults to {self.ctx.snippet(expr, 40)}: {outcome}; "
            "use field(default_factory=...)"
        )
        self.report(target_node, message, self._fix(value, expr, in_field, cscope, crashes))

    def _fix(
        self,
        value: cst.BaseExpression,
        expr: cst.BaseExpression,
        in_field: cst.Arg | None,
        cscope: Scope,
        safe: bool,
    ) -> Fix | None:
        factory = self._factory(expr, cscope)
        if factory is None:
            return None
        safety = FixSafety.SAFE if safe else FixSafety.UNSAFE
        if in_field is not None:
            new_arg = in_field.with_changes(
                keyword=cst.Name("default_factory"), value=cst.parse_expression(factory)
            )
            return Fix(safety, [(in_field, new_arg)])
        if "field" in cscope.bindings or "dataclasses" in cscope.bindings:
            return None
        plan = self.ctx.import_name("dataclasses", "field")
        if plan is None:
            return None
        return Fix(safety, [(value, f"{plan.local}(default_factory={factory})")], [plan])

    def _factory(self, expr: cst.BaseExpression, cscope: Scope) -> str | None:
        if isinstance(expr, cst.List) and not expr.elements:
            return "list"
        if isinstance(expr, cst.Dict) and not expr.elements:
            return "dict"
        if isinstance(expr, cst.Call) and not expr.args:
            q = self.ctx.qualname_in(expr.func, cscope)
            if q in _EMPTY_FACTORIES and isinstance(expr.func, cst.Name):
                return _EMPTY_FACTORIES[q]
        # a lambda in a class body cannot see the names the class body binds
        if expression_names(expr) & set(cscope.bindings):
            return None
        code = self.ctx.code(expr).strip()
        if "\n" in code:
            return None
        return f"lambda: {code}"
