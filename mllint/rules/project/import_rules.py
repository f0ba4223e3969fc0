"""ML781, ML782, ML783, ML971: project rules about what the package imports at import time,
judged against ``pyproject.toml`` (extras, markers, ``requires-python``) and against the
project's own import graph."""

from __future__ import annotations

import ast
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from mllint.options import Option
from mllint.project.base import FileEdit, ProjectFix, ProjectRule
from mllint.project.deps import declared, import_name, normalise
from mllint.project.files import ProjectIndex, PythonModule
from mllint.project.pyscan import (
    CANDIDATE_VERSIONS,
    Ctx,
    ImportInfo,
    Version,
    dotted,
    imports,
    span_in,
    statement_text,
    walk,
)
from mllint.rule import FixSafety

#: how many first-party import hops are followed (ML781, ML971)
MAX_DEPTH = 5


# -- the project's import graph (memoised per run in ``index.cache``) ---------------------------


def _is_test(index: ProjectIndex, relpath: str) -> bool:
    from mllint.globs import matches_any

    return matches_any(relpath, index.settings.test_paths)


def _memo(index: ProjectIndex, key: str) -> dict[Any, Any]:
    memo = index.cache.setdefault(key, {})
    assert isinstance(memo, dict)
    return memo


def _imports_of(index: ProjectIndex, mod: PythonModule) -> list[ImportInfo]:
    memo = _memo(index, "ml78x-imports")
    key = mod.file.relpath
    if key not in memo:
        tree = mod.tree
        memo[key] = [] if tree is None else imports(tree, mod.name, mod.is_package)
    return memo[key]  # type: ignore[no-any-return]


_AVAILABILITY_RE = re.compile(
    r"avail|find_spec|installed|has_|_has|HAS_|importable|is_.*_available|import_module", re.I
)
_SKIPIF_VERSION_RE = re.compile(r"skipif.*(version_info|python_version|PY_?3)", re.I | re.S)
_SOFT_GUARD_RE = re.compile(r"import|suppress\(.*(ImportError|ModuleNotFoundError|Exception)", re.I)


def _soft_guard_lines(index: ProjectIndex, mod: PythonModule) -> set[int]:
    """Lines inside ``with try_import():`` / ``with suppress(ImportError):`` blocks (context
    managers that swallow a failing import, as optuna's ``try_import``) and inside both
    branches of an availability test (``if not is_pyspark_installed(): ... else: import
    pyspark``, ``spec = find_spec("pyspark")`` then ``if spec is None: ... else: ...``)."""
    memo = _memo(index, "ml78x-soft-guards")
    key = mod.file.relpath
    if key not in memo:
        lines: set[int] = set()
        tree = mod.tree
        if tree is not None:
            probes = {
                t.id
                for node in ast.walk(tree)
                if isinstance(node, ast.Assign) and _AVAILABILITY_RE.search(ast.unparse(node.value))
                for t in node.targets
                if isinstance(t, ast.Name)
            }
            for node in ast.walk(tree):
                if isinstance(node, ast.If):
                    test = ast.unparse(node.test)
                    names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
                    if _AVAILABILITY_RE.search(test) or names & probes:
                        lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
                elif isinstance(node, (ast.With, ast.AsyncWith)) and any(
                    isinstance(item.context_expr, ast.Call)
                    and _SOFT_GUARD_RE.search(ast.unparse(item.context_expr))
                    for item in node.items
                ):
                    lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        memo[key] = lines
    return memo[key]  # type: ignore[no-any-return]


def _guarded(index: ProjectIndex, mod: PythonModule, info: ImportInfo) -> bool:
    """An import whose failure is caught (``try/except ImportError``, an availability check,
    ``with try_import():``)."""
    return info.ctx.import_guarded or info.node.lineno in _soft_guard_lines(index, mod)


def _first_party_targets(index: ProjectIndex, info: ImportInfo, current: str | None) -> list[str]:
    """First-party modules an import statement executes (parent packages included), in
    import order, without the importing module and its own parent packages."""
    own: set[str] = set()
    if current:
        parts = current.split(".")
        own = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    out: list[str] = []
    for cand in info.candidates():
        parts = cand.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name in own or name in out:
                continue
            if index.find_module(name) is not None:
                out.append(name)
    return out


