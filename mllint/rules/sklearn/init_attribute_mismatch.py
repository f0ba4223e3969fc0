"""ML502 estimator-init-attribute-mismatch."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.prescan import dotted_name as ast_dotted_name
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.sklearn.unseeded_split import (
    _class_functions,
    _first_param,
    _sklearn_classes,
    _unstar,
    _walk_local,
)
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import dotted_name
from mllint.semantics.estimators import (
    estimator_init,
    init_params,
    may_subclass_sklearn,
    self_attribute_refs,
)
from mllint.semantics.scopes import ClassInfo
from mllint.semantics.walk import iter_descendants

#: __init__ bodies that set attributes dynamically: parameters may be stored without a
#: visible `self.<p> = <p>`
_DYNAMIC = ("setattr", "__dict__", "vars", "locals")


def init_calls_forwarding(node: cst.FunctionDef, me: str) -> list[cst.Call]:
    """``super().__init__(...)`` and ``<Base>.__init__(self, ...)`` calls in ``__init__``."""
    out: list[cst.Call] = []
    for n in iter_descendants(node.body, into_scopes=False):
        if not (isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)):
            continue
        if n.func.attr.value != "__init__":
            continue
        recv = n.func.value
        via_super = isinstance(recv, cst.Call) and dotted_name(recv.func) == "super"
        via_base = (
            dotted_name(recv) is not None
            and bool(n.args)
            and isinstance(n.args[0].value, cst.Name)
            and n.args[0].value.value == me
        )
        if via_super or via_base:
            out.append(n)
    return out


class InitAttributeMismatch(Rule):
    """
    ## What it does
    In the `__init__` of an sklearn estimator class (bases resolving to
    `sklearn.base.BaseEstimator`, a `sklearn.base.*Mixin` or an sklearn estimator), flags for
    each named parameter `p`:

    * `self.<q> = p` with `q != p` when `p` is not also stored unchanged as `self.<p>`
      (reported at the assignment; an unrelated `self.<p> = ...` makes the bug silent), and
    * a parameter that is never assigned to `self.<p>` and not forwarded to
      `super().__init__(...)`/`Base.__init__(self, ...)` (reported at the parameter).

    `*args`/`**kwargs` are left to ML503. `__init__` bodies that set attributes dynamically
    (`setattr`, `self.__dict__`, `vars(self)`, `locals()`) are only checked for renamed
    attributes.

    ## Why is this bad?
    `BaseEstimator.get_params()` reads `getattr(self, p)` for every `__init__` parameter;
    `clone`, `GridSearchCV` and `Pipeline.set_params` depend on it. A renamed attribute makes
    them raise `AttributeError: 'Forest' object has no attribute 'n_trees'`; it becomes a
    silent bug when an attribute named like the parameter also exists with another value
    (the search then tunes a value the model never reads).

    ## Example
    ```python
    from sklearn.base import BaseEstimator

    class Forest(BaseEstimator):
        def __init__(self, n_trees=100):
            self.n_estimators = n_trees
    ```

    ## Use instead
    ```python
    class Forest(BaseEstimator):
        def __init__(self, n_estimators=100):
            self.n_estimators = n_estimators
    ```

    ## Fix safety
    Unsafe, for renamed attributes only: every `self.<q>` in the class becomes `self.<p>`
    (`self.n_estimators` → `self.n_trees`). Skipped when `.<q>` also appears outside the
    class in the module, when the class already uses `self.<p>`, when `<q>` is itself a
    parameter, or when the class mentions `'<q>'` as a string (e.g. `getattr`). External
    code that reads the old attribute breaks.
    """

    code = "ML502"
    name = "estimator-init-attribute-mismatch"
    summary = "An sklearn `__init__` stores a parameter under a different name, or not at all"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("__init__",)

    @classmethod
    def can_match(cls, source: str) -> bool:
        return may_subclass_sklearn(source)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # an __init__ in the scope of a class that may be an sklearn estimator, with a
        # parameter p not stored as `self.p = p`, and either stored under another name or
        # neither stored as self.p nor passed to super().__init__/Base.__init__(self, ...)
        for klass in _sklearn_classes(scan, facts):
            for fn in _class_functions(klass):
                if fn.name == "__init__" and _init_may_mismatch(fn):
                    return True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        ctx = self.ctx
        found = estimator_init(ctx, node)
        if found is None:
            return
        cls, me = found
        params = init_params(node)
        names = {p.name.value for p in params}
        stored: set[str] = set()
        unchanged: set[str] = set()
        renamed: dict[str, list[tuple[cst.CSTNode, str]]] = {}
        for n in iter_descendants(node.body, into_scopes=False):
            pairs: list[tuple[cst.BaseExpression, cst.BaseExpression | None]] = []
            if isinstance(n, cst.Assign):
                pairs = [(t.target, n.value) for t in n.targets]
            elif isinstance(n, cst.AnnAssign):
                pairs = [(n.target, n.value)]
            for target, value in pairs:
                for t, v in _unpack(target, value):
                    if not (
                        isinstance(t, cst.Attribute)
                        and isinstance(t.value, cst.Name)
                        and t.value.value == me
                    ):
                        continue
                    stored.add(t.attr.value)
                    if isinstance(v, cst.Name) and v.value == t.attr.value:
                        unchanged.add(v.value)
                    elif isinstance(v, cst.Name) and v.value in names:
                        renamed.setdefault(v.value, []).append((n, t.attr.value))
        body_code = ctx.code(node.body)
        dynamic = any(re.search(rf"\b{re.escape(d)}\b", body_code) for d in _DYNAMIC)
        forwarded: set[str] = set()
        for call in init_calls_forwarding(node, me):
            for arg in call.args:
                if isinstance(arg.value, cst.Name):
                    forwarded.add(arg.value.value)
                if arg.star:
                    dynamic = True
        for p in params:
            pname = p.name.value
            if pname in unchanged:
                continue
            message = (
                f"__init__ parameter '{pname}' must be stored as self.{pname} "
                "(get_params/clone read attributes by parameter name)"
            )
            if pname in renamed:
                for stmt, attr in renamed[pname]:
                    self.report(stmt, message, self._fix(cls, pname, attr, names))
                continue
            if pname in stored or pname in forwarded or dynamic:
                continue
            self.report(p, message)

    def _fix(self, cls: ClassInfo, param: str, attr: str, params: set[str]) -> Fix | None:
        ctx = self.ctx
        if attr in params:
            return None
        if self_attribute_refs(ctx, cls, param):
            return None
        class_code = ctx.code(cls.node)
        pattern = re.compile(rf"\.{re.escape(attr)}\b(?!\s*\()")  # not a method call
        if len(pattern.findall(ctx.source)) != len(pattern.findall(class_code)):
            return None
        if re.search(rf"""["']{re.escape(attr)}["']""", class_code):
            return None
        refs = self_attribute_refs(ctx, cls, attr)
        if not refs:
            return None
        replacements: list[tuple[cst.CSTNode, cst.CSTNode | str]] = [
            (node.attr, cst.Name(param)) for _, node, _ in refs
        ]
        return Fix(FixSafety.UNSAFE, replacements)


# -- the ast pre-scan -------------------------------------------------------------------------
def _init_params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    """:func:`mllint.semantics.estimators.init_params` on an ast function."""
    ordered = [*fn.args.posonlyargs, *fn.args.args]
    return [a.arg for a in (*ordered[1:], *fn.args.kwonlyargs)]


def _init_may_mismatch(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    me = _first_param(fn)
    params = _init_params(fn)
    if me is None or not params:
        return False
    names = set(params)
    stored: set[str] = set()
    unchanged: set[str] = set()
    renamed: set[str] = set()
    forwarded: set[str] = set()
    for n in _walk_local(fn.body):
        pairs: list[tuple[ast.expr, ast.expr | None]] = []
        if isinstance(n, ast.Assign):
            pairs = [(t, n.value) for t in n.targets]
        elif isinstance(n, ast.AnnAssign):
            pairs = [(n.target, n.value)]
        elif isinstance(n, ast.Call):
            _ast_forwarded(n, me, forwarded)
        for target, value in pairs:
            for t, v in _ast_unpack(target, value):
                if not (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)):
                    continue
                if t.value.id != me:
                    continue
                stored.add(t.attr)
                if isinstance(v, ast.Name) and v.id == t.attr:
                    unchanged.add(v.id)
                elif isinstance(v, ast.Name) and v.id in names:
                    renamed.add(v.id)
    return any(
        p not in unchanged and (p in renamed or not (p in stored or p in forwarded)) for p in params
    )


def _ast_forwarded(call: ast.Call, me: str, out: set[str]) -> None:
    """The names :func:`init_calls_forwarding` would see passed on by this call."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "__init__"):
        return
    recv = func.value
    via_super = isinstance(recv, ast.Call) and ast_dotted_name(recv.func) == "super"
    first = call.args[0] if call.args else None
    via_base = ast_dotted_name(recv) is not None and isinstance(first, ast.Name) and first.id == me
    if not (via_super or via_base):
        return
    for value in (*call.args, *(k.value for k in call.keywords)):
        if isinstance(value, ast.Starred):
            value = value.value
        if isinstance(value, ast.Name):
            out.add(value.id)


def _ast_unpack(target: ast.expr, value: ast.expr | None) -> list[tuple[ast.expr, ast.expr | None]]:
    """:func:`_unpack` on ast nodes."""
    if isinstance(target, (ast.Tuple, ast.List)):
        vals: list[ast.expr | None]
        if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
            vals = [_unstar(v) for v in value.elts]
        else:
            vals = [None] * len(target.elts)
        out: list[tuple[ast.expr, ast.expr | None]] = []
        for el, v in zip(target.elts, vals, strict=True):
            out.extend(_ast_unpack(_unstar(el), v))
        return out
    return [(target, value)]


def _unpack(
    target: cst.BaseExpression, value: cst.BaseExpression | None
) -> list[tuple[cst.BaseExpression, cst.BaseExpression | None]]:
    """(target, value) pairs of an assignment, pairing tuple elements when both sides are
    displays of the same length."""
    if isinstance(target, (cst.Tuple, cst.List)):
        vals: list[cst.BaseExpression | None]
        if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(target.elements):
            vals = [el.value for el in value.elements]
        else:
            vals = [None] * len(target.elements)
        out: list[tuple[cst.BaseExpression, cst.BaseExpression | None]] = []
        for el, v in zip(target.elements, vals, strict=True):
            out.extend(_unpack(el.value, v))
        return out
    return [(target, value)]
