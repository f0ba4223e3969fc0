"""ML503 estimator-init-has-logic."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name, walk
from mllint.prescan import dotted_name as ast_dotted_name
from mllint.rule import Rule
from mllint.rules.sklearn.init_attribute_mismatch import _init_params
from mllint.rules.sklearn.unseeded_split import (
    _AST_COMPOUND,
    _class_functions,
    _first_param,
    _sklearn_classes,
    _unstar,
)
from mllint.semantics.context import FileContext, FileFacts
from mllint.semantics.cstutil import attr_name, dotted_name
from mllint.semantics.estimators import estimator_init, init_params, may_subclass_sklearn
from mllint.semantics.scopes import ClassInfo
from mllint.semantics.walk import iter_descendants

_DATA_PARAMS = frozenset({"X", "y", "X_train", "y_train"})
_DATA_ANNOTATIONS = frozenset(
    {
        "numpy.ndarray",
        "numpy.typing.NDArray",
        "pandas.DataFrame",
        "pandas.Series",
        "pandas.core.frame.DataFrame",
    }
)
#: the last names of _DATA_ANNOTATIONS
_DATA_ANNOTATION_NAMES = frozenset(q.rsplit(".", 1)[-1] for q in _DATA_ANNOTATIONS)
_VALIDATION_PREFIXES = ("check", "validate", "_check", "_validate", "assert")
#: separates the thing to move from the explanation appended after "to fit()"
_FITTED_MARK = "\x00"


class InitHasLogic(Rule):
    """
    ## What it does
    In the `__init__` of an sklearn estimator class (bases resolving to
    `sklearn.base.BaseEstimator`, a `sklearn.base.*Mixin` or an sklearn estimator), flags
    every statement other than the docstring, `pass`, `self.<p> = <p>` (`p` a parameter;
    also as tuple unpacking), `self.<attr> = <immutable constant>` (`self.fit_path = True`)
    and `super().__init__(...)`/`Base.__init__(self, ...)` calls that forward parameters
    unchanged (each argument is a parameter name or does not use any parameter, such as
    `estimator=DecisionTreeClassifier()`), for
    example `self.scale = scale * 2`, `self._stats = {}`, `self.data = pd.read_csv(path)`,
    `if lr <= 0: raise ValueError(...)`, a call or a loop. It also flags `*args`/`**kwargs`
    in the signature and parameters named `X`/`y` or annotated as an array or DataFrame.
    `self.<q> = <p>` with another attribute name is left to ML502. A trailing-underscore
    attribute (`self.bounds_ = None`) is flagged even when it is a constant, unless the class
    defines `__sklearn_is_fitted__`.

    ## Why is this bad?
    `clone()` re-creates the estimator from `get_params()` and then checks that each
    parameter was stored unchanged: `self.scale = scale * 2` makes it fail with
    `RuntimeError: Cannot clone object ... as the constructor either does not set or
    modifies parameter scale`. Validation in `__init__` is skipped by `set_params` (so
    `GridSearchCV` bypasses it), data-dependent work runs before any data is available and
    again on every clone, and `get_params` cannot introspect `*args`/`**kwargs`. Fitted
    state belongs in `fit`, as `self.<name>_`: `check_is_fitted` takes any attribute ending
    in `_` (and not starting with `__`) as proof of fitting, so `self.bounds_ = None` in
    `__init__` makes an unfitted estimator pass it.

    ## Example
    ```python
    import numpy as np
    from sklearn.base import BaseEstimator, TransformerMixin

    class LogScaler(BaseEstimator, TransformerMixin):
        def __init__(self, offset=1.0):
            self.offset = offset
            self.log_offset = np.log(offset)
    ```

    ## Use instead
    ```python
    class LogScaler(BaseEstimator, TransformerMixin):
        def __init__(self, offset=1.0):
            self.offset = offset

        def fit(self, X, y=None):
            self.log_offset_ = np.log(self.offset)
            return self
    ```

    ## Fix safety
    There is no fix: the computation has to move to `fit` by hand.
    """

    code = "ML503"
    name = "estimator-init-has-logic"
    summary = "sklearn `__init__` computes, validates, loads or sets non-parameter attributes"
    tier = 2
    requires_text = ("__init__",)

    _me: str
    _params: set[str]
    _own_fitted_check: bool

    @classmethod
    def can_match(cls, source: str) -> bool:
        return may_subclass_sklearn(source)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # an __init__ in the scope of a class that may be an sklearn estimator, with
        # *args/**kwargs, a data parameter, or a statement that _judge may flag
        classes = _sklearn_classes(scan, facts)
        if not classes:
            return False
        data_names: frozenset[str] | None = None
        for klass in classes:
            for fn in _class_functions(klass):
                if fn.name != "__init__":
                    continue
                me = _first_param(fn)
                if me is None:
                    continue
                args = fn.args
                if args.vararg is not None or args.kwarg is not None:
                    return True
                annotated = []
                for a in (*args.posonlyargs, *args.args, *args.kwonlyargs):
                    if a.arg in _DATA_PARAMS:
                        return True
                    if a.annotation is not None:
                        ann = a.annotation
                        annotated.append(ann.value if isinstance(ann, ast.Subscript) else ann)
                if annotated:
                    if data_names is None:
                        data_names = scan.import_aliases(_DATA_ANNOTATION_NAMES)
                    if any(terminal_name(a) in data_names for a in annotated):
                        return True
                params = set(_init_params(fn))
                if any(_ast_may_flag(stmt, me, params) for stmt in fn.body):
                    return True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        ctx = self.ctx
        found = estimator_init(ctx, node)
        if found is None:
            return
        cls, self._me = found
        fscope = ctx.model.scope_for(node)
        assert fscope is not None  # estimator_init found its function info
        params = init_params(node)
        self._params = {p.name.value for p in params}
        self._own_fitted_check = _defines_is_fitted(ctx, cls)
        head = "sklearn __init__ may only store its parameters unchanged"
        generic = f"{head} (self.<param> = <param>)"
        star = node.params.star_arg
        for vararg in (star, node.params.star_kwarg):
            if isinstance(vararg, cst.Param):
                self.report(
                    vararg,
                    f"{generic}; *args/**kwargs cannot be introspected by get_params — "
                    "list the parameters explicitly",
                )
        for p in params:
            pname = p.name.value
            ann = p.annotation.annotation if p.annotation is not None else None
            ann_q = None
            if ann is not None:
                base = ann.value if isinstance(ann, cst.Subscript) else ann
                ann_q = ctx.qualname_in(base, fscope.parent or fscope)
            if pname in _DATA_PARAMS or ann_q in _DATA_ANNOTATIONS:
                self.report(p, f"{generic}; move data argument '{pname}' to fit()")
        body = node.body
        if not isinstance(body, cst.IndentedBlock):
            return
        for i, stmt in enumerate(body.body):
            if i == 0 and _is_docstring(stmt):
                continue
            verdict = self._judge(stmt)
            if verdict is None:
                continue
            what, param = verdict
            shown = f"(self.{param} = {param})" if param else "(self.<param> = <param>)"
            note = ""
            if _FITTED_MARK in what:
                what, note = what.split(_FITTED_MARK, 1)
            self.report(stmt, f"{head} {shown}; move {what} to fit(){note}")

    # -- classification ----------------------------------------------------------------------
    def _judge(self, stmt: cst.CSTNode) -> tuple[str, str | None] | None:
        """None when the statement is allowed, else (what to move, the parameter concerned)."""
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                verdict = self._judge_small(small)
                if verdict is not None:
                    return verdict
            return None
        if any(isinstance(n, (cst.Raise, cst.Assert)) for n in iter_descendants(stmt)):
            return ("validation", None)
        return ("computation", None)

    def _judge_small(self, small: cst.BaseSmallStatement) -> tuple[str, str | None] | None:
        if isinstance(small, cst.Pass):
            return None
        if isinstance(small, (cst.Raise, cst.Assert)):
            return ("validation", None)
        if isinstance(small, cst.Assign):
            for t in small.targets:
                verdict = self._judge_store(t.target, small.value)
                if verdict is not None:
                    return verdict
            return None
        if isinstance(small, cst.AnnAssign):
            return self._judge_store(small.target, small.value)
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            if self._forwarding(call):
                return None
            callee = (attr_name(call.func) or "").lower()
            if callee.startswith(_VALIDATION_PREFIXES):
                return ("validation", None)
            return ("computation", None)
        if isinstance(small, cst.Expr) and isinstance(
            small.value, (cst.SimpleString, cst.ConcatenatedString)
        ):
            return None  # a string used as a comment
        return ("computation", None)

    def _judge_store(
        self, target: cst.BaseExpression, value: cst.BaseExpression | None
    ) -> tuple[str, str | None] | None:
        if isinstance(target, (cst.Tuple, cst.List)):
            if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(
                target.elements
            ):
                for el, v in zip(target.elements, value.elements, strict=True):
                    verdict = self._judge_store(el.value, v.value)
                    if verdict is not None:
                        return verdict
                return None
            return ("computation", None)
        if not (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value == self._me
        ):
            return ("computation", None)
        attr = target.attr.value
        if isinstance(value, cst.Name) and value.value in self._params:
            return None  # stored unchanged, or renamed (ML502)
        if attr in self._params:
            return ("computation", attr)
        if _fitted_name(attr) and not self._own_fitted_check:
            # even `self.bounds_ = None` makes check_is_fitted() see the estimator as fitted
            return (
                f"attribute '{attr}'{_FITTED_MARK} — a trailing-underscore attribute makes "
                "check_is_fitted() consider the unfitted estimator fitted",
                None,
            )
        if _immutable_literal(value):
            return None  # a constant (`self.fit_path = True`): no state, clone is unaffected
        return (f"attribute '{attr}'", None)

    def _forwarding(self, call: cst.Call) -> bool:
        """``super().__init__(...)`` / ``Base.__init__(self, ...)`` passing parameters or
        literals unchanged."""
        func = call.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "__init__"):
            return False
        recv = func.value
        args = list(call.args)
        if isinstance(recv, cst.Call) and dotted_name(recv.func) == "super":
            pass
        elif dotted_name(recv) is not None and args and _is_name(args[0].value, self._me):
            args = args[1:]
        else:
            return False
        return all(not a.star and self._unchanged_arg(a.value) for a in args)

    def _unchanged_arg(self, value: cst.BaseExpression) -> bool:
        """A parameter passed as is, or a value that does not depend on any parameter
        (``estimator=DecisionTreeClassifier()``, ``loss="hinge"``)."""
        if _is_param(value, self._params) or _literal(value):
            return True
        used = {n.value for n in iter_descendants(value) if isinstance(n, cst.Name)}
        if isinstance(value, cst.Name):
            used.add(value.value)
        return not used & self._params


# -- the ast pre-scan (mirrors _judge; may only err towards "flagged") -------------------------
def _ast_may_flag(stmt: ast.stmt, me: str, params: set[str]) -> bool:
    if isinstance(stmt, (*_AST_COMPOUND, ast.Raise, ast.Assert)):
        return True
    if isinstance(stmt, ast.Pass):
        return False
    if isinstance(stmt, ast.Assign):
        return any(_ast_store_flagged(t, stmt.value, me, params) for t in stmt.targets)
    if isinstance(stmt, ast.AnnAssign):
        return _ast_store_flagged(stmt.target, stmt.value, me, params)
    if isinstance(stmt, ast.Expr):
        value = stmt.value
        if isinstance(value, ast.Call):
            return not _ast_forwarding(value, me, params)
        return not (isinstance(value, ast.Constant) and isinstance(value.value, (str, bytes)))
    return True


def _ast_store_flagged(target: ast.expr, value: ast.expr | None, me: str, params: set[str]) -> bool:
    if isinstance(target, (ast.Tuple, ast.List)):
        if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
            return any(
                _ast_store_flagged(_unstar(t), _unstar(v), me, params)
                for t, v in zip(target.elts, value.elts, strict=True)
            )
        return True
    if not (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == me
    ):
        return True
    if isinstance(value, ast.Name) and value.id in params:
        return False
    attr = target.attr
    if attr in params or _fitted_name(attr):
        return True
    return not _ast_immutable_literal(value)


def _ast_forwarding(call: ast.Call, me: str, params: set[str]) -> bool:
    """True only when :meth:`InitHasLogic._forwarding` is True for this call."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "__init__"):
        return False
    recv = func.value
    values: list[ast.expr] = [*call.args, *(k.value for k in call.keywords)]
    if isinstance(recv, ast.Call) and ast_dotted_name(recv.func) == "super":
        pass
    elif (
        ast_dotted_name(recv) is not None
        and call.args
        and isinstance(call.args[0], ast.Name)
        and call.args[0].id == me
    ):
        values = values[1:]
    else:
        return False
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return False
    return all(_ast_unchanged_arg(v, params) for v in values)


