"""The per-run project index of RULES.md §0.4 for rules that read ``conftest.py`` files up the
directory chain of a test module (ML509 unseeded-random-in-tests, ML510 shared-fixture-mutated).

Built lazily and cached per process: one :class:`ConftestFacts` per ``conftest.py`` (keyed by
its absolute path, re-read when its size or modification time changes) and one chain per
directory. ``conftest.py`` files are decoded like every checked file
(:func:`mllint.runner.read_source`) and parsed with :mod:`ast`; a file that cannot be read or
parsed contributes nothing.

The chain of a test file runs from its own directory up to the pytest root directory: the
first ancestor holding ``pytest.ini``, ``pyproject.toml``, ``tox.ini``, ``setup.cfg`` or
``.git`` (inclusive), as pytest does not load ``conftest.py`` files above its rootdir.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

#: calls that seed the global random generators tests draw from
SEEDING_CALLS = frozenset(
    {
        "numpy.random.seed",
        "random.seed",
        "torch.manual_seed",
        "torch.random.manual_seed",
        "torch.cuda.manual_seed_all",
        "lightning.seed_everything",
        "lightning.pytorch.seed_everything",
        "lightning.fabric.seed_everything",
        "pytorch_lightning.seed_everything",
        "lightning_fabric.seed_everything",
        "transformers.set_seed",
        "tensorflow.random.set_seed",
        "keras.utils.set_random_seed",
    }
)
#: seeding helpers of other libraries (``accelerate.utils.set_seed``, ...), by last name
_SEEDING_NAMES = frozenset({"set_seed", "seed_everything", "manual_seed", "set_random_seed"})


def is_seeding_call(qualname: str | None) -> bool:
    """A call that seeds global random generators (an imported ``*.set_seed`` and the like
    count too)."""
    if qualname is None:
        return False
    return qualname in SEEDING_CALLS or (
        "." in qualname
        and not qualname.startswith("builtins.")
        and qualname.rsplit(".", 1)[-1] in _SEEDING_NAMES
    )


SHARED_SCOPES = frozenset({"session", "module", "package", "class"})
_ROOT_MARKERS = ("pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", ".git")
_FIXTURE_DECORATORS = frozenset({"pytest.fixture", "pytest.yield_fixture"})


@dataclass(frozen=True)
class SharedFixture:
    """A fixture with a scope wider than a test function."""

    name: str
    scope: str
    #: what the fixture returns, when it is clear: DataFrame, Series, ndarray, list, dict,
    #: Estimator (None: unknown)
    kind: str | None
    conftest: str


@dataclass(frozen=True)
class ConftestFacts:
    path: str
    #: contains a seeding call, or defines a fixture whose name contains "seed"
    seeds: bool = False
    #: every fixture defined in the file: name -> SharedFixture, or None for a fixture with
    #: function scope (it hides a shared fixture of the same name from a conftest further up)
    fixtures: Mapping[str, SharedFixture | None] = field(default_factory=dict)


_FILES: dict[str, tuple[tuple[int, int], ConftestFacts]] = {}
_CHAINS: dict[str, tuple[str, ...]] = {}


def clear_cache() -> None:
    _FILES.clear()
    _CHAINS.clear()


def locate(path: str, abspath: str | None = None) -> str | None:
    """The absolute path of the checked file on disk, or None when it cannot be found (a
    source checked from memory). ``path`` is the path the engine knows the file by (relative
    to the project root or to the current directory)."""
    if abspath and os.path.isfile(abspath):
        return os.path.abspath(abspath)
    if os.path.isabs(path):
        return path if os.path.isfile(path) else None
    cwd = os.getcwd()
    candidates = [os.path.join(cwd, path)]
    parent = os.path.dirname(cwd)
    while parent and parent != cwd:
        candidates.append(os.path.join(parent, path))
        cwd, parent = parent, os.path.dirname(parent)
    candidates.append("/" + path)  # a file outside the project root
    for c in candidates:
        if os.path.isfile(c):
            return os.path.abspath(c)
    return None


def chain_paths(file_abspath: str) -> tuple[str, ...]:
    """The ``conftest.py`` paths from the file's directory up to the pytest root, nearest
    first (no parsing: the result cache keys on them)."""
    directory = os.path.dirname(file_abspath)
    paths = _CHAINS.get(directory)
    if paths is None:
        found: list[str] = []
        d = directory
        while True:
            candidate = os.path.join(d, "conftest.py")
            if os.path.isfile(candidate):
                found.append(candidate)
            if any(os.path.exists(os.path.join(d, m)) for m in _ROOT_MARKERS):
                break
            up = os.path.dirname(d)
            if up == d:
                break
            d = up
        paths = tuple(found)
        _CHAINS[directory] = paths
    return paths


def conftest_chain(file_abspath: str) -> list[ConftestFacts]:
    """The ``conftest.py`` files that apply to a file, nearest first (the file itself is left
    out when it is a conftest)."""
    paths = chain_paths(file_abspath)
    out = []
    for p in paths:
        if os.path.abspath(p) == os.path.abspath(file_abspath):
            continue
        facts = conftest_facts(p)
        if facts is not None:
            out.append(facts)
    return out


def dependencies(file_abspath: str) -> list[str]:
    """The files whose content a test file's ML509/ML510 findings depend on (for result
    caches): every ``conftest.py`` of its chain."""
    return [f.path for f in conftest_chain(file_abspath)]


def conftest_facts(path: str) -> ConftestFacts | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _FILES.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    facts = _read(path)
    _FILES[path] = (stamp, facts)
    return facts


def visible_fixtures(chain: list[ConftestFacts]) -> dict[str, SharedFixture | None]:
    """Fixture name -> the definition a test sees (nearest conftest wins)."""
    out: dict[str, SharedFixture | None] = {}
    for facts in chain:  # nearest first
        for name, fx in facts.fixtures.items():
            out.setdefault(name, fx)
    return out


# -- reading one conftest.py ---------------------------------------------------------------


def _read(path: str) -> ConftestFacts:
    from pathlib import Path

    from mllint.runner import FileReadError, read_source

    try:
        text = read_source(Path(path)).text
        tree = ast.parse(text)
    except (FileReadError, SyntaxError, ValueError, RecursionError, MemoryError):
        return ConftestFacts(path)
    aliases = _aliases(tree)
    seeds = False
    fixtures: dict[str, SharedFixture | None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and is_seeding_call(resolve(node.func, aliases)):
            seeds = True
    for stmt in tree.body:
        for name, scope, func in _fixture_defs(stmt, aliases):
            if "seed" in name.lower():
                seeds = True
            if scope in SHARED_SCOPES:
                kind = _returned_kind(func, aliases) if func is not None else None
                fixtures[name] = SharedFixture(name, scope, kind, path)
            else:
                fixtures[name] = None
    return ConftestFacts(path, seeds, fixtures)


def _aliases(tree: ast.Module) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
                else:
                    top = a.name.split(".", 1)[0]
                    out[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


def resolve(expr: ast.expr, aliases: Mapping[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name) or expr.id not in aliases:
        return None
    parts.append(aliases[expr.id])
    return ".".join(reversed(parts))


def _fixture_call_scope(expr: ast.expr, aliases: Mapping[str, str]) -> tuple[bool, str, str | None]:
    """(is a pytest.fixture decorator/call, scope, name= override)."""
    call = expr if isinstance(expr, ast.Call) else None
    target = call.func if call is not None else expr
    if resolve(target, aliases) not in _FIXTURE_DECORATORS:
        return False, "function", None
    scope = "function"
    name = None
    if call is not None:
        for kw in call.keywords:
            if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                if kw.arg == "scope":
                    scope = kw.value.value
                elif kw.arg == "name":
                    name = kw.value.value
            elif kw.arg == "scope":
                scope = "dynamic"  # a callable scope: unknown
    return True, scope, name


def _fixture_defs(
    stmt: ast.stmt, aliases: Mapping[str, str]
) -> list[tuple[str, str, ast.FunctionDef | ast.AsyncFunctionDef | None]]:
    out: list[tuple[str, str, ast.FunctionDef | ast.AsyncFunctionDef | None]] = []
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        for dec in stmt.decorator_list:
            is_fixture, scope, name = _fixture_call_scope(dec, aliases)
            if is_fixture:
                out.append((name or stmt.name, scope, stmt))
    elif (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
    ):
        # name = pytest.fixture(scope="session")(func)
        value = stmt.value
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Call):
            is_fixture, scope, name = _fixture_call_scope(value.func, aliases)
            if is_fixture:
                out.append((name or stmt.targets[0].id, scope, None))
    return out


_FRAME_FUNCS = ("DataFrame", "concat", "merge", "get_dummies")
_ARRAY_FUNCS = frozenset(
    {
        "array",
        "asarray",
        "zeros",
        "ones",
        "empty",
        "full",
        "arange",
        "linspace",
        "eye",
        "load",
        "loadtxt",
    }
)


def _kind_of(
    expr: ast.expr | None, aliases: Mapping[str, str], local: Mapping[str, ast.expr], depth: int = 0
) -> str | None:
    if expr is None or depth > 3:
        return None
    if isinstance(expr, (ast.List, ast.ListComp)):
        return "list"
    if isinstance(expr, (ast.Dict, ast.DictComp)):
        return "dict"
    if isinstance(expr, ast.Name) and expr.id in local:
        return _kind_of(local[expr.id], aliases, local, depth + 1)
    if not isinstance(expr, ast.Call):
        return None
    q = resolve(expr.func, aliases)
    if q is not None:
        mod, _, last = q.rpartition(".")
        if mod == "pandas" and (last in _FRAME_FUNCS or last.startswith("read_")):
            return "DataFrame"
        if q == "pandas.Series":
            return "Series"
        if mod == "numpy" and last in _ARRAY_FUNCS:
            return "ndarray"
        if mod == "numpy.random":
            return "ndarray"
        if q.startswith("sklearn.") and last[:1].isupper() and ".model_selection." not in q:
            return "Estimator"
    func = expr.func
    if isinstance(func, ast.Attribute):
        if func.attr == "fit":
            inner = _kind_of(func.value, aliases, local, depth + 1)
            return inner if inner == "Estimator" else None
        if func.attr == "copy":
            return _kind_of(func.value, aliases, local, depth + 1)
    return None


def _returned_kind(
    func: ast.FunctionDef | ast.AsyncFunctionDef, aliases: Mapping[str, str]
) -> str | None:
    local: dict[str, ast.expr] = {}
    counts: dict[str, int] = {}
    results: list[ast.expr | None] = []
    for node in ast.walk(func):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    local[t.id] = node.value
                    counts[t.id] = counts.get(t.id, 0) + 1
        elif isinstance(node, (ast.Return, ast.Yield)) and node.value is not None:
            results.append(node.value)
    local = {k: v for k, v in local.items() if counts.get(k) == 1}
    kinds = {_kind_of(r, aliases, local) for r in results}
    if len(kinds) == 1:
        return kinds.pop()
    return None
