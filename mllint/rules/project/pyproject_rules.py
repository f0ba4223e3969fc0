"""ML784, ML785, ML972: rules that read ``pyproject.toml`` (and ``ruff.toml``)."""

from __future__ import annotations

import ast
import fnmatch
import re
from typing import Any, ClassVar

from mllint.options import Option
from mllint.project.base import FileEdit, ProjectFix, ProjectRule
from mllint.project.deps import declared, normalise
from mllint.project.files import ProjectFile
from mllint.project.pyscan import span_in, walk
from mllint.project.tomlpos import TomlLocator
from mllint.rule import FixSafety


def _same_version(a: str, b: str) -> bool:
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # pragma: no cover
        return a == b
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a.strip() == b.strip()


class VersionMismatch(ProjectRule):
    """
    ## What it does
    Compares a static `[project] version` in `pyproject.toml` with a literal
    `__version__ = "..."` in the top-level package's `__init__.py` (`<name>/` or
    `src/<name>/`, the package named after the project, else the only top-level package), and
    flags the assignment when they differ (PEP 440 normalised: `1.0` equals `1.0.0`).

    Not flagged: equal values (unless `flag-duplicates = true`), `dynamic = ["version"]`,
    a `__version__` computed at run time (`importlib.metadata.version(...)`).

    ## Why is this bad?
    Two hand-maintained version strings drift: the wheel's metadata says one version while
    `pkg.__version__` — used in logs, model cards and experiment tracking — says another.

    ## Example
    `version = "0.2.0"` in `pyproject.toml` and `__version__ = "0.1.0"` in
    `src/ml_toolkit/__init__.py`.

    ## Use instead
    `dynamic = ["version"]` with `[tool.hatch.version] path = "src/ml_toolkit/__init__.py"`,
    or `__version__ = importlib.metadata.version("ml-toolkit")`.

    ## Fix safety
    No fix: which of the two is right is not known.
    """

    code = "ML784"
    name = "version-mismatch"
    summary = "`[project].version` and the package's `__version__` literal disagree"
    tier = 2
    options = (
        Option(
            "flag-duplicates",
            "bool",
            False,
            "Also report a `__version__` literal equal to the declared version.",
        ),
    )
    reads: ClassVar[tuple[str, ...]] = ("pyproject.toml",)

    def check(self) -> None:
        project = self.project.project_table()
        version = project.get("version")
        dynamic = project.get("dynamic")
        if not isinstance(version, str) or (isinstance(dynamic, list) and "version" in dynamic):
            return
        init = self._package_init(project)
        if init is None:
            return
        pf, tree, package = init
        for node in tree.body:
            value: ast.expr | None = None
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            ) or (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.target.id == "__version__"
            ):
                value = node.value
            if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
                continue
            literal = value.value
            same = _same_version(version, literal)
            if same and not self.opts.get("flag-duplicates", False):
                continue
            start, end = span_in(pf, node)
            if same:
                message = (
                    f"pyproject.toml declares version '{version}' and {package}/__init__.py sets "
                    f"__version__ = '{literal}' too; keep a single source (dynamic = [\"version\"] "
                    "or importlib.metadata.version)"
                )
            else:
                message = (
                    f"pyproject.toml declares version '{version}' but {package}/__init__.py sets "
                    f"__version__ = '{literal}'; keep a single source (dynamic = [\"version\"] or "
                    "importlib.metadata.version)"
                )
            self.report_at(pf, start, end, message)

    def _package_init(self, project: dict[str, Any]) -> tuple[ProjectFile, ast.Module, str] | None:
        tops = self.project.top_level_packages()
        name = project.get("name")
        wanted = normalise(name).replace("-", "_") if isinstance(name, str) else None
        chosen = wanted if wanted in tops else (tops[0] if len(tops) == 1 else None)
        if chosen is None:
            return None
        mod = self.project.find_module(chosen)
        if mod is None or mod.tree is None:
            return None
        return mod.file, mod.tree, chosen


_ML_NAME = re.compile(r"^(X|X_\w+|\w+_X)$")
_N_SELECTORS = ("ALL", "N", "N8", "N80", "N803", "N806")


def _selects_naming(values: Any) -> str | None:
    if not isinstance(values, list):
        return None
    for v in values:
        if isinstance(v, str) and v in _N_SELECTORS:
            return v
    return None


def _ignores(values: Any, code: str) -> bool:
    if not isinstance(values, list):
        return False
    return any(isinstance(v, str) and code.startswith(v) and v != "" for v in values)