def _ast_unchanged_arg(value: ast.expr, params: set[str]) -> bool:
    if (isinstance(value, ast.Name) and value.id in params) or _ast_literal(value):
        return True
    used: set[str] = set()
    for n in walk(value):
        if isinstance(n, ast.Name):
            used.add(n.id)
        elif isinstance(n, ast.Attribute):
            used.add(n.attr)
        elif isinstance(n, (ast.keyword, ast.arg)) and n.arg is not None:
            used.add(n.arg)
    return not used & params


def _ast_literal(node: ast.expr | None) -> bool:
    """:func:`_literal`: str/bytes/int/float literals, None/True/False, negations and
    tuples/lists of literals."""
    if isinstance(node, ast.Constant):
        v = node.value
        return v is None or isinstance(v, (str, bytes, int, float))  # bool is an int
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _ast_literal(node.operand)
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_ast_literal(e) for e in node.elts)
    return False


def _ast_immutable_literal(node: ast.expr | None) -> bool:
    if node is None:
        return False
    if isinstance(node, ast.Tuple):
        return all(_ast_immutable_literal(e) for e in node.elts)
    return not isinstance(node, ast.List) and _ast_literal(node)


def _defines_is_fitted(ctx: FileContext, cls: ClassInfo) -> bool:
    """The class or a same-module base defines ``__sklearn_is_fitted__`` (then
    ``check_is_fitted`` asks it instead of looking for trailing-underscore attributes)."""
    seen: set[int] = set()
    todo = [cls]
    while todo:
        c = todo.pop()
        if id(c) in seen:
            continue
        seen.add(id(c))
        if "__sklearn_is_fitted__" in c.methods:
            return True
        for base in c.bases:
            if isinstance(base, cst.Name):
                local = ctx.kinds.local_class(base.value, c.scope.parent or c.scope)
                if local is not None:
                    todo.append(local)
    return False


def _fitted_name(attr: str) -> bool:
    """What ``check_is_fitted`` takes for fitted state: ends in ``_``, no leading ``__``."""
    return attr.endswith("_") and not attr.endswith("__") and not attr.startswith("__")


def _is_name(node: cst.BaseExpression, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def _is_param(node: cst.BaseExpression, params: set[str]) -> bool:
    return isinstance(node, cst.Name) and node.value in params


def _literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.Name):
        return node.value in ("None", "True", "False")
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        return _literal(node.expression)
    if isinstance(node, (cst.Tuple, cst.List)):
        return all(isinstance(el, cst.Element) and _literal(el.value) for el in node.elements)
    return False


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _immutable_literal(node: cst.BaseExpression | None) -> bool:
    if node is None:
        return False
    if isinstance(node, cst.Tuple):
        return all(
            isinstance(el, cst.Element) and _immutable_literal(el.value) for el in node.elements
        )
    return not isinstance(node, cst.List) and _literal(node)
