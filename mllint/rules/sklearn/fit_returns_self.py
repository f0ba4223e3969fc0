"""ML501 estimator-fit-not-returning-self."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any, cast

import libcst as cst

from mllint.prescan import Scan, qualified_names
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.sklearn.unseeded_split import (
    _AST_COMPOUND,
    _AST_TRY,
    _class_functions,
    _first_param,
    _sklearn_classes,
)
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block, dotted_name
from mllint.semantics.estimators import has_framework_model_base, is_sklearn_estimator_class
from mllint.semantics.scopes import ClassInfo, FunctionInfo
from mllint.semantics.walk import iter_descendants

_FIT_METHODS = frozenset({"fit", "partial_fit"})
_ESTIMATOR_METHODS = frozenset({"transform", "predict", "fit_transform"})
#: bases a duck-typed estimator may have without taking another library's `fit` contract
_NEUTRAL_BASES = frozenset(
    {"builtins.object", "abc.ABC", "typing.Generic", "typing_extensions.Generic"}
)
_PROTOCOLS = frozenset({"typing.Protocol", "typing_extensions.Protocol"})
_ABSTRACT = frozenset({"abc.abstractmethod", "abc.abstractclassmethod"})


class FitNotReturningSelf(Rule):
    """
    ## What it does
    Flags a `fit` or `partial_fit` method of an sklearn estimator class (bases resolving to
    `sklearn.base.BaseEstimator`, a `sklearn.base.*Mixin` or an sklearn estimator), or of any
    class that also defines `transform`, `predict` or `fit_transform`, when some exit path
    does not return `self`: no `return` at all, a bare `return`, `return None`, falling off
    the end after some `return self`, or returning another expression
    (`return self.model.fit(X)`).

    Delegation to a method of the same object (`return self._fit(X, y)`,
    `return super().fit(X, y)`) is accepted; when the delegate is defined in the same class it
    must itself return `self`. Not flagged: classes whose bases resolve into keras/TensorFlow
    (`fit` returns a History), Lightning or torch (`nn.Module` subclasses), duck-typed classes
    (no sklearn base) that derive from another library's or another module's class, whose
    `fit` contract is unknown, or whose `fit` does not take the data first (`X`, `x`,
    `X_train`...: `Trainer.fit(model)` is another kind of `fit`), `typing.Protocol` classes,
    abstract `fit` methods (body `...`/`pass`/`raise NotImplementedError`, or
    `@abstractmethod`), and `fit` methods that always raise.

    ## Why is this bad?
    sklearn and many data-science libraries expect `fit` to return the estimator:
    `est.fit(X).transform(X)` and `TransformerMixin.fit_transform` call methods on the return
    value and fail with `'NoneType' object has no attribute 'transform'`; pipelines and meta
    estimators rely on the same contract.

    ## Example
    ```python
    from sklearn.base import BaseEstimator, TransformerMixin

    class Standardize(BaseEstimator, TransformerMixin):
        def fit(self, X, y=None):
            self.mean_ = X.mean(axis=0)
    ```

    ## Use instead
    ```python
    class Standardize(BaseEstimator, TransformerMixin):
        def fit(self, X, y=None):
            self.mean_ = X.mean(axis=0)
            return self
    ```

    ## Fix safety
    Safe when `fit` contains no `return` statement at all: `return self` is appended to the
    body. The only change is the return value going from `None` to `self`, which no caller can
    meaningfully use. Otherwise there is no fix.
    """

    code = "ML501"
    name = "estimator-fit-not-returning-self"
    summary = "`fit()` of an estimator-like class does not return `self`"
    tier = 2
    fix_safety = (FixSafety.SAFE,)
    requires_text = ("def fit", "def partial_fit")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a (non-async) fit/partial_fit in a class scope whose body is not abstract and has a
        # `return` of something other than its first parameter or may fall off its end; the
        # class may be an sklearn estimator, or is duck-typed: a transform/predict/
        # fit_transform method (own or of a same-file base), `fit(self, X...)` and bases that
        # may all be object/ABC/Generic or same-file classes
        sklearn_classes: set[int] | None = None
        for klass in scan.of(ast.ClassDef):
            functions = list(_class_functions(klass))
            fits = [
                f for f in functions if isinstance(f, ast.FunctionDef) and f.name in _FIT_METHODS
            ]
            if not fits:
                continue
            if klass.bases and sklearn_classes is None:
                sklearn_classes = {id(c) for c in _sklearn_classes(scan, facts)}
            if not (klass.bases and sklearn_classes and id(klass) in sklearn_classes):
                fits = [f for f in fits if _data_first(f)]
                if not fits or not _may_be_duck_estimator(scan, facts, klass, functions):
                    continue
            if any(_may_not_return_self(scan, f, functions) for f in fits):
                return True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        ctx = self.ctx
        if node.name.value not in _FIT_METHODS:
            return
        scope = ctx.scope
        cls = scope.class_info if scope.kind == "class" else None
        fscope = ctx.model.scope_for(node)
        finfo = fscope.function_info if fscope is not None else None
        if cls is None or finfo is None or finfo.self_name is None:
            return
        if node.asynchronous is not None or finfo.is_generator:
            return
        if _is_abstract(node, ctx) or not self._estimator_like(cls, node):
            return
        returns = [
            n for n in iter_descendants(node.body, into_scopes=False) if isinstance(n, cst.Return)
        ]
        bad = next((r for r in returns if not self._returns_self(r, cls, finfo)), None)
        if bad is None and _terminates(node.body):
            return  # every path returns self, or (without any return) raises
        fix = None
        if not returns:
            fix = self._fix(node)
        self.report(
            node,
            f"{cls.name}.{node.name.value} must return self (sklearn contract; enables "
            "est.fit(X).transform(X), Pipeline, clone)",
            fix,
        )

    # -- which classes -----------------------------------------------------------------------
    def _estimator_like(self, cls: ClassInfo, fit: cst.FunctionDef) -> bool:
        ctx = self.ctx
        if has_framework_model_base(ctx, cls):
            return False
        bases = ctx.class_bases(cls)
        if any(q in _PROTOCOLS for q in bases):
            return False
        if is_sklearn_estimator_class(ctx, cls):
            return True
        if not _ESTIMATOR_METHODS & self._all_methods(cls, set()):
            return False
        ordered = [*fit.params.posonly_params, *fit.params.params]
        if len(ordered) < 2 or not _is_data_param(ordered[1].name.value):
            return False  # `Trainer.fit(model, ...)`: another kind of `fit`
        return self._neutral_bases(cls, set())

    def _all_methods(self, cls: ClassInfo, seen: set[int]) -> set[str]:
        if id(cls) in seen:
            return set()
        seen.add(id(cls))
        names = set(cls.methods)
        parent = cls.scope.parent or cls.scope
        for base in cls.bases:
            if isinstance(base, cst.Name):
                other = self.ctx.kinds.local_class(base.value, parent)
                if other is not None:
                    names |= self._all_methods(other, seen)
        return names

    def _neutral_bases(self, cls: ClassInfo, seen: set[int]) -> bool:
        """Every base is ``object``/``ABC``/``Generic`` or a same-module class with such bases."""
        if id(cls) in seen:
            return True
        seen.add(id(cls))
        parent = cls.scope.parent or cls.scope
        for base in cls.bases:
            expr = base.value if isinstance(base, cst.Subscript) else base
            if isinstance(expr, cst.Name):
                other = self.ctx.kinds.local_class(expr.value, parent)
                if other is not None:
                    if not self._neutral_bases(other, seen):
                        return False
                    continue
            if self.ctx.qualname_in(expr, parent) not in _NEUTRAL_BASES:
                return False
        return True

    # -- returns -----------------------------------------------------------------------------
    def _returns_self(self, ret: cst.Return, cls: ClassInfo, finfo: FunctionInfo) -> bool:
        value = ret.value
        me = finfo.self_name
        if isinstance(value, cst.Name) and value.value == me:
            return True
        if not isinstance(value, cst.Call) or not isinstance(value.func, cst.Attribute):
            return False
        recv = value.func.value
        method = value.func.attr.value
        if isinstance(recv, cst.Call) and dotted_name(recv.func) == "super":
            return True  # the base's fit
        if not (isinstance(recv, cst.Name) and recv.value == me):
            return False
        target = cls.methods.get(method)
        if target is None:
            return True  # inherited: trust the base class
        if method in _FIT_METHODS:
            return True  # checked on its own
        # a helper of this class: every return must be `return self`
        t_scope = self.ctx.model.scope_for(target)
        t_self = t_scope.function_info.self_name if t_scope and t_scope.function_info else None
        t_returns = [
            n for n in iter_descendants(target.body, into_scopes=False) if isinstance(n, cst.Return)
        ]
        return bool(t_returns) and all(
            isinstance(r.value, cst.Name) and r.value.value == t_self for r in t_returns
        )

    # -- the fix -----------------------------------------------------------------------------
    def _fix(self, node: cst.FunctionDef) -> Fix | None:
        body = node.body
        if not isinstance(body, cst.IndentedBlock) or not body.body:
            return None
        ctx = self.ctx
        last = body.body[-1]
        indents = block_indents(ctx.module, [*ctx.stack, body])
        text = code_in_block(ctx.module, last, indents)
        newline = ctx.module.default_newline
        if not text.endswith(newline):
            return None
        text = f"{text}{''.join(indents)}return self{newline}"
        return Fix(FixSafety.SAFE, [(last, text)])


# -- the ast pre-scan (mirrors _is_abstract/_terminates; may only err towards "maybe") --------
def _may_be_duck_estimator(
    scan: Scan,
    facts: FileFacts,
    klass: ast.ClassDef,
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef],
) -> bool:
    """The class part of the duck-typed branch of :meth:`FitNotReturningSelf._estimator_like`:
    a transform/predict/fit_transform method (own, or maybe of a same-file base) and bases
    that may all be object/ABC/Generic or same-file classes."""
    local = {c.name for c in scan.of(ast.ClassDef)}
    named_bases = [b.id for b in klass.bases if isinstance(b, ast.Name)]
    if not (
        _ESTIMATOR_METHODS & {f.name for f in functions} or any(b in local for b in named_bases)
    ):
        return False
    bindings = scan.import_bindings(facts.package)
    for base in klass.bases:
        expr = base.value if isinstance(base, ast.Subscript) else base
        if isinstance(expr, ast.Name) and (expr.id in local or expr.id == "object"):
            continue
        if not any(q in _NEUTRAL_BASES for q in qualified_names(expr, bindings)):
            return False
    return True


def _data_first(fit: ast.FunctionDef) -> bool:
    """``fit(self, X, ...)``: the data comes first (:func:`_is_data_param`)."""
    ordered = [*fit.args.posonlyargs, *fit.args.args]
    return len(ordered) >= 2 and _is_data_param(ordered[1].arg)


def _local_returns(scan: Scan, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.Return]:
    """The ``return`` statements of ``fn`` outside nested functions, found by position among
    the file's returns (cheaper than walking the body)."""
    start = (fn.body[0].lineno, fn.body[0].col_offset)
    end = (fn.end_lineno or fn.lineno, fn.end_col_offset or 0)
    inside = [r for r in scan.of(ast.Return) if start <= (r.lineno, r.col_offset) <= end]
    if not inside:
        return []
    nested = [
        ((f.lineno, f.col_offset), (f.end_lineno or f.lineno, f.end_col_offset or 0))
        for f in scan.functions()
        if f is not fn and start <= (f.lineno, f.col_offset) <= end
    ]
    return [r for r in inside if not any(a <= (r.lineno, r.col_offset) <= b for a, b in nested)]