class MlNamesVsRuffNaming(ProjectRule):
    """
    ## What it does
    Flags a ruff configuration (`[tool.ruff.lint]` / `[tool.ruff]` in `pyproject.toml`, or
    `ruff.toml` / `.ruff.toml`) whose `select`/`extend-select` contains `ALL` or a prefix of
    `N803`/`N806` (`N`, `N8`, `N80`), that ignores neither `N803` nor `N806`, whose
    `pep8-naming` `ignore-names`/`extend-ignore-names` do not match `X`, while the project's
    Python files have function parameters or local variables named `X`, `X_<suffix>` or
    `<prefix>_X`. Reported once, at the `select` line.

    ## Why is this bad?
    `X` (the feature matrix) and `X_train` are standard ML names; ruff's N803/N806 flag them
    on every `fit(self, X, y)`, which pushes teams to disable the naming checks wholesale.
    Exempting exactly these names keeps the rest of pep8-naming.

    Use `extend-ignore-names`: setting `ignore-names` replaces ruff's defaults (`setUp`,
    `tearDown`, `maxDiff`, ...), and `unittest` methods such as `setUp` are then reported as
    N802 (verified with ruff 0.17.6).

    ## Example
    ```toml
    [tool.ruff.lint]
    select = ["E", "F", "N"]
    ```
    with `def fit(self, X, y):` in the code.

    ## Use instead
    ```toml
    [tool.ruff.lint.pep8-naming]
    extend-ignore-names = ["X", "X_*", "*_X"]
    ```

    ## Fix safety
    Unsafe (it edits another tool's configuration): adds the three patterns to an existing
    `ignore-names`/`extend-ignore-names` list, or adds a `[tool.ruff.lint.pep8-naming]`
    table with `extend-ignore-names`. Comments and formatting are kept (tomlkit).
    """

    code = "ML785"
    name = "ml-names-vs-ruff-naming"
    summary = "ruff's pep8-naming rules are enabled without exempting `X`, `X_train`, …"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    reads: ClassVar[tuple[str, ...]] = ("pyproject.toml", "ruff.toml", ".ruff.toml")

    def check(self) -> None:
        for name, prefix in (
            ("ruff.toml", ()),
            (".ruff.toml", ()),
            ("pyproject.toml", ("tool", "ruff")),
        ):
            pf = self.project.config(name)
            data = self.project.parsed(name)
            if pf is None or not isinstance(data, dict):
                continue
            ruff: Any = data
            for key in prefix:
                ruff = ruff.get(key) if isinstance(ruff, dict) else None
            if not isinstance(ruff, dict):
                continue
            self._check(pf, prefix, ruff)
            return  # ruff uses the first configuration file it finds

    def _check(self, pf: ProjectFile, prefix: tuple[str, ...], ruff: dict[str, Any]) -> None:
        lint = ruff.get("lint") if isinstance(ruff.get("lint"), dict) else {}
        assert isinstance(lint, dict)
        where: tuple[str, ...] | None = None
        selector = None
        for table, tkey in ((lint, ("lint",)), (ruff, ())):
            for key in ("select", "extend-select"):
                s = _selects_naming(table.get(key))
                if s is not None and where is None:
                    where, selector = (*prefix, *tkey, key), s
        if where is None:
            return
        ignored = [
            *(lint.get("ignore") or []),
            *(ruff.get("ignore") or []),
            *(lint.get("extend-ignore") or []),
            *(ruff.get("extend-ignore") or []),
        ]
        if _ignores(ignored, "N803") or _ignores(ignored, "N806"):
            return
        naming = (
            lint.get("pep8-naming")
            if isinstance(lint.get("pep8-naming"), dict)
            else ruff.get("pep8-naming")
        )
        naming = naming if isinstance(naming, dict) else {}
        patterns = [
            p
            for k in ("ignore-names", "extend-ignore-names")
            for p in (naming.get(k) or [])
            if isinstance(p, str)
        ]
        if any(fnmatch.fnmatchcase("X", p) for p in patterns):
            return
        count, example = self._ml_names()
        if not count:
            return
        loc = TomlLocator(pf.text)
        entry = loc.entry(*where)
        if entry is None:
            return
        fix = self._fix(pf, prefix, naming)
        self.report_at(
            pf,
            entry.key_start,
            entry.key_end,
            f"ruff selects {selector} but does not exempt ML names: {count} parameters/variables "
            f"such as '{example}' will be reported as N803/N806; add [tool.ruff.lint.pep8-naming] "
            'extend-ignore-names = ["X", "X_*", "*_X"]',
            fix,
        )

    def _ml_names(self) -> tuple[int, str]:
        count = 0
        names: list[str] = []
        for rel in self.project.python_relpaths():
            pf = self.project.python_file(rel)
            if pf is None or "X" not in pf.text:
                continue
            mod = self.project.module(rel)
            tree = mod.tree if mod is not None else None
            if tree is None:
                continue
            for node, ctx in walk(tree):
                name = None
                if isinstance(node, ast.arg):
                    name = node.arg
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and ctx.in_def:
                    name = node.id
                if name is not None and _ML_NAME.match(name):
                    count += 1
                    names.append(name)
        example = "X_train" if "X_train" in names else (names[0] if names else "X")
        return count, example

    def _fix(
        self, pf: ProjectFile, prefix: tuple[str, ...], naming: dict[str, Any]
    ) -> ProjectFix | None:
        import tomlkit

        wanted = ["X", "X_*", "*_X"]
        try:
            doc: Any = tomlkit.parse(pf.text)
        except Exception:
            return None
        table: Any = doc
        for key in prefix:
            table = table[key]
        lint_key = "lint" if "lint" in table or "pep8-naming" not in table else None
        container = table[lint_key] if lint_key and lint_key in table else table
        naming_table = container.get("pep8-naming") if hasattr(container, "get") else None
        if naming_table is not None:
            key = (
                "extend-ignore-names"
                if "extend-ignore-names" in naming_table or "ignore-names" not in naming_table
                else "ignore-names"
            )
            current = naming_table.get(key)
            if current is None:
                naming_table[key] = wanted
            else:
                for w in wanted:
                    if w not in current:
                        current.append(w)
            return ProjectFix.rewrite(FixSafety.UNSAFE, pf, tomlkit.dumps(doc))
        # a new table, inserted after the table that holds the selection (text edit)
        loc = TomlLocator(pf.text)
        header_key = (*prefix, "lint") if loc.header(*prefix, "lint") is not None else prefix
        header = loc.header(*header_key) if header_key else None
        newline = "\r\n" if "\r\n" in pf.text else "\n"
        new_header = ".".join((*prefix, "lint", "pep8-naming"))
        block = f'[{new_header}]{newline}extend-ignore-names = ["X", "X_*", "*_X"]{newline}'
        if header is None:
            at = len(pf.text)
            sep = newline if pf.text and not pf.text.endswith(("\n", "\r")) else ""
            return ProjectFix(
                FixSafety.UNSAFE, [FileEdit(pf.relpath, at, at, f"{sep}{newline}{block}")]
            )
        at = loc.line_end(header.body_end)
        if at < len(pf.text):
            at += 2 if pf.text.startswith("\r\n", at) else 1
            return ProjectFix(FixSafety.UNSAFE, [FileEdit(pf.relpath, at, at, f"{newline}{block}")])
        return ProjectFix(
            FixSafety.UNSAFE, [FileEdit(pf.relpath, at, at, f"{newline}{newline}{block}")]
        )


