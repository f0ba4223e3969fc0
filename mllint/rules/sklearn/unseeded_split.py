"""ML506 unseeded-split."""

from __future__ import annotations

import ast
import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, absolute_module, qualified_names, scope_statements
from mllint.prescan import start_pos as _pos
from mllint.rule import Fix, FixSafety, Option, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg
from mllint.semantics.estimators import is_sklearn_base
from mllint.semantics.seeds import seed_expression

# -- ast pre-scan helpers shared by the sklearn and torch bands' gates ----------------------
_Pos = tuple[int, int]
#: ``try`` statements (``ast.TryStar``, ``try``/``except*``, exists from Python 3.11)
_AST_TRY: tuple[type[ast.AST], ...] = tuple(
    t for t in (ast.Try, getattr(ast, "TryStar", None)) if t is not None
)
#: statements with a body (everything else is a "simple" statement, a SimpleStatementLine in
#: libcst)
_AST_COMPOUND: tuple[type[ast.AST], ...] = (
    ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, *_AST_TRY,
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Match,
)  # fmt: skip
_AST_SCOPES: tuple[type[ast.AST], ...] = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ClassDef,
)


def _may_resolve_into(scan: Scan, facts: FileFacts, *tops: str) -> bool:
    """Can a name of this file resolve (``ctx.qualname``) into one of these top-level
    packages? Only import bindings give qualified names: an absolute import of the package,
    or a relative import that resolves into it with the file's package."""
    if scan.imports_any(*tops):
        return True
    for imp in scan.of(ast.ImportFrom):
        if imp.level:
            mod = absolute_module(imp.module, imp.level, facts.package)
            if mod is not None and mod.split(".", 1)[0] in tops:
                return True
    return False


def _resolved_calls(
    scan: Scan, facts: FileFacts, last_names: Iterable[str]
) -> list[tuple[ast.Call, list[str]]]:
    """Calls whose callee may resolve to a qualified name ending in one of ``last_names``,
    with those candidate names."""
    wanted = frozenset(last_names)
    calls = _named_calls(scan, wanted)
    if not calls:
        return []
    bindings = scan.import_bindings(facts.package)
    out: list[tuple[ast.Call, list[str]]] = []
    for call in calls:
        quals = [q for q in qualified_names(call.func, bindings) if q.rsplit(".", 1)[-1] in wanted]
        if quals:
            out.append((call, quals))
    return out


def _classes_based_on(
    scan: Scan, facts: FileFacts, accept: Callable[[str], bool]
) -> list[ast.ClassDef]:
    """Classes one of whose bases may resolve to a qualified name ``accept`` takes, directly
    or through the bases of same-file classes named as bases (``ctx.class_bases``,
    ``kinds.is_torch_module_class``)."""
    return scan.memo(
        ("sklearn.classes", facts.package, accept),
        lambda: _classes_based_on_uncached(scan, facts, accept),
    )


def _classes_based_on_uncached(
    scan: Scan, facts: FileFacts, accept: Callable[[str], bool]
) -> list[ast.ClassDef]:
    classes = [c for c in scan.of(ast.ClassDef) if c.bases]
    if not classes:
        return []
    bindings = scan.import_bindings(facts.package)
    by_name: dict[str, list[ast.ClassDef]] = {}
    for c in classes:
        by_name.setdefault(c.name, []).append(c)
    memo: dict[int, bool] = {}

    def based(c: ast.ClassDef) -> bool:
        key = id(c)
        if key in memo:
            return memo[key]
        memo[key] = False  # cycle guard
        result = False
        for base in c.bases:
            if any(accept(q) for q in qualified_names(base, bindings)):
                result = True
                break
            if isinstance(base, ast.Name) and any(based(o) for o in by_name.get(base.id, ())):
                result = True
                break
        memo[key] = result
        return result

    return [c for c in classes if based(c)]


def _named_calls(scan: Scan, names: Iterable[str]) -> list[ast.Call]:
    """Calls that may resolve to a function or class with one of these (last) names: the
    callee's terminal name is one of them, or a local name an import aliases to one."""
    return scan.calls(*scan.import_aliases(frozenset(names)))


def _star_args(call: ast.Call) -> bool:
    """``*args`` or ``**kwargs`` among the arguments."""
    return any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    )


def _double_star(call: ast.Call) -> bool:
    """``**kwargs`` among the arguments."""
    return any(k.arg is None for k in call.keywords)


def _unstar(node: ast.expr) -> ast.expr:
    """The value of ``*x``, else the node."""
    return node.value if isinstance(node, ast.Starred) else node


def _keyword(call: ast.Call, name: str) -> ast.keyword | None:
    for k in call.keywords:
        if k.arg == name:
            return k
    return None


def _walk_local(nodes: Iterable[ast.AST]) -> Iterator[ast.AST]:
    """Every node under ``nodes`` (included), not entering nested def/lambda/class bodies
    (the nested definition itself is yielded), like ``iter_descendants(into_scopes=False)``."""
    stack = list(nodes)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _AST_SCOPES):
            stack.extend(ast.iter_child_nodes(node))