def _may_not_return_self(
    scan: Scan, fit: ast.FunctionDef, functions: list[ast.FunctionDef | ast.AsyncFunctionDef]
) -> bool:
    me = _first_param(fit)
    if me is None or _ast_abstract_body(fit.body):
        return False
    for ret in _local_returns(scan, fit):
        if not _ast_returns_self(scan, ret, me, functions):
            return True
    return not _ast_terminates(fit.body)


def _ast_returns_self(
    scan: Scan,
    ret: ast.Return,
    me: str,
    functions: list[ast.FunctionDef | ast.AsyncFunctionDef],
) -> bool:
    """True only when :meth:`FitNotReturningSelf._returns_self` is True for this return."""
    value = ret.value
    if isinstance(value, ast.Name):
        return value.id == me
    if not isinstance(value, ast.Call) or not isinstance(value.func, ast.Attribute):
        return False
    recv = value.func.value
    method = value.func.attr
    if isinstance(recv, ast.Call):
        return isinstance(recv.func, ast.Name) and recv.func.id == "super"
    if not (isinstance(recv, ast.Name) and recv.id == me):
        return False
    if method in _FIT_METHODS:
        return True
    targets = [f for f in functions if f.name == method]
    # inherited (trusted), or every same-named helper of the class returns its own self
    return all(_ast_helper_returns_self(scan, t) for t in targets)


