"""ML509 unseeded-random-in-tests."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, qualified_names
from mllint.rule import Rule
from mllint.rules.sklearn.unseeded_split import (
    _keyword,
    _resolved_calls,
)
from mllint.semantics import project_index
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import has_keyword

#: generator constructors that must be given a seed
_GENERATORS = frozenset({"numpy.random.default_rng", "numpy.random.RandomState", "random.Random"})
_TORCH_GENERATOR = "torch.Generator"
#: samplers that draw from a global random state
_LEGACY = frozenset(
    {
        *(
            f"numpy.random.{n}"
            for n in (
                "rand", "randn", "randint", "random", "random_sample", "choice", "normal",
                "uniform", "permutation", "shuffle", "binomial", "poisson",
            )
        ),
        *(
            f"random.{n}"
            for n in ("random", "randint", "choice", "choices", "shuffle", "sample", "uniform", "gauss")
        ),
    }
)  # fmt: skip
_TORCH_SAMPLERS = frozenset(
    f"torch.{n}" for n in ("rand", "randn", "randint", "randperm", "normal")
)
_FIXTURES = frozenset({"pytest.fixture", "pytest.yield_fixture"})
#: the last names of the calls above
_GENERATOR_NAMES = frozenset(q.rsplit(".", 1)[-1] for q in (*_GENERATORS, _TORCH_GENERATOR))
_SAMPLER_NAMES = frozenset(q.rsplit(".", 1)[-1] for q in (*_LEGACY, *_TORCH_SAMPLERS))


def _conftest_seeds(facts: FileFacts) -> bool:
    """A ``conftest.py`` of the file's chain seeds the global generators (what
    :meth:`UnseededRandomInTests.finish` reads; cached by :mod:`project_index`)."""
    located = project_index.locate(facts.path, facts.abspath)
    return located is not None and any(f.seeds for f in project_index.conftest_chain(located))


def _surely_seeds(scan: Scan, facts: FileFacts) -> bool:
    """The module calls something that certainly resolves to a seeding call (every import
    binding of its root name makes it one, and the name is bound by nothing else)."""
    wanted = {n for n in scan.called() if "seed" in n.lower()}
    if not wanted:
        return False
    bindings = scan.import_bindings(facts.package)
    bound: set[str] | None = None
    top: set[str] = set()
    for call in scan.calls(*wanted):
        quals = qualified_names(call.func, bindings)
        if not quals or not all(project_index.is_seeding_call(q) for q in quals):
            continue
        if bound is None:
            bound = _non_import_bound(scan)
            top = _top_level_imports(scan)
        root = call.func
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and root.id in top and root.id not in bound:
            return True
    return False


def _top_level_imports(scan: Scan) -> set[str]:
    """Names bound by import statements of the module's top level (visible everywhere)."""
    out: set[str] = set()
    for stmt in scan.tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                if alias.name != "*":
                    out.add(alias.asname or alias.name.split(".", 1)[0])
    return out


