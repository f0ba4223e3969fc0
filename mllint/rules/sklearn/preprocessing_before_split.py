"""ML505 preprocessing-before-split."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from mllint.positions import LineIndex, node_offsets, trim_range
from mllint.prescan import Scan
from mllint.prescan import start_pos as _pos
from mllint.rule import Option, Rule
from mllint.rules.sklearn.unseeded_split import (
    _innermost,
    _may_resolve_into_module,
    _resolved_calls,
    _unstar,
)
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import expression_names, iter_names_in_target, positional_args

_SCALERS = frozenset(
    {
        "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "QuantileTransformer",
        "PowerTransformer", "KBinsDiscretizer", "TargetEncoder",
    }
)  # fmt: skip
_TEXT = frozenset({"TfidfVectorizer", "TfidfTransformer", "CountVectorizer"})
_STATEFUL_PACKAGES = ("sklearn.impute.", "sklearn.decomposition.", "sklearn.feature_selection.")
_SPLIT_FUNCS = frozenset(
    {
        "train_test_split", "cross_val_score", "cross_validate", "cross_val_predict",
        "learning_curve", "validation_curve",
    }
)  # fmt: skip
_SEARCHES = frozenset(
    {"GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV"}
)
_STAT_METHODS = frozenset({"mean", "median", "mode"})


def _model_selection_name(q: str | None) -> str | None:
    if q is None or not q.startswith("sklearn.model_selection."):
        return None
    parts = q.split(".")
    if len(parts) == 3 or (len(parts) == 4 and parts[2].startswith("_")):
        return parts[-1]
    return None


def _root_name(expr: cst.CSTNode) -> str | None:
    """``D`` for ``D``, ``D[...]``, ``D.values``, ``D.to_numpy()``, ``D.drop(...)``."""
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Subscript) and isinstance(expr.value, cst.Name):
        return expr.value.value
    if (
        isinstance(expr, cst.Attribute)
        and expr.attr.value == "values"
        and isinstance(expr.value, cst.Name)
    ):
        return expr.value.value
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value in ("to_numpy", "drop")
        and isinstance(expr.func.value, cst.Name)
    ):
        return expr.func.value.value
    return None


def _stat_of(expr: cst.CSTNode, methods: frozenset[str]) -> str | None:
    """The root name of ``D.mean()`` / ``D[c].median()`` / ``D[c].mode()[0]``."""
    if isinstance(expr, cst.Subscript):
        expr = expr.value
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value in methods
    ):
        return _root_name(expr.func.value)
    return None


# -- the ast pre-scan ---------------------------------------------------------------------------
def _aliased_originals(scan: Scan, accept: Callable[[str], bool]) -> set[str]:
    """The last names of what ``import ... as <local>`` imports, when ``accept`` takes them."""
    out: set[str] = set()
    for imp in scan.of(ast.ImportFrom, ast.Import):
        for alias in imp.names:
            last = alias.name.rsplit(".", 1)[-1]
            if alias.asname and accept(last):
                out.add(last)
    return out


def _ast_method_calls(scan: Scan, method: str, made: set[int]) -> list[ast.expr]:
    """``<T>.<method>(D...)`` calls, ``T`` one of the ``made`` calls or a name assigned from
    one, ``D`` a root name (:func:`_root_name`)."""
    names: set[str] = set()
    for assign in scan.of(ast.Assign, ast.AnnAssign):
        if assign.value is not None and id(assign.value) in made:
            targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    out: list[ast.expr] = []
    for call in scan.calls(method):
        func = call.func
        if not isinstance(func, ast.Attribute):
            continue
        recv = func.value
        if not (id(recv) in made or (isinstance(recv, ast.Name) and recv.id in names)):
            continue
        pos = [a for a in call.args if not isinstance(a, ast.Starred)]
        if pos and _ast_root_name(pos[0]):
            out.append(call)
    return out


def _ast_fit_then_split(scan: Scan, fits: list[ast.expr], splits: list[ast.expr]) -> bool:
    """Some fit starts before (or where) some split starts, in the same scope
    (``_scope_key``): the innermost def around the node or the module; a class body has no
    key. A node in a header may be in either of two scopes (:func:`_innermost`)."""

    def keys(n: ast.expr) -> set[int]:
        out: set[int] = set()
        for scope in _innermost(scan, n):
            if scope is None:
                out.add(0)  # the module
            elif not isinstance(scope, ast.ClassDef):
                out.add(id(scope))
        return out

    last_split: dict[int, tuple[int, int]] = {}
    for sp in splits:
        at = _pos(sp)
        for k in keys(sp):
            if k not in last_split or at > last_split[k]:
                last_split[k] = at
    for fit in fits:
        at = _pos(fit)
        if any(k in last_split and at <= last_split[k] for k in keys(fit)):
            return True
    return False


def _ast_root_name(expr: ast.expr) -> bool:
    """:func:`_root_name` is not None."""
    if isinstance(expr, ast.Name):
        return True
    if isinstance(expr, ast.Subscript):
        return isinstance(expr.value, ast.Name)
    if isinstance(expr, ast.Attribute):
        return expr.attr == "values" and isinstance(expr.value, ast.Name)
    return (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr in ("to_numpy", "drop")
        and isinstance(expr.func.value, ast.Name)
    )


def _ast_transformer(q: str, extra: frozenset[str]) -> bool:
    """:meth:`PreprocessingBeforeSplit._transformer_class` is not None."""
    last = q.rsplit(".", 1)[-1]
    if not last[:1].isupper():
        return False
    if q in extra:
        return True
    if not q.startswith("sklearn."):
        return False
    if q.startswith("sklearn.preprocessing.") and last in _SCALERS:
        return True
    if q.startswith("sklearn.feature_extraction.text.") and last in _TEXT:
        return True
    return q.startswith(_STATEFUL_PACKAGES)


@dataclass
class _Fit:
    node: cst.CSTNode
    transformer: str
    data: str
    names: set[str] = field(default_factory=set)


@dataclass
class _Finding:
    fit: _Fit
    split: cst.CSTNode
    split_name: str


class PreprocessingBeforeSplit(Rule):
    """
    ## What it does
    Within one scope (a function body or the module's top level), flags a stateful
    preprocessing step fitted on a dataset `D` that is split or cross-validated later in
    source order. The fit is `<T>.fit(D...)` / `<T>.fit_transform(D...)` where `T` is (or is a
    name bound to) `StandardScaler`, `MinMaxScaler`, `MaxAbsScaler`, `RobustScaler`,
    `QuantileTransformer`, `PowerTransformer`, `KBinsDiscretizer`, `TargetEncoder`, any
    `sklearn.impute`, `sklearn.decomposition` or `sklearn.feature_selection` class, or
    `TfidfVectorizer`/`TfidfTransformer`/`CountVectorizer`, and the first argument is `D`,
    `D[...]`, `D.values`, `D.to_numpy()` or `D.drop(...)`; or a statistic fill or
    normalisation with pandas: `D[c].fillna(D[c].mean())` (also `.median()`, `.mode()[0]`),
    `D.fillna(D.mean())`, `(D - D.mean()) / D.std()`, `(D - D.min()) / (D.max() - D.min())`.
    The split is `train_test_split`, `cross_val_score`, `cross_validate`,
    `cross_val_predict`, `learning_curve` or `validation_curve` with `D` (or a name derived
    from it after the fit, such as `X = D.drop(columns=...)` or the fit's own result
    `X_scaled = scaler.fit_transform(X)`) as an argument, `<search>.fit(D...)` on a
    `GridSearchCV`/`RandomizedSearchCV`/`HalvingGridSearchCV`, or `<splitter>.split(D...)`.

    Transformers inside a `Pipeline`/`make_pipeline`/`ColumnTransformer`, constant fills
    (`fillna(0)`), `LabelEncoder`/`OneHotEncoder`/`OrdinalEncoder`, stateless transformers
    (`Normalizer`, `FunctionTransformer`, `PolynomialFeatures`) and fits on names produced by
    a split (`X_train`) are not flagged.

    ## Why is this bad?
    Statistics computed on all rows (means, variances, imputation values, selected features,
    IDF weights, PCA axes) include the test rows, so the evaluation is optimistic and does not
    reflect deployment, where those rows are unseen. Supervised selectors such as
    `SelectKBest().fit(X, y)` leak the labels and can inflate scores dramatically.

    ## Example
    ```python
    X = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    ```

    ## Use instead
    ```python
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_train, y_train)
    ```

    ## Fix safety
    There is no fix: moving the fit after the split changes the program's structure; fit on
    the training split or put the transformer in a `Pipeline`. Option
    `extend-stateful-transformers` adds qualified class names (for example
    `"category_encoders.TargetEncoder"`) to the transformers that are checked.
    """

    code = "ML505"
    name = "preprocessing-before-split"
    summary = (
        "A scaler/imputer/selector is fitted on the full data before the train/test split or "
        "cross-validation"
    )
    tier = 2
    requires_text = ("fit", "fillna", "mean(", "min(")
    options = (
        Option(
            "extend-stateful-transformers",
            "list[str]",
            [],
            "qualified class names of further stateful transformers to check",
        ),
    )

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # in one scope (def body or module level, not a class body), a fit before a split.
        # A split: a call that may resolve to a model_selection split function with a name
        # argument, or `.fit(<name>...)`/`.split(<name>...)` on a search/splitter instance
        # (a call that may resolve to the class, or a name assigned from one). A fit:
        # `.fit(D...)`/`.fit_transform(D...)` on a stateful transformer instance, or, with
        # pandas imported, a `.fillna(...)` call or a `(... - ...) / ...` expression
        if not _may_resolve_into_module(scan, facts, "sklearn.model_selection"):
            return False  # every split resolves into sklearn.model_selection
        called = scan.called()
        wanted = {n for n in called if n in _SPLIT_FUNCS or n[:1].isupper()}
        wanted |= _aliased_originals(scan, lambda n: n in _SPLIT_FUNCS or n[:1].isupper())
        resolved = _resolved_calls(scan, facts, wanted)
        splits: list[ast.expr] = []
        searches: set[int] = set()
        splitters: set[int] = set()
        for call, quals in resolved:
            for q in quals:
                name = _model_selection_name(q)
                if name is None:
                    continue
                if name in _SPLIT_FUNCS:
                    values = [*call.args, *(k.value for k in call.keywords if k.arg is not None)]
                    if any(isinstance(_unstar(v), ast.Name) for v in values):
                        splits.append(call)
                elif name[:1].isupper():
                    splitters.add(id(call))
                    if name in _SEARCHES:
                        searches.add(id(call))
        if searches:
            splits.extend(_ast_method_calls(scan, "fit", searches))
        if splitters:
            splits.extend(_ast_method_calls(scan, "split", splitters))
        if not splits:
            return False
        fits: list[ast.expr] = []
        if "fit" in called or "fit_transform" in called:
            extra = frozenset(options.get("extend-stateful-transformers", ()))
            made = {
                id(c) for c, quals in resolved if any(_ast_transformer(q, extra) for q in quals)
            }
            if made:
                fits.extend(_ast_method_calls(scan, "fit", made))
                fits.extend(_ast_method_calls(scan, "fit_transform", made))
        if scan.imports_any("pandas"):
            fits.extend(c for c in scan.calls("fillna") if isinstance(c.func, ast.Attribute))
            fits.extend(
                b
                for b in scan.of(ast.BinOp)
                if isinstance(b.op, ast.Div)
                and isinstance(b.left, ast.BinOp)
                and isinstance(b.left.op, ast.Sub)
            )
        return bool(fits) and _ast_fit_then_split(scan, fits, splits)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._extra = frozenset(self.option("extend-stateful-transformers"))
        #: id(scope) -> pending fits
        self._fits: dict[int, list[_Fit]] = {}
        #: id(scope) -> names bound from a split call
        self._split_names: dict[int, set[str]] = {}
        self._findings: list[_Finding] = []
        self._reported: set[int] = set()

    # -- helpers ---------------------------------------------------------------------------
    def _scope_key(self) -> int | None:
        ctx = self.ctx
        fs = ctx.function_scope()
        if fs is not None:
            return id(fs)
        if ctx.enclosing_class() is not None:
            return None
        return id(ctx.model.module_scope)

    def _transformer_class(self, q: str | None) -> str | None:
        if q is None:
            return None
        last = q.rsplit(".", 1)[-1]
        if not last[:1].isupper():
            return None
        if q in self._extra:
            return last
        if not q.startswith("sklearn."):
            return None
        if q.startswith("sklearn.preprocessing.") and last in _SCALERS:
            return last
        if q.startswith("sklearn.feature_extraction.text.") and last in _TEXT:
            return last
        if q.startswith(_STATEFUL_PACKAGES):
            return last
        return None

    def _class_of_receiver(self, recv: cst.BaseExpression, accept: object) -> str | None:
        """The class a receiver was created from: ``Cls(...)`` or a name bound only to that."""
        ctx = self.ctx
        call: cst.BaseExpression | None = recv
        if isinstance(recv, cst.Name):
            bindings = ctx.bindings(recv.value)
            if not bindings or not all(
                b.kind in ("assign", "annassign") and not b.unpacked for b in bindings
            ):
                return None
            values = [b.value for b in bindings]
            first = values[0]
            if not isinstance(first, cst.Call):
                return None
            call = first
            names = set()
            for v in values:
                if not isinstance(v, cst.Call):
                    return None
                names.add(ctx.qualname_in(v.func, bindings[0].scope or ctx.scope))
            if len(names) != 1:
                return None
            q = names.pop()
        elif isinstance(call, cst.Call):
            q = ctx.qualname(call.func)
        else:
            return None
        if accept == "transformer":
            return self._transformer_class(q)
        name = _model_selection_name(q)
        if accept == "search":
            return name if name in _SEARCHES else None
        return name if name is not None and name[:1].isupper() else None

    # -- visiting ----------------------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        key = self._scope_key()
        if key is None:
            return
        value = node.value
        if (
            isinstance(value, cst.Call)
            and _model_selection_name(self.ctx.qualname(value.func)) == "train_test_split"
        ):
            names = self._split_names.setdefault(key, set())
            for t in node.targets:
                names.update(n.value for n in iter_names_in_target(t.target))
            return
        fits = self._fits.get(key)
        if not fits or len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
            return
        used = expression_names(value)
        target = node.targets[0].target.value
        for fit in fits:
            if used & fit.names:
                fit.names.add(target)

    def visit_Call(self, node: cst.Call) -> None:
        key = self._scope_key()
        if key is None:
            return
        self._check_split(node, key)
        func = node.func
        if not isinstance(func, cst.Attribute):
            return
        method = func.attr.value
        if method in ("fit", "fit_transform"):
            cls = self._class_of_receiver(func.value, "transformer")
            pos = positional_args(node)
            if cls is None or not pos:
                return
            data = _root_name(pos[0].value)
            if data is None:
                return
            self._add_fit(key, node, cls, data)
        elif method == "fillna" and self.ctx.imports("pandas"):
            pos = positional_args(node)
            if not pos:
                return
            data = _root_name(func.value)
            stat = _stat_of(pos[0].value, _STAT_METHODS)
            if data is not None and stat == data:
                self._add_fit(
                    key, node, f"The fill value {self.ctx.snippet(pos[0].value, 40)}", data
                )

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, cst.Divide) or not self.ctx.imports("pandas"):
            return
        key = self._scope_key()
        if key is None:
            return
        left = node.left
        if not (isinstance(left, cst.BinaryOperation) and isinstance(left.operator, cst.Subtract)):
            return
        data = _root_name(left.left) if isinstance(left.left, cst.Name) else None
        if data is None:
            return
        center = _stat_of(left.right, frozenset({"mean", "min"}))
        right = node.right
        scale: str | None = None
        if isinstance(right, cst.BinaryOperation) and isinstance(right.operator, cst.Subtract):
            if (
                _stat_of(right.left, frozenset({"max"})) == data
                and _stat_of(right.right, frozenset({"min"})) == data
            ):
                scale = data
        else:
            scale = _stat_of(right, frozenset({"std"}))
        if center == data and scale == data:
            self._add_fit(key, node, f"The normalisation {self.ctx.snippet(node, 40)}", data)

    def _add_fit(self, key: int, node: cst.CSTNode, transformer: str, data: str) -> None:
        if data in self._split_names.get(key, set()):
            return
        fit = _Fit(node, transformer, data, {data})
        parent = self.ctx.parent
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
            target = parent.targets[0].target
            if isinstance(target, cst.Name):
                fit.names.add(target.value)
        self._fits.setdefault(key, []).append(fit)

    def _check_split(self, call: cst.Call, key: int) -> None:
        fits = self._fits.get(key)
        if not fits:
            return
        ctx = self.ctx
        name = _model_selection_name(ctx.qualname(call.func))
        args: list[cst.BaseExpression] = []
        if name in _SPLIT_FUNCS:
            args = [a.value for a in call.args if not a.star]
        elif isinstance(call.func, cst.Attribute):
            method = call.func.attr.value
            if (method == "fit" and self._class_of_receiver(call.func.value, "search")) or (
                method == "split" and self._class_of_receiver(call.func.value, "splitter")
            ):
                args = [a.value for a in positional_args(call)[:1]]
        for arg in args:
            if not isinstance(arg, cst.Name):
                continue
            for fit in fits:
                if arg.value in fit.names and id(fit.node) not in self._reported:
                    self._reported.add(id(fit.node))
                    self._findings.append(_Finding(fit, call, arg.value))

    def finish(self) -> None:
        if not self._findings:
            return
        module = self.ctx.module
        nodes: list[cst.CSTNode] = []
        for f in self._findings:
            nodes.extend((f.fit.node, f.split))
        offsets = node_offsets(module, nodes)
        source = module.code
        index = LineIndex(source)

        def line_of(node: cst.CSTNode) -> int:
            start, end = offsets[id(node)]
            start, _ = trim_range(source, start, end)
            return index.position(start)[0]

        for f in self._findings:
            d = f.fit.data
            self.report(
                f.fit.node,
                f"{f.fit.transformer} is fitted on '{d}' (line {line_of(f.fit.node)}) before "
                f"'{f.split_name}' is split at line {line_of(f.split)}: test-set statistics "
                "leak into training — fit it on the training split or inside a Pipeline",
            )