def _ast_helper_returns_self(scan: Scan, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    me = _first_param(fn)
    if me is None or fn.decorator_list:
        return False  # a staticmethod has no self
    returns = _local_returns(scan, fn)
    return bool(returns) and all(
        isinstance(r.value, ast.Name) and r.value.id == me for r in returns
    )


def _ast_abstract_body(body: list[ast.stmt]) -> bool:
    """The body part of :func:`_is_abstract`: only a docstring, ``pass``, ``...`` or
    ``raise NotImplementedError``."""
    if any(isinstance(s, _AST_COMPOUND) for s in body):
        return False
    stmts = body
    if _ast_docstring(stmts[0]):
        stmts = stmts[1:]
    if not stmts:
        return True
    if len(stmts) != 1:
        return False
    only = stmts[0]
    if isinstance(only, ast.Pass):
        return True
    if isinstance(only, ast.Expr) and isinstance(only.value, ast.Constant):
        return only.value.value is Ellipsis
    if isinstance(only, ast.Raise) and only.exc is not None:
        exc = only.exc.func if isinstance(only.exc, ast.Call) else only.exc
        return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"
    return False


def _ast_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, (str, bytes))
    )


def _ast_terminates(body: list[ast.stmt]) -> bool:
    """True only when :func:`_terminates` is True for this block."""
    last = body[-1]
    if isinstance(last, (ast.Return, ast.Raise)):
        return True
    if isinstance(last, ast.If):
        return _ast_terminates_if(last)
    if isinstance(last, _AST_TRY):
        tried = cast(ast.Try, last)  # or an ast.TryStar, which has the same fields
        if tried.finalbody and _ast_terminates(tried.finalbody):
            return True
        main = tried.orelse or tried.body
        return _ast_terminates(main) and all(_ast_terminates(h.body) for h in tried.handlers)
    if isinstance(last, (ast.With, ast.AsyncWith)):
        return _ast_terminates(last.body)
    if isinstance(last, (ast.For, ast.AsyncFor, ast.While)):
        if (
            isinstance(last, ast.While)
            and isinstance(last.test, ast.Constant)
            and last.test.value is True
        ):
            return True
        return bool(last.orelse) and _ast_terminates(last.orelse)
    # def/class/match: _terminates does not guess; other simple statements fall through
    return isinstance(last, _AST_COMPOUND)