def _edges(
    index: ProjectIndex, mod: PythonModule, unguarded_only: bool
) -> Iterator[tuple[ImportInfo, str]]:
    for info in _imports_of(index, mod):
        if not info.ctx.at_import_time or (unguarded_only and _guarded(index, mod, info)):
            continue
        for target in _first_party_targets(index, info, mod.name):
            yield info, target


def _package_modules(index: ProjectIndex) -> list[PythonModule]:
    """The project's package code: modules inside its top-level packages, tests aside."""
    tops = set(index.top_level_packages())
    out: list[PythonModule] = []
    for rel in index.python_relpaths():
        if not rel.endswith(".py") or _is_test(index, rel):
            continue
        mod = index.module(rel)
        if mod is None or mod.name is None or mod.name.split(".")[0] not in tops:
            continue
        out.append(mod)
    return out


def _imported_modules(info: ImportInfo) -> list[str]:
    """Absolute modules an import statement names (``from a import b``: ``a`` and ``a.b``)."""
    if info.level:
        return []
    return info.candidates()


def _matches(module: str, name: str) -> bool:
    return module == name or module.startswith(name + ".")


def _package_path(index: ProjectIndex, top: str) -> str:
    return f"{top}/__init__.py"


# -- ML781 -----------------------------------------------------------------------------------


class OptionalDependencyImportedEagerly(ProjectRule):
    """
    ## What it does
    Reads `pyproject.toml` and finds the distributions that appear only in
    `[project.optional-dependencies]` (an extra), not in `[project.dependencies]`. Each is
    mapped to its import name (`scikit-learn` → `sklearn`, `opencv-python` → `cv2`, `PyYAML`
    → `yaml`, `Pillow` → `PIL`, `scikit-image` → `skimage`, `beautifulsoup4` → `bs4`,
    `protobuf` → `google.protobuf`, `pytorch-lightning` → `pytorch_lightning`, otherwise the
    normalised distribution name; extend the table with the `import-names` option). Then it
    follows the import-time imports of the package from its root `__init__.py` (relative and
    absolute first-party imports, up to 5 hops) and flags every import of such a
    distribution that runs at import time in a module reached that way.

    Not flagged: imports inside functions, under `if TYPE_CHECKING:`, inside
    `try: ... except ImportError:` (or `ModuleNotFoundError`, or a broader handler) or under
    an availability check (`if is_xgboost_available():`, `if HAS_XGBOOST:`); modules that are
    reached only through such guarded imports or not at all from the root `__init__.py`;
    test files; the project's own extras (`mypkg[torch]`).

    ## Why is this bad?
    Users who install the base package without the extra get `ModuleNotFoundError` from
    `import <package>`: the point of the extra - install only what you need - is lost.

    ## Example
    With `boost = ["xgboost>=2"]` under `[project.optional-dependencies]`:
    ```python
    # mypkg/__init__.py
    from .models import XGBModel

    # mypkg/models.py
    import xgboost as xgb
    ```

    ## Use instead
    ```python
    # mypkg/models.py
    def make_booster(**params):
        try:
            import xgboost as xgb
        except ImportError as e:
            raise ImportError("XGBModel needs the 'boost' extra: pip install mypkg[boost]") from e
        return xgb.XGBClassifier(**params)
    ```

    ## Fix safety
    No fix: where the import belongs (a function, a guarded block, the base dependencies)
    is a design decision.
    """

    code = "ML781"
    name = "optional-dependency-imported-eagerly"
    summary = "A module reachable from the package root imports a dependency that is only an optional extra"
    tier = 2
    options = (
        Option(
            "import-names",
            "dict[str,str]",
            {},
            "Distribution name -> import name, for distributions whose import name differs "
            "(extends the built-in table).",
        ),
    )
    reads: ClassVar[tuple[str, ...]] = ("pyproject.toml",)

    def check(self) -> None:
        project = self.project.project_table()
        own = normalise(project["name"]) if isinstance(project.get("name"), str) else None
        required: set[str] = set()
        optional: dict[str, tuple[str, str]] = {}  # dist -> (written name, first extra)
        for d in declared(self.project):
            if d.extra is None:
                required.add(d.req.name)
            elif d.req.name != own:
                optional.setdefault(d.req.name, (_written_name(d.req.text), d.extra))
        tops = self.project.top_level_packages()
        names = dict(self.opts.get("import-names") or {})
        wanted: dict[str, tuple[str, str]] = {}
        for dist, value in optional.items():
            if dist in required:
                continue
            imp = import_name(dist, names)
            if imp.split(".")[0] in tops:
                continue
            wanted[imp] = value
        if not wanted:
            return
        seen: set[str] = set()
        for top in tops:
            root = self.project.find_module(top)
            if root is None:
                continue
            for mod in self._reachable(root):
                if mod.file.relpath in seen or _is_test(self.project, mod.file.relpath):
                    continue
                seen.add(mod.file.relpath)
                self._check_module(mod, top, wanted)

    def _reachable(self, root: PythonModule) -> Iterator[PythonModule]:
        queue: deque[tuple[PythonModule, int]] = deque([(root, 0)])
        visited = {root.file.relpath}
        while queue:
            mod, depth = queue.popleft()
            yield mod
            if depth >= MAX_DEPTH:
                continue
            for _info, target in _edges(self.project, mod, True):
                tmod = self.project.find_module(target)
                if tmod is None or tmod.file.relpath in visited:
                    continue
                visited.add(tmod.file.relpath)
                queue.append((tmod, depth + 1))

    def _check_module(
        self, mod: PythonModule, top: str, wanted: dict[str, tuple[str, str]]
    ) -> None:
        for info in _imports_of(self.project, mod):
            ctx = info.ctx
            if not ctx.at_import_time or _guarded(self.project, mod, info):
                continue
            hit = None
            for m in _imported_modules(info):
                hit = next((w for w in wanted if _matches(m, w)), None)
                if hit is not None:
                    break
            if hit is None:
                continue
            dist, extra = wanted[hit]
            start, end = span_in(mod.file, info.node)
            self.report_at(
                mod.file,
                start,
                end,
                f"'{dist}' is only in [project.optional-dependencies].{extra}, but '{mod.name}' "
                f"imports it at import time and is imported by '{_package_path(self.project, top)}': "
                f"'import {top}' fails without the extra",
            )


