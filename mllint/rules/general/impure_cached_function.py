"""ML004 impure-cached-function."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Option, Rule
from mllint.rules.general.lru_cache_method import _decorated_from, _import_locals
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import iter_names_in_target
from mllint.semantics.general_facts import CACHE_DECORATORS, cache_decorator
from mllint.semantics.scopes import Scope
from mllint.semantics.walk import iter_descendants

_IMPURE_CALLS = frozenset(
    {
        "torch.rand", "torch.randn", "torch.randint", "torch.randperm", "torch.normal",
        "torch.bernoulli", "torch.multinomial", "torch.rand_like", "torch.randn_like",
        "torch.randint_like", "time.time", "time.time_ns", "time.perf_counter",
        "time.perf_counter_ns", "time.monotonic", "time.monotonic_ns", "datetime.datetime.now",
        "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
        "uuid.uuid1", "uuid.uuid4", "os.urandom", "builtins.input",
    }
)  # fmt: skip
#: ``random`` module functions that do not draw numbers
_RANDOM_NON_DRAWS = frozenset({"seed", "getstate", "setstate", "Random", "SystemRandom"})
#: legacy ``numpy.random`` functions that draw from the global RandomState
_NUMPY_LEGACY = frozenset(
    {
        "rand", "randn", "random", "random_sample", "ranf", "sample", "normal", "uniform",
        "randint", "random_integers", "choice", "permutation", "shuffle", "bytes", "binomial",
        "poisson", "exponential", "beta", "gamma", "standard_normal", "standard_exponential",
        "standard_gamma", "standard_cauchy", "standard_t", "multivariate_normal", "lognormal",
        "laplace", "logistic", "dirichlet", "multinomial", "chisquare", "geometric", "gumbel",
        "hypergeometric", "logseries", "negative_binomial", "noncentral_chisquare",
        "noncentral_f", "pareto", "power", "rayleigh", "triangular", "vonmises", "wald",
        "weibull", "zipf", "f",
    }
)  # fmt: skip
#: module-level statements whose arms are mutually exclusive
_BRANCHING = (cst.If, cst.Try, cst.TryStar, cst.Match)


class ImpureCachedFunction(Rule):
    """
    ## What it does
    Flags functions decorated with `functools.lru_cache` or `functools.cache` whose own body
    reads a module-level name that is rebound after import (assigned in a function under a
    `global` statement, or bound twice at module level, e.g. `model = None` then
    `model = load()`), or calls a random-number or clock API: `random.*`, the legacy
    `np.random.*` samplers, `np.random.default_rng()` without a seed, `torch.rand*`,
    `time.time()`, `datetime.now()`, `uuid.uuid4()`, `os.urandom`, `secrets.*`, `input()`.

    ## Why is this bad?
    A cache returns whatever the first call computed. If the function depends on a global
    model that is later reloaded (`global model; model = load(new_path)`), every cached key
    keeps returning results of the old model until `cache_clear()` is called; a cached random
    or time-dependent function returns the same "random" value or timestamp forever. Cache only
    pure functions, and put the model or data version into the key.

    Names bound once at module level (constants, a model loaded once at import) and seeded
    generators (`np.random.default_rng(seed)`) are fine.

    ## Example
    ```python
    from functools import lru_cache

    model = None

    def reload(path):
        global model
        model = load_model(path)

    @lru_cache(maxsize=10_000)
    def get_embedding(text: str) -> tuple[float, ...]:
        return tuple(model.encode(text))
    ```

    ## Use instead
    ```python
    @lru_cache(maxsize=10_000)
    def get_embedding(text: str, model_version: str) -> tuple[float, ...]:
        return tuple(MODELS[model_version].encode(text))
    ```

    ## Fix safety
    There is no fix: make the function pure or add the changing state to its arguments.

    ## Options
    - `extend-impure-calls` (list of qualified names, default `[]`): further calls treated
      like a random or clock API, e.g. `["mylib.clock.now"]`.
    """

    code = "ML004"
    name = "impure-cached-function"
    summary = "A cached function reads a global that is rebound, or calls an RNG or a clock"
    tier = 2
    options = (
        Option(
            "extend-impure-calls",
            "list[str]",
            [],
            "Qualified names of further calls whose result changes between calls.",
        ),
    )
    requires_text = ("cache",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a function with a decorator rooted at a name an import binds to functools (or its
        # cache functions)
        bound = _import_locals(scan, facts, CACHE_DECORATORS)
        return bool(bound) and any(_decorated_from(fn, bound) for fn in scan.functions())

    _rebound: dict[str, str] | None = None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not node.decorators or cache_decorator(self.ctx, node, self.ctx.scope) is None:
            return
        fscope = self.ctx.model.scope_for(node)
        if fscope is None:
            return
        fname = node.name.value
        reported: set[str] = set()
        probe = _returns_only_bools(node)
        for sub in _own_nodes(node.body):
            if isinstance(sub, cst.Call) and not probe:
                api = self._impure_call(sub, fscope)
                if api is not None:
                    self.report(
                        sub,
                        f"Cached function '{fname}' calls {api}: the cache returns stale or "
                        "frozen values",
                    )
            elif isinstance(sub, cst.Name) and sub.value not in reported:
                where = self._rebound_global(sub.value, fscope, fname)
                if where is not None:
                    reported.add(sub.value)
                    self.report(
                        sub,
                        f"Cached function '{fname}' reads global '{sub.value}', which is "
                        f"rebound {where}: the cache returns stale or frozen values",
                    )

    # -- (b) random / clock calls ------------------------------------------------------------
    def _impure_call(self, call: cst.Call, scope: Scope) -> str | None:
        q = self.ctx.qualname_in(call.func, scope)
        if q is None:
            return None
        mod, _, last = q.rpartition(".")
        if mod == "torch" and any(
            a.keyword is not None and a.keyword.value == "generator" for a in call.args
        ):
            return None  # an explicit (seeded) generator
        impure = (
            q in _IMPURE_CALLS
            or q in self.option("extend-impure-calls")
            or (mod == "random" and last not in _RANDOM_NON_DRAWS and not last.startswith("_"))
            or (mod == "numpy.random" and last in _NUMPY_LEGACY)
            or mod == "secrets"
            or (q == "numpy.random.default_rng" and _unseeded(call))
        )
        return f"{q.removeprefix('builtins.')}()" if impure else None

    # -- (a) rebound globals -------------------------------------------------------------------
    def _rebound_global(self, name: str, scope: Scope, fname: str) -> str | None:
        bindings = self.ctx.model.lookup(name, scope)
        if not bindings or any(b.scope is None or b.scope.kind != "module" for b in bindings):
            return None
        found = self._rebound_names().get(name)
        return found if found is not None else self._module_rebound(name, fname)

    def _rebound_names(self) -> dict[str, str]:
        """name -> where it is rebound ("in 'reload'" / "at line 12")."""
        if self._rebound is not None:
            return self._rebound
        found: dict[str, str] = {}
        # `global g` + an assignment to g in some function
        for info in self.ctx.model.functions.values():
            scope = info.scope
            if not scope.globals:
                continue
            for sub in iter_descendants(info.node.body, into_scopes=False):
                for target in _assigned_names(sub):
                    if target.value in scope.globals and target.value not in found:
                        found[target.value] = f"in '{info.node.name.value}'"
        # module-level rebinding: judged per cached function (see _module_rebound)
        self._module_binds = {}
        excluded: set[str] = set()
        _module_bindings(self.ctx.module.body, (), self._module_binds, excluded)
        for name in excluded:
            self._module_binds.pop(name, None)
        self._rebound = found
        return found

    _module_binds: dict[str, list[tuple[cst.CSTNode, _Path, int]]]
    _calls: dict[str, list[int]] | None = None

    def _module_rebound(self, name: str, fname: str) -> str | None:
        """``name`` is bound at module level, the cached function is called at module level
        (import time), and ``name`` is bound again after that call: the cache may hold
        values computed with the old binding."""
        binds = self._module_binds.get(name)
        if not binds or len(binds) < 2 or name.startswith("__"):
            return None
        calls = self._module_calls().get(fname)
        if not calls:
            return None
        for i in range(1, len(binds)):
            node, path, top = binds[i]
            if not any(_sequential(p, path) for _, p, _ in binds[:i]):
                continue
            if any(binds[0][2] <= c < top for c in calls):
                return f"at line {self._line(node)}"
        return None

    def _module_calls(self) -> dict[str, list[int]]:
        """Top-level statement indices where a name is called at import time."""
        if self._calls is None:
            self._calls = {}
            for index, stmt in enumerate(self.ctx.module.body):
                if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                    continue
                for sub in iter_descendants(stmt, into_scopes=False):
                    if isinstance(sub, cst.Call) and isinstance(sub.func, cst.Name):
                        self._calls.setdefault(sub.func.value, []).append(index)
        return self._calls

    def _line(self, node: cst.CSTNode) -> int:
        from mllint.positions import LineIndex, node_offsets

        offsets = node_offsets(self.ctx.module, [node])
        if id(node) not in offsets:
            return 0
        return LineIndex(self.ctx.source).position(offsets[id(node)][0])[0]


def _returns_only_bools(node: cst.FunctionDef) -> bool:
    """A capability probe (``try: torch.randn(2) @ ...; return True / except: return
    False``): the drawn values never reach the result."""
    values = [
        sub.value
        for sub in iter_descendants(node.body, into_scopes=False)
        if isinstance(sub, cst.Return)
    ]
    return bool(values) and all(
        isinstance(v, cst.Name) and v.value in ("True", "False") for v in values
    )


def _unseeded(call: cst.Call) -> bool:
    if not call.args:
        return True
    first = call.args[0]
    return (
        len(call.args) == 1
        and first.keyword in (None,)
        and isinstance(first.value, cst.Name)
        and first.value.value == "None"
    )


def _own_nodes(body: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Nodes of a function body (nested defs, lambdas and classes excluded) that can read a
    name: Name nodes in load position and calls."""
    skip: set[int] = set()
    for sub in iter_descendants(body, into_scopes=False):
        if id(sub) in skip:
            continue
        if isinstance(sub, (cst.FunctionDef, cst.ClassDef)):
            skip.add(id(sub.name))
            continue
        if isinstance(sub, cst.Lambda):
            continue
        if isinstance(sub, cst.Attribute):
            skip.add(id(sub.attr))
        elif isinstance(sub, cst.Arg) and sub.keyword is not None:
            skip.add(id(sub.keyword))
        elif isinstance(sub, (cst.AssignTarget, cst.For, cst.CompFor)):
            skip.update(id(n) for n in iter_names_in_target(sub.target))
        elif (isinstance(sub, cst.AnnAssign) and isinstance(sub.target, cst.Name)) or (
            isinstance(sub, cst.NamedExpr) and isinstance(sub.target, cst.Name)
        ):
            skip.add(id(sub.target))
        elif isinstance(sub, cst.AsName) and isinstance(sub.name, cst.BaseExpression):
            skip.update(id(n) for n in iter_names_in_target(sub.name))
        elif isinstance(sub, (cst.Global, cst.Nonlocal)):
            skip.update(id(n.name) for n in sub.names)
        elif isinstance(sub, (cst.Import, cst.ImportFrom)):
            for n in iter_descendants(sub):
                skip.add(id(n))
        elif isinstance(sub, cst.Del):
            skip.update(id(n) for n in iter_names_in_target(sub.target))
        if isinstance(sub, (cst.Name, cst.Call)):
            yield sub