def _ast_terminates_if(node: ast.If) -> bool:
    if not node.orelse:
        return False
    if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
        return _ast_terminates(node.body) and _ast_terminates_if(node.orelse[0])
    return _ast_terminates(node.body) and _ast_terminates(node.orelse)


def _is_data_param(name: str) -> bool:
    """``X``, ``x``, ``X_train``, ``x_train``, ``X_fit``... (the sklearn ``fit(X, y)`` shape)."""
    return name in ("X", "x") or name.startswith(("X_", "x_"))


def _is_abstract(node: cst.FunctionDef, ctx: object) -> bool:
    from mllint.semantics.context import FileContext

    assert isinstance(ctx, FileContext)
    for dec in node.decorators:
        if ctx.qualname(dec.decorator) in _ABSTRACT or dotted_name(dec.decorator) in (
            "abstractmethod",
            "abc.abstractmethod",
        ):
            return True
    body = node.body
    stmts: list[cst.BaseSmallStatement] = []
    if isinstance(body, cst.SimpleStatementSuite):
        stmts = list(body.body)
    else:
        stmts = []
        for s in body.body:
            if not isinstance(s, cst.SimpleStatementLine):
                return False
            stmts.extend(s.body)
    if (
        stmts
        and isinstance(stmts[0], cst.Expr)
        and isinstance(stmts[0].value, (cst.SimpleString, cst.ConcatenatedString))
    ):
        stmts = stmts[1:]
    if not stmts:
        return True
    if len(stmts) != 1:
        return False
    only = stmts[0]
    if isinstance(only, cst.Pass):
        return True
    if isinstance(only, cst.Expr) and isinstance(only.value, cst.Ellipsis):
        return True
    if isinstance(only, cst.Raise) and only.exc is not None:
        exc = only.exc.func if isinstance(only.exc, cst.Call) else only.exc
        return dotted_name(exc) == "NotImplementedError"
    return False


def _terminates(suite: cst.BaseSuite) -> bool:
    """The block cannot fall off its end (conservatively True for shapes we cannot read)."""
    if not isinstance(suite, cst.IndentedBlock):
        return any(isinstance(s, (cst.Return, cst.Raise)) for s in suite.body)
    if not suite.body:
        return False
    last = suite.body[-1]
    if isinstance(last, cst.SimpleStatementLine):
        return any(isinstance(s, (cst.Return, cst.Raise)) for s in last.body)
    if isinstance(last, cst.If):
        return _terminates_if(last)
    if isinstance(last, (cst.Try, cst.TryStar)):
        if last.finalbody is not None and _terminates(last.finalbody.body):
            return True
        main = last.orelse.body if last.orelse is not None else last.body
        return _terminates(main) and all(_terminates(h.body) for h in last.handlers)
    if isinstance(last, cst.With):
        return _terminates(last.body)
    if isinstance(last, (cst.For, cst.While)):
        if (
            isinstance(last, cst.While)
            and isinstance(last.test, cst.Name)
            and last.test.value == "True"
        ):
            return True
        return last.orelse is not None and _terminates(last.orelse.body)
    return True  # match statements and others: do not guess


def _terminates_if(node: cst.If) -> bool:
    if node.orelse is None:
        return False
    if isinstance(node.orelse, cst.If):
        return _terminates(node.body) and _terminates_if(node.orelse)
    return _terminates(node.body) and _terminates(node.orelse.body)