def _written_name(requirement: str) -> str:
    return re.split(r"[\s\[;<>=!~@(]", requirement.strip(), maxsplit=1)[0]


# -- ML782 -----------------------------------------------------------------------------------

_PY_MARKER_VARS = {"python_version", "python_full_version"}
_MARKER_VAR_RE = re.compile(r"""("[^"]*"|'[^']*')|([A-Za-z_][A-Za-z0-9_.]*)""")
_MARKER_WORDS = {"and", "or", "not", "in"}


def _marker_variables(marker: Any) -> set[str]:
    out: set[str] = set()
    for m in _MARKER_VAR_RE.finditer(str(marker)):
        if m.group(2) and m.group(2) not in _MARKER_WORDS:
            out.add(m.group(2))
    return out


def _marker_holds(marker: Any, v: Version) -> bool:
    env = {"python_version": f"{v[0]}.{v[1]}", "python_full_version": f"{v[0]}.{v[1]}.0"}
    try:
        return bool(marker.evaluate(env))
    except Exception:
        return True


class MarkerDependencyImportedUnconditionally(ProjectRule):
    """
    ## What it does
    Reads `[project.dependencies]` in `pyproject.toml` and finds the requirements that are
    installed only on some Python versions: every entry of the distribution has a
    `python_version`/`python_full_version` environment marker, and together they leave out
    some version allowed by `requires-python`. Then it flags imports of that distribution in
    the package code (tests aside) that run on every Python version: imports outside an
    `if sys.version_info <cmp> (...)` guard whose condition implies the marker, outside
    `try: ... except ImportError:` and outside `if TYPE_CHECKING:`.

    Not flagged: markers on other variables (`sys_platform`, `platform_machine`, ...), a
    distribution also declared for the remaining versions (`"numpy>=1.21; python_version <
    '3.10'"` and `"numpy>=1.23; python_version >= '3.10'"`), optional dependencies.

    ## Why is this bad?
    `typing-extensions>=4.0.0; python_version < '3.10'` installs nothing on 3.10+, so an
    unconditional `from typing_extensions import Literal` fails there - unless another
    package happens to pull `typing_extensions` in transitively, which hides the bug until a
    clean environment.

    ## Example
    ```toml
    dependencies = ["typing-extensions>=4; python_version < '3.10'"]
    ```
    ```python
    from typing_extensions import TypeAlias
    ```

    ## Use instead
    ```python
    import sys

    if sys.version_info >= (3, 10):
        from typing import TypeAlias
    else:
        from typing_extensions import TypeAlias
    ```
    or declare the dependency without the marker.

    ## Fix safety
    No fix: guarding the import or dropping the marker are both valid.
    """

    code = "ML782"
    name = "marker-dependency-imported-unconditionally"
    summary = "A dependency declared only for some Python versions is imported unconditionally"
    tier = 2
    reads: ClassVar[tuple[str, ...]] = ("pyproject.toml",)

    def check(self) -> None:
        entries: dict[str, list[Any]] = {}
        written: dict[str, str] = {}
        for d in declared(self.project):
            if d.extra is not None:
                continue
            entries.setdefault(d.req.name, []).append(d.req.marker)
            written.setdefault(d.req.name, _written_name(d.req.text))
        min_py = self.project.settings.min_python
        versions = [
            v for v in CANDIDATE_VERSIONS if v >= (3, 0) and (min_py is None or v >= min_py)
        ]
        tops = set(self.project.top_level_packages())
        wanted: dict[str, tuple[str, str, Callable[[Version], bool]]] = {}
        for dist, markers in entries.items():
            if any(m is None for m in markers):
                continue
            if any(_marker_variables(m) - _PY_MARKER_VARS for m in markers):
                continue

            def installed(v: Version, ms: list[Any] = markers) -> bool:
                return any(_marker_holds(m, v) for m in ms)

            if all(installed(v) for v in versions):
                continue
            imp = import_name(dist)
            if imp.split(".")[0] in tops:
                continue
            text = " or ".join(str(m) for m in markers)
            wanted[imp] = (written[dist], text, installed)
        if not wanted:
            return
        for mod in _package_modules(self.project):
            for info in _imports_of(self.project, mod):
                ctx = info.ctx
                if ctx.type_checking or _guarded(self.project, mod, info):
                    continue
                hit = None
                for m in _imported_modules(info):
                    hit = next((w for w in wanted if _matches(m, w)), None)
                    if hit is not None:
                        break
                if hit is None:
                    continue
                dist, marker, holds = wanted[hit]
                if ctx.implies(holds, min_py):
                    continue
                start, end = span_in(mod.file, info.node)
                stmt = statement_text("", info.node)
                runs = (
                    "also runs where it is not installed"
                    if ctx.version
                    else "runs on every Python version"
                )
                self.report_at(
                    mod.file,
                    start,
                    end,
                    f"'{dist}' is required only when {marker}, but '{stmt}' {runs}; guard it with "
                    "'if sys.version_info …' or declare it without the marker",
                )