def _written_name(requirement: str) -> str:
    return re.split(r"[\s\[;<>=!~@(]", requirement.strip(), maxsplit=1)[0]


class UnpinnedDependency(ProjectRule):
    """
    ## What it does
    Flags entries of `[project] dependencies` and `[project.optional-dependencies]` that have
    no version specifier at all and no URL (`"numpy"`, `"pandas[parquet]"`).

    Not flagged: requirements with any specifier (`>=1.24`, `~=2.1`, `==1.5.*`), direct URL
    references, and the project's own extras (`"mypkg[torch]"` in an `all` extra).

    ## Why is this bad?
    An unconstrained requirement resolves to whatever is newest at install time, and a new
    major release can break installs. Add at least a lower bound. Upper caps are not
    required: on libraries they block downstream resolution (for example `numpy<2` cannot be
    installed on Python 3.13, which has no NumPy 1.x wheels). Code that breaks with NumPy 2
    should be migrated (ruff's NPY201) rather than pinned to NumPy 1.x forever.

    ## Example
    ```toml
    dependencies = ["numpy", "pandas"]
    ```

    ## Use instead
    ```toml
    dependencies = ["numpy>=1.24", "pandas>=2.0"]
    ```
    (applications: exact pins in a lock file).

    ## Fix safety
    No fix: the right lower bound is the oldest version the code was tested with.
    """

    code = "ML972"
    name = "unpinned-dependency"
    summary = "A declared dependency has no version specifier at all"
    tier = 2
    default_enabled = False
    reads: ClassVar[tuple[str, ...]] = ("pyproject.toml",)

    def check(self) -> None:
        pf = self.project.config("pyproject.toml")
        if pf is None:
            return
        own = self.project.project_table().get("name")
        own_name = normalise(own) if isinstance(own, str) else None
        loc: TomlLocator | None = None
        for d in declared(self.project):
            if d.req.specifier or d.req.url or d.req.name == own_name:
                continue
            if loc is None:
                loc = TomlLocator(pf.text)
            entry = loc.entry(*d.key)
            if entry is None or d.index >= len(entry.elements):
                continue
            start, end = entry.elements[d.index]
            self.report_at(
                pf,
                start,
                end,
                f"Dependency '{_written_name(d.req.text)}' has no version specifier; a new major release "
                "(e.g. NumPy 2) can break installs — add at least a lower bound",
            )