def _assigned_names(node: cst.CSTNode) -> Iterator[cst.Name]:
    """The names a statement (or ``:=``) binds."""
    if isinstance(node, cst.Assign):
        for t in node.targets:
            yield from iter_names_in_target(t.target)
    elif isinstance(node, (cst.AnnAssign, cst.AugAssign)) and isinstance(node.target, cst.Name):
        if not isinstance(node, cst.AnnAssign) or node.value is not None:
            yield node.target
    elif isinstance(node, cst.For):
        yield from iter_names_in_target(node.target)
    elif isinstance(node, cst.With):
        for item in node.items:
            if item.asname is not None and isinstance(item.asname.name, cst.BaseExpression):
                yield from iter_names_in_target(item.asname.name)
    elif isinstance(node, cst.NamedExpr) and isinstance(node.target, cst.Name):
        yield node.target


_Path = tuple[tuple[int, int], ...]


def _module_bindings(
    body: list[cst.CSTNode] | tuple[cst.CSTNode, ...] | object,
    path: _Path,
    out: dict[str, list[tuple[cst.CSTNode, _Path, int]]],
    excluded: set[str],
    top: int = -1,
) -> None:
    """Module-level assignment statements per name, with their branch path (id of the
    branching statement, arm index). Names also bound by import/def/class are excluded
    (``try: import x`` / ``except ImportError: x = None``)."""
    stmts = body if isinstance(body, (list, tuple)) else []
    for index, stmt in enumerate(stmts):
        at = index if top < 0 else top
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    if isinstance(small.names, cst.ImportStar):
                        continue
                    for alias in small.names:
                        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                            excluded.add(alias.asname.name.value)
                        else:
                            n = alias.name
                            while isinstance(n, cst.Attribute):
                                n = n.value  # type: ignore[assignment]
                            if isinstance(n, cst.Name):
                                excluded.add(n.value)
                    continue
                for name in _assigned_names(small):
                    out.setdefault(name.value, []).append((name, path, at))
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            excluded.add(stmt.name.value)
        elif isinstance(stmt, cst.If):
            arm = 0
            cur: cst.CSTNode | None = stmt
            while isinstance(cur, cst.If):
                _module_bindings(_suite_body(cur.body), (*path, (id(stmt), arm)), out, excluded, at)
                arm += 1
                orelse = cur.orelse
                if isinstance(orelse, cst.Else):
                    _module_bindings(
                        _suite_body(orelse.body), (*path, (id(stmt), arm)), out, excluded, at
                    )
                    break
                cur = orelse
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            _module_bindings(_suite_body(stmt.body), (*path, (id(stmt), 0)), out, excluded, at)
            handlers: list[cst.ExceptHandler | cst.ExceptStarHandler] = list(stmt.handlers)
            for i, handler in enumerate(handlers, start=1):
                _module_bindings(
                    _suite_body(handler.body), (*path, (id(stmt), i)), out, excluded, at
                )
            if stmt.orelse is not None:
                _module_bindings(
                    _suite_body(stmt.orelse.body), (*path, (id(stmt), 0)), out, excluded, at
                )
            if stmt.finalbody is not None:
                _module_bindings(_suite_body(stmt.finalbody.body), path, out, excluded, at)
        elif isinstance(stmt, cst.Match):
            for i, case in enumerate(stmt.cases):
                _module_bindings(_suite_body(case.body), (*path, (id(stmt), i)), out, excluded, at)
        elif isinstance(stmt, (cst.With, cst.For, cst.While)):
            for name in _assigned_names(stmt):
                out.setdefault(name.value, []).append((name, path, at))
            _module_bindings(_suite_body(stmt.body), path, out, excluded, at)


def _suite_body(suite: cst.BaseSuite) -> list[cst.CSTNode]:
    if isinstance(suite, cst.IndentedBlock):
        return list(suite.body)
    return (
        [cst.SimpleStatementLine(body=list(suite.body))]
        if isinstance(suite, cst.SimpleStatementSuite)
        else []
    )


def _sequential(a: tuple[tuple[int, int], ...], b: tuple[tuple[int, int], ...]) -> bool:
    """Two bindings can both run: they are not in different arms of the same branch."""
    arms_a = dict(a)
    return all(arms_a.get(stmt, arm) == arm for stmt, arm in b)