# -- ML783 -----------------------------------------------------------------------------------

_GUARD_EXCEPTIONS = ("ImportError", "ModuleNotFoundError", "AttributeError", "NameError")


def _added_table() -> dict[str, tuple[int, int]]:
    from mllint.rules.project.stdlib_versions import ADDED

    return ADDED


def _module_added(
    module: str, table: dict[str, tuple[int, int]]
) -> tuple[str, tuple[int, int]] | None:
    """The newest of ``module`` and its parent packages, when one is in the table."""
    parts = module.split(".")
    best: tuple[str, tuple[int, int]] | None = None
    for i in range(1, len(parts) + 1):
        name = ".".join(parts[:i])
        v = table.get(name)
        if v is not None and (best is None or v > best[1]):
            best = (name, v)
    return best


@dataclass
class _Bindings:
    """Module aliases of a file (``import a.b as c`` -> c: a.b) and every other bound name."""

    modules: dict[str, set[str]]
    other: set[str]

    def resolve(self, dotted: str) -> str | None:
        head, _, rest = dotted.partition(".")
        if head in self.other:
            return None
        targets = self.modules.get(head)
        if targets is None or len(targets) != 1:
            return None
        base = next(iter(targets))
        return f"{base}.{rest}" if rest else base


def _bindings(tree: ast.Module) -> _Bindings:
    modules: dict[str, set[str]] = {}
    other: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    modules.setdefault(a.asname, set()).add(a.name)
                else:
                    top = a.name.split(".")[0]
                    modules.setdefault(top, set()).add(top)
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                other.add(a.asname or a.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            other.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            other.add(node.name)
        elif isinstance(node, ast.arg):
            other.add(node.arg)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            other.add(node.name)
    return _Bindings(modules, other)


def _has_future_annotations(tree: ast.Module) -> bool:
    for node in tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "__future__"
            and any(a.name == "annotations" for a in node.names)
        ):
            return True
    return False


