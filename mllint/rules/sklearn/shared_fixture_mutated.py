"""ML510 shared-fixture-mutated."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics import kinds as K
from mllint.semantics import project_index
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import (
    block_indents,
    code_in_block,
    iter_names_in_target,
    string_value,
)
from mllint.semantics.scopes import all_params
from mllint.semantics.walk import iter_descendants

_FIXTURES = frozenset({"pytest.fixture", "pytest.yield_fixture"})
_MUTATING_METHODS = frozenset(
    {
        "append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "sort",
        "fill", "fit", "partial_fit", "set_params",
    }
)  # fmt: skip
_COPYABLE = frozenset({K.DATAFRAME, K.SERIES, K.NDARRAY, K.LIST, K.DICT})


def _root(expr: cst.CSTNode) -> str | None:
    """``p`` for ``p``, ``p[...]``, ``p.a``, ``p.loc[...]``, ``p.a.b[...]``."""
    while isinstance(expr, (cst.Subscript, cst.Attribute)):
        expr = expr.value
    return expr.value if isinstance(expr, cst.Name) else None


def _ast_shared_fixtures(scan: Scan, facts: FileFacts) -> set[str]:
    """Names that may be shared fixtures for this test module: module-level functions with a
    decorator call passing a shared ``scope=`` string (under their name or ``name=``), and the
    shared fixtures of the conftest.py chain (what :meth:`SharedFixtureMutated._fixtures`
    reads; cached by :mod:`project_index`)."""
    out: set[str] = set()
    for stmt in scan.tree.body:
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for dec in stmt.decorator_list:
            if not isinstance(dec, ast.Call):
                continue
            scope = _keyword_string(dec, "scope")
            if scope in project_index.SHARED_SCOPES:
                out.add(stmt.name)
                name = _keyword_string(dec, "name")
                if name is not None:
                    out.add(name)
    located = project_index.locate(facts.path, facts.abspath)
    if located is not None:
        chain = project_index.conftest_chain(located)
        out.update(n for n, fx in project_index.visible_fixtures(chain).items() if fx is not None)
    return out


def _keyword_string(call: ast.Call, name: str) -> str | None:
    for k in call.keywords:
        if k.arg == name and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str):
            return k.value.value
    return None


def _ast_root(expr: ast.AST) -> str | None:
    """:func:`_root` on ast nodes."""
    while isinstance(expr, (ast.Subscript, ast.Attribute)):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _is_true(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


class SharedFixtureMutated(Rule):
    """
    ## What it does
    Builds an index of the pytest fixtures with `scope="session"`, `"module"`, `"package"` or
    `"class"` (`@pytest.fixture(scope=...)`, also `pytest.fixture(scope=...)(func)`) defined in
    the test module and in the `conftest.py` files of its directory chain (nearest definition
    wins). In a test function, or a function-scoped fixture, with a parameter named after such
    a fixture, flags in-place mutation of that parameter before it is rebound:
    `p[...] = ...`, `p.<attr> = ...`, `del p[...]`, `p op= ...`, `p.loc/iloc/at/iat[...] =
    ...`, method calls with `inplace=True`, and `p.<m>(...)` for m in `append`, `extend`,
    `insert`, `pop`, `remove`, `clear`, `update`, `setdefault`, `sort`, `fill`, `fit`,
    `partial_fit`, `set_params`. Read-only use (`p.predict(X)`, `p.transform(X)`) and
    mutations after `p = p.copy()` or any other rebinding are not flagged.

    ## Why is this bad?
    A shared fixture is created once and handed to many tests. One test adding a column,
    appending to a list or re-fitting a model changes the input of every later test, so
    results depend on test order, `-k` selection and pytest-xdist scheduling.

    ## Example
    ```python
    @pytest.fixture(scope="session")
    def sample_df():
        return pd.DataFrame({"age": [20, 30], "income": [1.0, 2.0]})

    def test_adds_ratio(sample_df):
        sample_df["ratio"] = sample_df["income"] / sample_df["age"]
        assert sample_df["ratio"].notna().all()
    ```

    ## Use instead
    ```python
    def test_adds_ratio(sample_df):
        df = sample_df.copy()
        df["ratio"] = df["income"] / df["age"]
        assert df["ratio"].notna().all()
    ```

    ## Fix safety
    Unsafe: when the fixture visibly returns a DataFrame, Series, ndarray, list or dict, the
    fix inserts `<p> = <p>.copy()` as the first statement of the test; for a fitted estimator
    it inserts `<p> = copy.deepcopy(<p>)` (adding `import copy`). Each test then pays for a
    copy, and a test that intended to share state behaves differently. No fix when what the
    fixture returns is unknown.
    """

    code = "ML510"
    name = "shared-fixture-mutated"
    summary = "A test mutates a module/session-scoped fixture (order-dependent tests)"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("def test", "fixture")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a test file where a parameter of a test function (`test*`) or of a decorated
        # function (a fixture) is the root of an assignment/augmented assignment/del target,
        # of a mutating method call or of a call with inplace=, and is named like a shared
        # fixture of the module or of the conftest.py chain
        if not facts.is_test:
            return False
        params: set[str] = set()
        for fn in scan.functions():
            if fn.name.startswith("test") or fn.decorator_list:
                a = fn.args
                params.update(x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs))
                params.update(x.arg for x in (a.vararg, a.kwarg) if x is not None)
        if not params:
            return False
        roots: set[str | None] = set()
        for assign in scan.of(ast.Assign):
            roots.update(
                _ast_root(t)
                for t in assign.targets
                if isinstance(t, (ast.Subscript, ast.Attribute))
            )
        roots.update(_ast_root(other.target) for other in scan.of(ast.AnnAssign, ast.AugAssign))
        for dele in scan.of(ast.Delete):
            for t in dele.targets:
                elements = t.elts if isinstance(t, (ast.Tuple, ast.List)) else [t]
                roots.update(_ast_root(e) for e in elements)
        for call in scan.of(ast.Call):
            func = call.func
            if isinstance(func, ast.Attribute) and (
                func.attr in _MUTATING_METHODS or any(k.arg == "inplace" for k in call.keywords)
            ):
                roots.add(_ast_root(func.value))
        mutated = {r for r in roots if r is not None} & params
        return bool(mutated) and not mutated.isdisjoint(_ast_shared_fixtures(scan, facts))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._local: dict[str, project_index.SharedFixture | None] | None = None
        self._visible: dict[str, project_index.SharedFixture | None] | None = None

    # -- the fixture index -------------------------------------------------------------------
    def _fixture_decorator(self, func: cst.FunctionDef) -> tuple[bool, str, str | None]:
        for dec in func.decorators:
            expr = dec.decorator
            call = expr if isinstance(expr, cst.Call) else None
            if self.ctx.qualname(call.func if call else expr) not in _FIXTURES:
                continue
            scope, name = "function", None
            for arg in call.args if call else ():
                if arg.keyword is None:
                    continue
                value = string_value(arg.value)
                if arg.keyword.value == "scope":
                    scope = value if value is not None else "dynamic"
                elif arg.keyword.value == "name" and value is not None:
                    name = value
            return True, scope, name
        return False, "function", None

    def visit_Module(self, node: cst.Module) -> None:
        if not self.ctx.facts.is_test:
            return
        local: dict[str, project_index.SharedFixture | None] = {}
        for stmt in node.body:
            if not isinstance(stmt, cst.FunctionDef):
                continue
            is_fixture, scope, name = self._fixture_decorator(stmt)
            if not is_fixture:
                continue
            fname = name or stmt.name.value
            if scope in project_index.SHARED_SCOPES:
                local[fname] = project_index.SharedFixture(
                    fname, scope, self._returned_kind(stmt), self.ctx.facts.path
                )
            else:
                local[fname] = None
        self._local = local

    def _returned_kind(self, func: cst.FunctionDef) -> str | None:
        scope = self.ctx.model.scope_for(func)
        if scope is None:
            return None
        kinds: set[str | None] = set()
        for sub in iter_descendants(func.body, into_scopes=False):
            value: cst.BaseExpression | None = None
            if isinstance(sub, (cst.Return, cst.Yield)):
                value = sub.value if not isinstance(sub.value, cst.From) else None
                if value is None:
                    continue
                kind = self.ctx.kinds.of(value, scope)
                if (
                    kind is None
                    and isinstance(value, cst.Call)
                    and isinstance(value.func, cst.Attribute)
                    and value.func.attr.value == "fit"
                    and self.ctx.kinds.of(value.func.value, scope) == K.ESTIMATOR
                ):
                    kind = K.ESTIMATOR
                kinds.add(kind)
        return kinds.pop() if len(kinds) == 1 else None

    def _fixtures(self) -> dict[str, project_index.SharedFixture | None]:
        if self._visible is None:
            visible: dict[str, project_index.SharedFixture | None] = {}
            located = project_index.locate(self.ctx.facts.path, self.ctx.facts.abspath)
            if located is not None:
                visible.update(
                    project_index.visible_fixtures(project_index.conftest_chain(located))
                )
            visible.update(self._local or {})
            self._visible = visible
        return self._visible

    # -- tests -----------------------------------------------------------------------------------
    def _is_test_function(self, node: cst.FunctionDef) -> bool:
        scope = self.ctx.scope
        if node.name.value.startswith("test"):
            if scope.kind == "module":
                return True
            cls = scope.class_info
            return scope.kind == "class" and cls is not None and cls.name.startswith("Test")
        if scope.kind in ("module", "class"):
            is_fixture, fscope, _ = self._fixture_decorator(node)
            return is_fixture and fscope == "function"
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not self.ctx.facts.is_test or not self._is_test_function(node):
            return
        params = [p.name.value for p in all_params(node.params)]
        if not params:
            return
        fixtures = self._fixtures()
        for p in params:
            fx = fixtures.get(p)
            if fx is None:
                continue
            mutations = self._mutations(node, p)
            if not mutations:
                continue
            fix = self._fix(node, p, fx.kind)
            hint = f"{p} = copy.deepcopy({p})" if fx.kind == K.ESTIMATOR else f"{p} = {p}.copy()"
            for m in mutations:
                self.report(
                    m,
                    f"'{p}' is the {fx.scope}-scoped fixture '{fx.name}'; mutating it here leaks "
                    f"into every later test — copy it ({hint}) or make the fixture "
                    "function-scoped",
                    fix,
                )

    def _mutations(self, func: cst.FunctionDef, p: str) -> list[cst.CSTNode]:
        found: list[cst.CSTNode] = []
        for sub in iter_descendants(func.body, into_scopes=False):
            if isinstance(sub, (cst.Assign, cst.AnnAssign)):
                targets = (
                    [t.target for t in sub.targets] if isinstance(sub, cst.Assign) else [sub.target]
                )
                if any(
                    isinstance(t, (cst.Name, cst.Tuple, cst.List))
                    and p in {n.value for n in iter_names_in_target(t)}
                    for t in targets
                ):
                    break  # rebound: later uses are of another object
                found.extend(
                    t
                    for t in targets
                    if isinstance(t, (cst.Subscript, cst.Attribute)) and _root(t) == p
                )
            elif isinstance(sub, cst.AugAssign):
                if _root(sub.target) == p:
                    found.append(sub.target)
            elif isinstance(sub, cst.Del):
                target = sub.target
                elements = (
                    [e.value for e in target.elements]
                    if isinstance(target, (cst.Tuple, cst.List))
                    else [target]
                )
                found.extend(
                    t
                    for t in elements
                    if isinstance(t, (cst.Subscript, cst.Attribute)) and _root(t) == p
                )
            elif isinstance(sub, (cst.For, cst.With)):
                names: set[str] = set()
                if isinstance(sub, cst.For):
                    names = {n.value for n in iter_names_in_target(sub.target)}
                else:
                    for item in sub.items:
                        if item.asname is not None:
                            names |= {n.value for n in iter_names_in_target(item.asname.name)}
                if p in names:
                    break
            elif isinstance(sub, cst.Call) and isinstance(sub.func, cst.Attribute):
                if _root(sub.func.value) != p:
                    continue
                if sub.func.attr.value in _MUTATING_METHODS or any(
                    a.keyword is not None and a.keyword.value == "inplace" and _is_true(a.value)
                    for a in sub.args
                ):
                    found.append(sub)
        return found

    # -- the fix ---------------------------------------------------------------------------------
    def _fix(self, func: cst.FunctionDef, p: str, kind: str | None) -> Fix | None:
        ctx = self.ctx
        body = func.body
        if not isinstance(body, cst.IndentedBlock) or not body.body:
            return None
        imports = []
        if kind in _COPYABLE:
            text = f"{p} = {p}.copy()\n"
        elif kind == K.ESTIMATOR:
            plan = ctx.import_name("copy")
            if plan is None:
                return None
            imports.append(plan)
            text = f"{p} = {plan.local}.deepcopy({p})\n"
        else:
            return None
        stmts = list(body.body)
        first = 0
        if _is_docstring(stmts[0]):
            first = 1
        if first >= len(stmts):
            return None
        anchor = stmts[first]
        indents = block_indents(ctx.module, [*ctx.stack[:-1], body])
        new_stmt = cst.parse_statement(text)
        rendered = code_in_block(ctx.module, new_stmt, indents) + code_in_block(
            ctx.module, anchor, indents
        )
        return Fix(FixSafety.UNSAFE, [(anchor, rendered)], imports)


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )
