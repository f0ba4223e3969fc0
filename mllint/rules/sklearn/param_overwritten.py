"""ML504 estimator-param-overwritten."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.sklearn.init_attribute_mismatch import _init_params
from mllint.rules.sklearn.unseeded_split import (
    _class_functions,
    _first_param,
    _innermost,
    _sklearn_classes,
    _unstar,
)
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import string_value
from mllint.semantics.estimators import (
    init_params,
    is_sklearn_estimator_class,
    may_subclass_sklearn,
    own_init,
    self_attribute_refs,
)
from mllint.semantics.scopes import ClassInfo

#: methods that may legitimately (re)store hyper-parameters
_ALLOWED = frozenset({"__init__", "set_params", "_set_params", "__setstate__"})
#: conversions that keep the parameter's value (`self.steps = list(self.steps)`)
_CONVERSIONS = frozenset({"list", "tuple", "dict", "asarray", "array", "atleast_1d", "atleast_2d"})
_VALIDATOR_PREFIXES = ("check", "_check", "validate", "_validate")


class ParamOverwritten(Rule):
    """
    ## What it does
    In an sklearn estimator class (bases resolving to `sklearn.base.BaseEstimator`, a
    `sklearn.base.*Mixin` or an sklearn estimator), flags an assignment or augmented
    assignment to `self.<p>` (or `setattr(self, "<p>", ...)`) in any method other than
    `__init__`, `set_params` and `__setstate__`, where `p` is a parameter of the class's
    `__init__` (its own, or that of the nearest same-module base class that defines one).
    Not flagged: classes that define a method or property named `p`, property setters (the
    way `_BaseComposition.set_params` sets parameters), and conversions or validations of the
    parameter's own value (`self.steps = list(self.steps)`, `self.alphas =
    np.asarray(self.alphas)`, `self.w = _check_weights(self.w, ...)`), which keep its value.

    ## Why is this bad?
    The hyper-parameter and the learned value share one attribute, so after `fit`,
    `get_params()` returns the learned value and `clone()`/`GridSearchCV` start the next fit
    from it: with `self.mean = X.mean()` in `fit`, `Center().fit(X).get_params()` is
    `{'mean': 5.5}` and `clone(est).mean == 5.5` — silent corruption of model selection.

    ## Example
    ```python
    from sklearn.base import BaseEstimator

    class Center(BaseEstimator):
        def __init__(self, mean=None):
            self.mean = mean

        def fit(self, X, y=None):
            self.mean = X.mean()
            return self
    ```

    ## Use instead
    ```python
        def fit(self, X, y=None):
            self.mean_ = X.mean() if self.mean is None else self.mean
            return self
    ```

    ## Fix safety
    Unsafe: `self.<p>` becomes `self.<p>_` in every method except `__init__`/`set_params`
    (reads and writes), so the hyper-parameter keeps its configured value. Skipped when
    `<p>_` is already used, when `.<p>` appears outside the class in the module, when the
    class mentions `'<p>'` as a string, when a method that writes the attribute reads it
    before its first write (`if self.mean is None: self.mean = ...` would then raise
    AttributeError), and when such a method calls another method of the class that reads it.
    Code outside the class that reads the learned value under the old name breaks.
    """

    code = "ML504"
    name = "estimator-param-overwritten"
    summary = "A method other than `__init__`/`set_params` assigns to a constructor parameter"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("__init__",)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._params_cache: dict[int, frozenset[str]] = {}
        self._fix_cache: dict[tuple[int, str], Fix | None] = {}

    @classmethod
    def can_match(cls, source: str) -> bool:
        return may_subclass_sklearn(source)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # an assignment (=, :, op=) to `<self>.<p>` or a `setattr(<self>, "<p>", ...)` whose
        # scope is a method of a class that may be an sklearn estimator, other than
        # __init__/set_params/_set_params/__setstate__, <self> its first parameter, p a
        # parameter of the __init__ of such a class or of a same-file class named as a base
        estimators = _sklearn_classes(scan, facts)
        if not estimators:
            return False
        by_name: dict[str, list[ast.ClassDef]] = {}
        for c in scan.of(ast.ClassDef):
            by_name.setdefault(c.name, []).append(c)
        params: set[str] = set()
        seen: set[int] = set()
        todo = list(estimators)
        while todo:
            klass = todo.pop()
            if id(klass) in seen:
                continue
            seen.add(id(klass))
            for fn in _class_functions(klass):
                if fn.name == "__init__":
                    params.update(_init_params(fn))
            for base in klass.bases:
                if isinstance(base, ast.Name):
                    todo.extend(by_name.get(base.id, ()))
        #: id(method) -> its first parameter
        methods: dict[int, str] = {}
        for klass in estimators:
            for fn in _class_functions(klass):
                me = _first_param(fn)
                if me is not None and fn.name not in _ALLOWED:
                    methods[id(fn)] = me
        if not params or not methods:
            return False
        selves = set(methods.values())
        candidates: list[tuple[ast.AST, set[str]]] = []
        for assign in scan.of(ast.Assign):
            if _ast_normalises_itself(assign):
                continue
            receivers: set[str] = set()
            for t in assign.targets:
                _ast_target_receivers(t, params, selves, receivers)
            if receivers:
                candidates.append((assign, receivers))
        for other in scan.of(ast.AnnAssign, ast.AugAssign):
            receivers = set()
            _ast_target_receivers(other.target, params, selves, receivers)
            if receivers:
                candidates.append((other, receivers))
        for call in scan.calls("setattr"):
            values = [*call.args, *(k.value for k in call.keywords)]
            if isinstance(call.func, ast.Name) and any(
                isinstance(a, ast.Constant) and a.value in params for a in values
            ):
                receivers = {a.id for a in values if isinstance(a, ast.Name) and a.id in selves}
                if receivers:
                    candidates.append((call, receivers))
        for node, receivers in candidates:
            for scope in _innermost(scan, node):
                if scope is not None and methods.get(id(scope)) in receivers:
                    return True
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        if _normalises_itself(node):
            return
        for t in node.targets:
            if self._check_target(node, t.target):
                return

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._check_target(node, node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._check_target(node, node.target)

    def visit_Call(self, node: cst.Call) -> None:
        if not (isinstance(node.func, cst.Name) and node.func.value == "setattr"):
            return
        if self.ctx.qualname(node.func) != "builtins.setattr" or len(node.args) < 2:
            return
        attr = string_value(node.args[1].value)
        if attr is None:
            return
        self._check(node, node.args[0].value, attr, with_fix=False)

    def _check_target(self, node: cst.CSTNode, target: cst.BaseExpression) -> bool:
        if isinstance(target, (cst.Tuple, cst.List)):
            return any(self._check_target(node, el.value) for el in target.elements)
        if isinstance(target, cst.Attribute):
            return self._check(node, target.value, target.attr.value, with_fix=True)
        return False

    def _check(
        self, node: cst.CSTNode, receiver: cst.BaseExpression, attr: str, with_fix: bool
    ) -> bool:
        ctx = self.ctx
        finfo = ctx.enclosing_function()
        cls = ctx.enclosing_class()
        if finfo is None or cls is None or finfo.self_name is None:
            return False
        if not (isinstance(receiver, cst.Name) and receiver.value == finfo.self_name):
            return False
        method = finfo.node.name.value
        if method in _ALLOWED or ctx.scope.kind != "function":
            return False
        if any(
            isinstance(d.decorator, cst.Attribute) and d.decorator.attr.value == "setter"
            for d in finfo.node.decorators
        ):
            return False  # a property setter: the way parameters are set (e.g. set_params)
        if attr not in self._params(cls) or attr in cls.methods:
            return False
        if not is_sklearn_estimator_class(ctx, cls):
            return False
        self.report(
            node,
            f"'self.{attr}' is the hyper-parameter '{attr}'; {method}() overwrites it "
            f"(get_params/clone now return the fitted value) — store fitted state as "
            f"self.{attr}_",
            self._fix(cls, attr) if with_fix else None,
        )
        return True

    def _params(self, cls: ClassInfo) -> frozenset[str]:
        cached = self._params_cache.get(id(cls))
        if cached is not None:
            return cached
        result: frozenset[str] = frozenset()
        seen: set[int] = set()
        current: ClassInfo | None = cls
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            init = own_init(current)
            if init is not None:
                result = frozenset(p.name.value for p in init_params(init))
                break
            parent = current.scope.parent or current.scope
            nxt = None
            for base in current.bases:
                if isinstance(base, cst.Name):
                    nxt = self.ctx.kinds.local_class(base.value, parent)
                    if nxt is not None:
                        break
            current = nxt
        self._params_cache[id(cls)] = result
        return result

    # -- the fix -----------------------------------------------------------------------------
    def _fix(self, cls: ClassInfo, attr: str) -> Fix | None:
        key = (id(cls), attr)
        if key in self._fix_cache:
            return self._fix_cache[key]
        fix = self._build_fix(cls, attr)
        self._fix_cache[key] = fix
        return fix

    def _build_fix(self, cls: ClassInfo, attr: str) -> Fix | None:
        ctx = self.ctx
        new = f"{attr}_"
        if own_init(cls) is None:
            return None  # the parameter is stored by a base class's __init__
        class_code = ctx.code(cls.node)
        if re.search(rf"\b{re.escape(new)}\b", class_code):
            return None
        pattern = re.compile(rf"\.{re.escape(attr)}\b(?!\s*\()")  # not a method call
        if len(pattern.findall(ctx.source)) != len(pattern.findall(class_code)):
            return None
        if re.search(rf"""["']{re.escape(attr)}["']""", class_code):
            return None
        refs = [r for r in self_attribute_refs(ctx, cls, attr) if r[0] not in _ALLOWED]
        writers = {m for m, _, is_write in refs if is_write}
        if not writers:
            return None  # only augmented assignments: they read the parameter first
        first: dict[str, bool] = {}
        for m, _, is_write in refs:
            first.setdefault(m, is_write)
        if not all(first[m] for m in writers):
            return None
        readers = {m for m, _, _ in refs if m not in writers}
        for m in writers:
            code = ctx.code(cls.methods[m])
            if any(re.search(rf"\.{re.escape(r)}\(", code) for r in readers):
                return None
        replacements: list[tuple[cst.CSTNode, cst.CSTNode | str]] = [
            (node.attr, cst.Name(new)) for _, node, _ in refs
        ]
        return Fix(FixSafety.UNSAFE, replacements)


# -- the ast pre-scan ---------------------------------------------------------------------------
def _ast_target_receivers(
    target: ast.expr, params: set[str], selves: set[str], out: set[str]
) -> None:
    """Add ``<self>`` for each ``<self>.<p>`` (also inside tuple/list targets), ``p`` in
    ``params``."""
    if isinstance(target, (ast.Tuple, ast.List)):
        for el in target.elts:
            _ast_target_receivers(_unstar(el), params, selves, out)
    elif (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id in selves
        and target.attr in params
    ):
        out.add(target.value.id)


def _ast_normalises_itself(node: ast.Assign) -> bool:
    """True only when :func:`_normalises_itself` is True for this assignment."""
    if len(node.targets) != 1:
        return False
    target = node.targets[0]
    value = node.value
    if not (isinstance(target, ast.Attribute) and isinstance(value, ast.Call) and value.args):
        return False
    func = value.func
    name = func.attr if isinstance(func, ast.Attribute) else None
    if isinstance(func, ast.Name):
        name = func.id
    if name is None or not (name in _CONVERSIONS or name.startswith(_VALIDATOR_PREFIXES)):
        return False
    first = value.args[0]
    return (
        isinstance(first, ast.Attribute)
        and first.attr == target.attr
        and isinstance(first.value, ast.Name)
        and isinstance(target.value, ast.Name)
        and first.value.id == target.value.id
    )


def _normalises_itself(node: cst.Assign) -> bool:
    """``self.p = list(self.p)`` / ``np.asarray(self.p)`` / ``check_x(self.p, ...)``: the
    parameter's own value converted or validated, not a learned value."""
    if len(node.targets) != 1:
        return False
    target = node.targets[0].target
    value = node.value
    if not (isinstance(target, cst.Attribute) and isinstance(value, cst.Call) and value.args):
        return False
    func = value.func
    name = func.attr.value if isinstance(func, cst.Attribute) else None
    if isinstance(func, cst.Name):
        name = func.value
    if name is None or not (name in _CONVERSIONS or name.startswith(_VALIDATOR_PREFIXES)):
        return False
    first = value.args[0].value
    return (
        isinstance(first, cst.Attribute)
        and first.attr.value == target.attr.value
        and isinstance(first.value, cst.Name)
        and isinstance(target.value, cst.Name)
        and first.value.value == target.value.value
    )