def _fmt(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


class StdlibNameNewerThanRequiresPython(ProjectRule):
    """
    ## What it does
    Flags imports and attribute accesses of standard-library modules and names that do not
    exist on the project's minimum Python (the lower bound of `requires-python`, else ruff's
    `target-version`, else `[tool.mllint] python-version`): `from functools import cache`
    with `requires-python = ">=3.8"`, `import tomllib` with `">=3.10"`, `asyncio.TaskGroup()`
    with `">=3.9"`. The version table is generated from typeshed (`stdlib/VERSIONS` and the
    `sys.version_info` guards of the stubs) plus the 3.8/3.9 additions typeshed no longer
    marks.

    Not flagged: code under an `if sys.version_info >= (...)` guard that implies the name
    exists (and the `else` of the opposite test), inside `try:` blocks that catch
    `ImportError`/`ModuleNotFoundError`/`AttributeError`, under `if TYPE_CHECKING:` or an
    availability check, names also tested with `hasattr(module, "name")`, annotations when
    the file has `from __future__ import annotations`; names from `typing_extensions`;
    syntax features (`match`, `except*`, `X | Y` at run time: ruff reports those for its
    `target-version`). Inactive when the minimum Python is unknown.

    ## Why is this bad?
    The module fails with `ImportError`/`AttributeError` on the oldest interpreter the
    project claims to support. (`typing.Literal` was added in 3.8: it fails on 3.7, not on
    3.8.)

    ## Example
    `requires-python = ">=3.8"` and
    ```python
    from functools import cache
    ```

    ## Use instead
    ```python
    from functools import lru_cache

    @lru_cache(maxsize=None)
    def load_vocab(path): ...
    ```
    or raise `requires-python` to `>=3.9`.

    ## Fix safety
    Unsafe, for `typing` names only, and only when `typing-extensions` is an unconditional
    dependency of the project: `from typing import Self` becomes `from typing_extensions
    import Self` (other names of the statement stay in `typing`). The installed
    `typing_extensions` must be recent enough to have the name. Other names: no fix.
    """

    code = "ML783"
    name = "stdlib-name-newer-than-requires-python"
    summary = "A stdlib name that does not exist on the project's minimum Python"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    reads: ClassVar[tuple[str, ...]] = ("pyproject.toml",)

    def check(self) -> None:
        min_py = self.project.settings.min_python
        if min_py is None:
            return
        table = {k: v for k, v in _added_table().items() if v > min_py}
        if not table:
            return
        self._min = min_py
        self._table = table
        self._te = any(
            d.extra is None and d.req.name == "typing-extensions" and d.req.marker is None
            for d in declared(self.project)
        )
        for rel in self.project.python_relpaths():
            if not rel.endswith(".py"):
                continue
            mod = self.project.module(rel)
            if mod is None or mod.tree is None:
                continue
            self._check_file(mod)

    def _guarded(self, ctx: Ctx, added: tuple[int, int], future: bool) -> bool:
        if ctx.type_checking or ctx.availability or ctx.catches(*_GUARD_EXCEPTIONS):
            return True
        if ctx.annotation and future:
            return True
        return ctx.implies(lambda v: v >= added, self._min)

    def _message(self, name: str, added: tuple[int, int]) -> str:
        return f"'{name}' was added in Python {_fmt(added)}, but requires-python allows {_fmt(self._min)}"

    def _check_file(self, mod: PythonModule) -> None:
        tree = mod.tree
        assert tree is not None
        pf = mod.file
        skipped = set(_soft_guard_lines(self.project, mod))
        for fn in ast.walk(tree):
            # tests skipped on older versions: @pytest.mark.skipif(sys.version_info < (3, 11), ...)
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and any(
                _SKIPIF_VERSION_RE.search(ast.unparse(d)) for d in fn.decorator_list
            ):
                skipped.update(range(fn.lineno, (fn.end_lineno or fn.lineno) + 1))
        future = _has_future_annotations(tree)
        binds: _Bindings | None = None
        probed = set(re.findall(r"""hasattr\(\s*([\w.]+)\s*,\s*["'](\w+)["']""", pf.text))
        probed |= set(re.findall(r"""getattr\(\s*([\w.]+)\s*,\s*["'](\w+)["']\s*,""", pf.text))
        builtins_new = {
            k.split(".", 1)[1]: v for k, v in self._table.items() if k.startswith("builtins.")
        }
        for node, ctx in walk(tree):
            if getattr(node, "lineno", None) in skipped:
                continue
            if isinstance(node, ast.Import):
                for a in node.names:
                    found = _module_added(a.name, self._table)
                    if found is not None and not self._guarded(ctx, found[1], future):
                        start, end = span_in(pf, a)
                        self.report_at(pf, start, end, self._message(found[0], found[1]))
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = _module_added(node.module, self._table)
                if found is not None:
                    if not self._guarded(ctx, found[1], future):
                        start, end = span_in(pf, node)
                        self.report_at(pf, start, end, self._message(found[0], found[1]))
                    continue
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    added = self._table.get(full)
                    if added is None or self._guarded(ctx, added, future):
                        continue
                    if (node.module, a.name) in probed:
                        continue
                    start, end = span_in(pf, a)
                    self.report_at(pf, start, end, self._message(full, added), self._fix(pf, node))
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                chain = dotted(node)
                if chain is None:
                    continue
                if binds is None:
                    binds = _bindings(tree)
                resolved = binds.resolve(chain)
                if resolved is None:
                    continue
                full = resolved
                added = self._table.get(full)
                if added is None or self._guarded(ctx, added, future):
                    continue
                owner, _, attr = full.rpartition(".")
                owner_text = chain.rpartition(".")[0]
                if (owner_text, attr) in probed or (owner, attr) in probed:
                    continue
                start, end = span_in(pf, node)
                self.report_at(pf, start, end, self._message(full, added))
            elif (
                isinstance(node, ast.Name)
                and isinstance(node.ctx, ast.Load)
                and node.id in builtins_new
            ):
                if binds is None:
                    binds = _bindings(tree)
                if node.id in binds.other or node.id in binds.modules:
                    continue
                added = builtins_new[node.id]
                if self._guarded(ctx, added, future) or ("builtins", node.id) in probed:
                    continue
                start, end = span_in(pf, node)
                self.report_at(pf, start, end, self._message(node.id, added))

    def _fix(self, pf: Any, node: ast.ImportFrom) -> ProjectFix | None:
        """``from typing import A, Self`` -> ``from typing import A`` + ``from
        typing_extensions import Self`` (a statement alone on its line(s))."""
        if not self._te or node.module != "typing":
            return None
        moved = [a for a in node.names if f"typing.{a.name}" in self._table]
        kept = [a for a in node.names if f"typing.{a.name}" not in self._table]
        if not moved or any(a.name == "*" for a in node.names):
            return None
        start, end = span_in(pf, node)
        line_start = pf.offset(node.lineno, 1)
        indent = pf.text[line_start:start]
        if indent.strip():
            return None  # shares its line with another statement
        rest = pf.index.line_text(node.end_lineno or node.lineno)
        tail = pf.text[end : pf.offset(node.end_lineno or node.lineno, len(rest) + 1)]
        if tail.strip() and not tail.strip().startswith("#"):
            return None
        if node.end_lineno != node.lineno and "#" in pf.text[start:end]:
            return None  # would drop comments inside a parenthesised import

        def names(aliases: list[ast.alias]) -> str:
            return ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in aliases)

        newline = "\r\n" if "\r\n" in pf.text else "\n"
        new = f"from typing_extensions import {names(moved)}"
        if kept:
            new = f"from typing import {names(kept)}{newline}{indent}{new}"
        return ProjectFix(FixSafety.UNSAFE, [FileEdit(pf.relpath, start, end, new)])