def _non_import_bound(scan: Scan) -> set[str]:
    """Every name something other than an import binds anywhere in the file."""
    out = {n.id for n in scan.of(ast.Name) if not isinstance(n.ctx, ast.Load)}
    out.update(a.arg for a in scan.of(ast.arg))
    out.update(d.name for d in scan.of(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    out.update(h.name for h in scan.of(ast.ExceptHandler) if h.name)
    out.update(m.name for m in scan.of(ast.MatchAs, ast.MatchStar) if m.name)
    out.update(m.rest for m in scan.of(ast.MatchMapping) if m.rest)
    for g in scan.of(ast.Global, ast.Nonlocal):
        out.update(g.names)
    return out


class UnseededRandomInTests(Rule):
    """
    ## What it does
    In test files (the `test-paths` globs), flags
    (a) `np.random.default_rng()`, `np.random.RandomState()` and `random.Random()` called
    without a seed, and `torch.Generator()` whose result is never `.manual_seed(...)`-ed in the
    same scope; and (b) calls to the legacy global samplers (`np.random.rand/randn/randint/
    random/random_sample/choice/normal/uniform/permutation/shuffle/binomial/poisson`,
    `random.random/randint/choice/choices/shuffle/sample/uniform/gauss`, and
    `torch.rand/randn/randint/randperm/normal` without `generator=`) when neither the test
    module nor any `conftest.py` in its directory chain (up to the pytest root directory)
    seeds the global generators (`np.random.seed`, `random.seed`, `torch.manual_seed`,
    `seed_everything`, `transformers.set_seed`, or any imported `set_seed`/
    `seed_everything`/`manual_seed` helper such as `accelerate.utils.set_seed`) or defines a fixture whose name contains
    `seed`.

    ## Why is this bad?
    A test that fails only for some random draws cannot be reproduced or bisected: the next
    run draws different data and passes. With a seeded `Generator` the failing input is the
    same on every run.

    ## Example
    ```python
    def test_scaler_centres_data():
        X = np.random.default_rng().normal(size=(100, 4))
        assert np.allclose(StandardScaler().fit_transform(X).mean(axis=0), 0)
    ```

    ## Use instead
    ```python
    def test_scaler_centres_data():
        X = np.random.default_rng(0).normal(size=(100, 4))
        assert np.allclose(StandardScaler().fit_transform(X).mean(axis=0), 0)
    ```

    Plugins such as pytest-randomly reseed the global generators before every test; with
    them part (b) can be switched off for the test paths with `per-file-ignores`.

    ## Fix safety
    There is no fix: choosing the seed changes the data the test runs on.
    """

    code = "ML509"
    name = "unseeded-random-in-tests"
    summary = "Tests draw random data from an unseeded generator"
    tier = 3
    requires_text = ("random", "rand", "Generator", "normal")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a test file with a call that may resolve to torch.Generator, to a generator
        # constructor without arguments, or to a global sampler (torch's without generator=)
        # when neither the module surely nor a conftest.py of its chain seeds the generators
        if not facts.is_test:
            return False
        legacy: bool | None = None
        for call, quals in _resolved_calls(scan, facts, _SAMPLER_NAMES | _GENERATOR_NAMES):
            for q in quals:
                if q == _TORCH_GENERATOR:
                    return True
                if q in _GENERATORS:
                    if not call.args and not call.keywords:
                        return True
                elif q in _LEGACY or (q in _TORCH_SAMPLERS and _keyword(call, "generator") is None):
                    if legacy is None:
                        legacy = not _conftest_seeds(facts) and not _surely_seeds(scan, facts)
                    if legacy:
                        return True
        return False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._seeded = False
        self._legacy: list[cst.Call] = []
        #: torch.Generator() results by (id(scope), name)
        self._generators: dict[tuple[int, str], cst.Call] = {}
        self._seeded_generators: set[tuple[int, str]] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if "seed" not in node.name.value.lower():
            return
        for dec in node.decorators:
            expr = dec.decorator
            if isinstance(expr, cst.Call):
                expr = expr.func
            if self.ctx.qualname(expr) in _FIXTURES:
                self._seeded = True

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        if not ctx.facts.is_test:
            return
        q = ctx.qualname(node.func)
        if q is None:
            func = node.func
            if isinstance(func, cst.Attribute) and func.attr.value == "manual_seed":
                recv = func.value
                if isinstance(recv, cst.Name):
                    self._seeded_generators.add((id(ctx.scope), recv.value))
            return
        if project_index.is_seeding_call(q):
            self._seeded = True
            return
        if q in _GENERATORS:
            if not node.args:
                self._report(node)
            return
        if q == _TORCH_GENERATOR:
            self._torch_generator(node)
            return
        if q in _LEGACY or (q in _TORCH_SAMPLERS and not has_keyword(node, "generator")):
            self._legacy.append(node)

    def _torch_generator(self, node: cst.Call) -> None:
        ctx = self.ctx
        parent = ctx.parent
        if isinstance(parent, cst.Attribute) and parent.attr.value == "manual_seed":
            return  # torch.Generator().manual_seed(0)
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
            target = parent.targets[0].target
            if isinstance(target, cst.Name):
                self._generators[(id(ctx.scope), target.value)] = node
                return
        self._report(node)

    def _report(self, node: cst.Call) -> None:
        shown = self.ctx.snippet(node, 50)
        self.report(
            node,
            f"Unseeded random data in a test ({shown}): failures are not reproducible — use "
            "np.random.default_rng(<seed>) (or seed torch/random in a fixture)",
        )

    def finish(self) -> None:
        if not self.ctx.facts.is_test:
            return
        for key, node in self._generators.items():
            if key not in self._seeded_generators:
                self._report(node)
        if not self._legacy or self._seeded:
            return
        located = project_index.locate(self.ctx.facts.path, self.ctx.facts.abspath)
        if located is not None and any(f.seeds for f in project_index.conftest_chain(located)):
            return
        for node in self._legacy:
            self._report(node)