def _class_functions(cls: ast.ClassDef) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Functions defined in the class's scope: in its body, also inside if/try/with/for/
    while/match blocks (those do not open a scope)."""
    for stmt in scope_statements(cls.body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield stmt


def _spans(scan: Scan) -> tuple[list[tuple[_Pos, _Pos, _Pos, ast.AST]], list[_Pos]]:
    """Every def and class as (start with decorators, body start, end, node), by start."""
    return scan.memo("sklearn.spans", lambda: _build_spans(scan))


def _build_spans(scan: Scan) -> tuple[list[tuple[_Pos, _Pos, _Pos, ast.AST]], list[_Pos]]:
    spans: list[tuple[_Pos, _Pos, _Pos, ast.AST]] = []
    for node in scan.of(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
        first = node.body[0]
        start = min((_pos(node), *(_pos(d) for d in node.decorator_list)))
        body_start = min((_pos(first), *(_pos(d) for d in getattr(first, "decorator_list", ()))))
        end = (node.end_lineno or node.lineno, node.end_col_offset or 0)
        spans.append((start, body_start, end, node))
    spans.sort(key=lambda s: s[0])
    starts = [s[0] for s in spans]
    return spans, starts


def _innermost(scan: Scan, node: ast.AST) -> tuple[ast.AST | None, ast.AST | None]:
    """The def or class whose scope ``node`` is in (None: the module), found by position: the
    innermost one whose body spans it, and the innermost one spanning it at all. They differ
    for a node in a header (decorators, defaults, bases), which a caller should treat as
    being in either scope."""
    at = _pos(node)
    spans, starts = _spans(scan)
    i = bisect.bisect_right(starts, at)
    full: ast.AST | None = None
    while i > 0:
        i -= 1
        _, body_start, end, container = spans[i]
        if end < at:
            continue
        if full is None:
            full = container
        if body_start <= at:
            return container, full
    return None, full


def _first_param(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> str | None:
    ordered = [*fn.args.posonlyargs, *fn.args.args]
    return ordered[0].arg if ordered else None


def _may_resolve_into_module(scan: Scan, facts: FileFacts, dotted: str) -> bool:
    """Can a qualified name of this file start with ``dotted`` (``sklearn.model_selection``)?
    Through an import of it (absolute, or relative with the file's package), or through an
    attribute of an import of its package (``sklearn.model_selection.KFold``)."""
    if scan.imports_any(dotted):
        return True
    top, _, rest = dotted.partition(".")
    if rest and rest.rsplit(".", 1)[-1] in scan.attrs() and _may_resolve_into(scan, facts, top):
        return True
    for imp in scan.of(ast.ImportFrom):
        if not imp.level:
            continue
        mod = absolute_module(imp.module, imp.level, facts.package)
        if mod is None:
            continue
        for full in (mod, *(f"{mod}.{a.name}" for a in imp.names)):
            if full == dotted or full.startswith(dotted + "."):
                return True
    return False


def _sklearn_classes(scan: Scan, facts: FileFacts) -> list[ast.ClassDef]:
    """Classes that may be sklearn estimators (``is_sklearn_estimator_class``)."""
    return _classes_based_on(scan, facts, is_sklearn_base)


def _torch_module_classes(scan: Scan, facts: FileFacts) -> list[ast.ClassDef]:
    """Classes that may be ``nn.Module`` subclasses (``kinds.is_torch_module_class``)."""
    return _classes_based_on(scan, facts, _torch_nn)


def _torch_nn(q: str) -> bool:
    return q.startswith("torch.nn.")


_MODEL_SELECTION = "sklearn.model_selection"
#: splitters that always shuffle (random_state is their only seed)
_ALWAYS_SHUFFLE = frozenset(
    {
        "ShuffleSplit", "StratifiedShuffleSplit", "GroupShuffleSplit", "RepeatedKFold",
        "RepeatedStratifiedKFold",
    }
)  # fmt: skip
#: splitters that shuffle only with shuffle=True
_SHUFFLE_OPTION = frozenset({"KFold", "StratifiedKFold", "GroupKFold"})
_SPLIT_NAMES = frozenset({"train_test_split", *_ALWAYS_SHUFFLE, *_SHUFFLE_OPTION})


def split_callee(qualname: str | None) -> str | None:
    """The sklearn.model_selection function/class a qualified name refers to (also through
    the private ``sklearn.model_selection._split`` module), else None."""
    if qualname is None or not qualname.startswith(_MODEL_SELECTION + "."):
        return None
    parts = qualname.split(".")
    if len(parts) == 3 or (len(parts) == 4 and parts[2].startswith("_")):
        return parts[-1]
    return None


def _literal_bool(node: cst.BaseExpression) -> bool | None:
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    return None


def _ast_true(node: ast.expr) -> bool:
    """The literal ``True`` (libcst's ``Name("True")``)."""
    return isinstance(node, ast.Constant) and node.value is True


class UnseededSplit(Rule):
    """
    ## What it does
    Flags `sklearn.model_selection.train_test_split(...)` without `random_state=` (unless it
    is called with `shuffle=False`), the always-shuffling splitters `ShuffleSplit`,
    `StratifiedShuffleSplit`, `GroupShuffleSplit`, `RepeatedKFold` and
    `RepeatedStratifiedKFold` without `random_state=`, and `KFold`, `StratifiedKFold` or
    `GroupKFold` with `shuffle=True` but without `random_state=`. Calls with `**kwargs` are
    skipped (the seed may be in them).

    ## Why is this bad?
    With `random_state=None` these functions draw from NumPy's global random state, so two
    runs produce different splits. Metric differences between experiments then mix model
    changes with split noise, results cannot be reproduced, and tests built on such splits
    are flaky.

    ## Example
    ```python
    from sklearn.model_selection import KFold, train_test_split

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
    cv = KFold(n_splits=5, shuffle=True)
    ```

    ## Use instead
    ```python
    SEED = 13
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=SEED)
    cv = KFold(n_splits=5, shuffle=True, random_state=SEED)
    ```

    ## Fix safety
    Unsafe: the fix adds `random_state=<name>`, where `<name>` is a parameter of the
    enclosing function or a module-level constant named `random_state`, `seed`,
    `RANDOM_STATE` or `SEED`, and otherwise `random_state=<default-seed>` (option
    `default-seed`, 42). The split becomes fixed, and it is a different split than any
    previous run produced.
    """

    code = "ML506"
    name = "unseeded-split"
    summary = "`train_test_split`/shuffling CV splitters without `random_state`"
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("sklearn",)
    options = (
        Option(
            "default-seed",
            "int",
            42,
            "the random_state= the fix adds when no seed name is in scope",
        ),
    )

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a call that may resolve to train_test_split or a shuffling splitter, without
        # random_state= and **kwargs, and with the shuffle= the rule needs
        for call, quals in _resolved_calls(scan, facts, _SPLIT_NAMES):
            if _double_star(call) or _keyword(call, "random_state") is not None:
                continue
            shuffle = _keyword(call, "shuffle")
            shuffled = shuffle is not None and _ast_true(shuffle.value)
            for q in quals:
                name = split_callee(q)
                if name == "train_test_split":
                    if shuffle is None or shuffled:
                        return True
                elif name in _SHUFFLE_OPTION:
                    if shuffled:
                        return True
                elif name in _ALWAYS_SHUFFLE:
                    return True
        return False

    def visit_Call(self, node: cst.Call) -> None:
        callee = split_callee(self.ctx.qualname(node.func))
        if callee is None:
            return
        if any(a.star == "**" for a in node.args):
            return
        if call_arg(node, "random_state") is not None:
            return
        shuffle = call_arg(node, "shuffle")
        if callee == "train_test_split":
            if shuffle is not None and _literal_bool(shuffle.value) is not True:
                return  # shuffle=False, or a value we cannot read
        elif callee in _SHUFFLE_OPTION:
            if shuffle is None or _literal_bool(shuffle.value) is not True:
                return
        elif callee not in _ALWAYS_SHUFFLE:
            return
        shown = self.ctx.snippet(node.func, 40)
        self.report(
            node,
            f"{shown}(...) shuffles without random_state: every run evaluates on a different "
            "split, so results are not reproducible or comparable",
            self._fix(node),
        )

    # -- the fix ---------------------------------------------------------------------------
    def _seed_expression(self) -> str:
        return seed_expression(self.ctx, int(self.option("default-seed")))

    def _fix(self, call: cst.Call) -> Fix | None:
        if any(a.star for a in call.args):
            return None
        value = self._seed_expression()
        new_arg = cst.Arg(
            value=cst.parse_expression(value),
            keyword=cst.Name("random_state"),
            equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""),
                whitespace_after=cst.SimpleWhitespace(""),
            ),
        )
        args = list(call.args)
        if not args:
            return Fix(FixSafety.UNSAFE, [(call, call.with_changes(args=[new_arg]))])
        last = args[-1]
        if isinstance(last.comma, cst.Comma):
            # a trailing comma (one argument per line): lay the new argument out like the
            # previous ones
            between = args[-2].comma if len(args) >= 2 else cst.MaybeSentinel.DEFAULT
            if not isinstance(between, cst.Comma):
                between = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            args[-1] = last.with_changes(comma=between)
            new_arg = new_arg.with_changes(comma=last.comma)
        else:
            args[-1] = last.with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
                whitespace_after_arg=cst.SimpleWhitespace(""),
            )
            new_arg = new_arg.with_changes(whitespace_after_arg=last.whitespace_after_arg)
        args.append(new_arg)
        return Fix(FixSafety.UNSAFE, [(call, call.with_changes(args=args))])