# -- ML971 -----------------------------------------------------------------------------------


def _heavy_settings(index: ProjectIndex) -> tuple[frozenset[str], tuple[str, ...]]:
    """ML701's heavy set and allowed modules, as configured for eager-heavy-import."""
    from mllint.config import rule_option_values
    from mllint.rules.imports.eager_heavy_import import EagerHeavyImport

    values = rule_option_values(index.settings, EagerHeavyImport)
    heavy = frozenset(values.get("heavy-modules") or ()) | frozenset(
        values.get("extend-heavy-modules") or ()
    )
    return heavy, tuple(values.get("allowed-modules") or ())


class EagerHeavyReexport(ProjectRule):
    """
    ## What it does
    In a package `__init__.py`, flags a relative or first-party absolute import executed at
    import time (as ML701 defines it) whose target module - following import-time imports
    through first-party modules, up to 5 hops - imports a module of ML701's heavy set
    (`torch`, `tensorflow`, `transformers`, `pandas`, ...). The finding names the chain.

    Not flagged: imports inside functions or under `if TYPE_CHECKING:`; absolute imports of
    the heavy library itself (ML701 reports those); chains that only reach a heavy library
    inside functions. The heavy set is ML701's: configure it with `heavy-modules`,
    `extend-heavy-modules` and `allowed-modules` under `[tool.mllint.eager-heavy-import]`.

    Off by default: libraries built around one heavy framework often accept the cost.

    ## Why is this bad?
    The same cost as ML701, one indirection away: `import mypkg` still loads torch (seconds,
    hundreds of MB) because `__init__.py` pulls in the module that imports it, so every user
    of any part of the package pays for it.

    ## Example
    ```python
    # mypkg/__init__.py
    from .pytorch_model import PyTorchModel

    # mypkg/pytorch_model.py
    import torch
    ```

    ## Use instead
    ```python
    # mypkg/__init__.py
    import importlib
    from typing import TYPE_CHECKING, Any

    if TYPE_CHECKING:
        from .pytorch_model import PyTorchModel

    def __getattr__(name: str) -> Any:
        if name == "PyTorchModel":
            return importlib.import_module(".pytorch_model", __name__).PyTorchModel
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    ```
    Lazy loading moves the `ImportError` of a missing dependency, and the import time, to
    first use.

    ## Fix safety
    Unsafe: ML701's "re-export only" rewrite. When none of the names a flagged
    `from ... import` binds is used elsewhere in `__init__.py` (a literal `__all__` aside),
    the statement moves under `if TYPE_CHECKING:` and the names are served lazily by a module
    `__getattr__` backed by a `_LAZY_IMPORTS` table (relative modules written as absolute
    names), as ML701 does for a heavy import. Import time, import side effects and
    `ImportError`s move to first access of the name. No fix when a name is used in
    `__init__.py`, when the module already has a hand-written `__getattr__`, for
    `import pkg.mod` and `from . import mod` forms, or when a name is also a submodule of the
    package (importing that submodule would replace the attribute).
    """

    code = "ML971"
    name = "eager-heavy-reexport"
    summary = (
        "A package `__init__.py` re-exports from a first-party module that imports a heavy library"
    )
    tier = 2
    default_enabled = False
    fix_safety = (FixSafety.UNSAFE,)
    reads: ClassVar[tuple[str, ...]] = ()

    def check(self) -> None:
        self._heavy, self._allowed = _heavy_settings(self.project)
        self._own = set(self.project.top_level_packages())
        self._chains: dict[str, list[str] | None] = {}
        for rel in self.project.python_relpaths():
            if not rel.endswith("__init__.py") or _is_test(self.project, rel):
                continue
            mod = self.project.module(rel)
            if mod is None or mod.name is None or mod.tree is None:
                continue
            self._check_init(mod)

    def _heavy_module(self, module: str) -> bool:
        top = module.split(".")[0]
        if top in self._own:
            return False
        for allowed in self._allowed:
            if module == allowed or top == allowed or module.startswith(allowed + "."):
                return False
        return top in self._heavy

    def _direct_heavy(self, mod: PythonModule) -> str | None:
        for info in _imports_of(self.project, mod):
            if not info.ctx.at_import_time or info.level:
                continue
            for m in (
                _imported_modules(info)[:1]
                if isinstance(info.node, ast.ImportFrom)
                else _imported_modules(info)
            ):
                if self._heavy_module(m):
                    return m.split(".")[0]
        return None

    def _chain(self, start: str) -> list[str] | None:
        """The shortest chain ``start -> ... -> <heavy>`` of import-time imports."""
        if start in self._chains:
            return self._chains[start]
        parent: dict[str, str | None] = {start: None}
        queue: deque[tuple[str, int]] = deque([(start, 0)])
        result: list[str] | None = None
        while queue:
            name, depth = queue.popleft()
            mod = self.project.find_module(name)
            if mod is None:
                continue
            heavy = self._direct_heavy(mod)
            if heavy is not None:
                path = [name]
                p = parent[name]
                while p is not None:
                    path.append(p)
                    p = parent[p]
                result = [*reversed(path), heavy]
                break
            if depth >= MAX_DEPTH - 1:
                continue
            for _info, target in _edges(self.project, mod, False):
                if target not in parent:
                    parent[target] = name
                    queue.append((target, depth + 1))
        self._chains[start] = result
        return result

    def _check_init(self, mod: PythonModule) -> None:
        package = mod.name
        assert package is not None
        found: list[tuple[ast.Import | ast.ImportFrom, int, int, str]] = []
        for info in _imports_of(self.project, mod):
            if not info.ctx.at_import_time:
                continue
            if info.level == 0 and all(self._heavy_module(m) for m in _imported_modules(info)[:1]):
                continue  # ML701's
            for target in _first_party_targets(self.project, info, package):
                chain = self._chain(target)
                if chain is None:
                    continue
                stmt = statement_text("", info.node)
                if isinstance(info.node, ast.ImportFrom):
                    shown = [a.asname or a.name for a in info.node.names]
                else:
                    shown = [(a.asname or a.name).split(".")[-1] for a in info.node.names]
                what = "', '".join(shown[:3]) + ("', ..." if len(shown) > 3 else "'")
                if shown == ["*"]:
                    what = f"the names of {target}'"
                start, end = span_in(mod.file, info.node)
                found.append(
                    (
                        info.node,
                        start,
                        end,
                        f"'{stmt}' in {package.replace('.', '/')}/__init__.py imports {target}, "
                        f"which imports {chain[-1]} at import time (chain: {' → '.join(chain)}); "
                        f"serve '{what} lazily via __getattr__",
                    )
                )
                break
        fix, covered = self._fix(mod, [node for node, *_ in found])
        for node, start, end, message in found:
            self.report_at(mod.file, start, end, message, fix if node.lineno in covered else None)

    def _fix(
        self, mod: PythonModule, nodes: list[ast.Import | ast.ImportFrom]
    ) -> tuple[ProjectFix | None, frozenset[int]]:
        """ML701's re-export rewrite of the flagged ``from`` imports whose names are not used
        elsewhere in ``__init__.py``: one fix for the file (the statements share the
        ``TYPE_CHECKING`` block and the lazy table), carried by each finding it covers."""
        from mllint.api import make_request
        from mllint.config import rule_option_values
        from mllint.rules.imports.eager_heavy_import import EagerHeavyImport, reexport_rewrite

        package = mod.name
        assert package is not None
        lines = [
            node.lineno
            for node in nodes
            if isinstance(node, ast.ImportFrom)
            and node.module is not None
            # a name that is also a submodule of the package would be replaced by that
            # submodule once any lazy import loads it (the import system sets the attribute)
            and not any(
                self.project.find_module(f"{package}.{a.asname or a.name}") for a in node.names
            )
        ]
        if not lines:
            return None, frozenset()
        settings = self.project.settings
        facts = make_request(settings, mod.file.relpath, package=package, codes=()).facts
        options = rule_option_values(settings, EagerHeavyImport)
        try:
            result = reexport_rewrite(mod.file.text, facts, options, lines)
        except Exception:
            return None, frozenset()  # an internal error of the rewrite costs the fix only
        if result is None:
            return None, frozenset()
        text, covered = result
        return ProjectFix.rewrite(FixSafety.UNSAFE, mod.file, text), covered
