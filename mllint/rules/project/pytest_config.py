"""ML795, ML796: rules that read the pytest configuration."""

from __future__ import annotations

import ast
import configparser
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mllint.options import Option
from mllint.prescan import walk
from mllint.project.base import FileEdit, ProjectFix, ProjectRule
from mllint.project.deps import dev_dependency_names
from mllint.project.files import ProjectFile, ProjectIndex, ini_header_line
from mllint.project.pyscan import span_in
from mllint.project.tomlpos import toml_string
from mllint.rule import FixSafety

BUILTIN_MARKERS = frozenset(
    {"parametrize", "skip", "skipif", "xfail", "usefixtures", "filterwarnings"}
)
#: markers provided by plugins -> the distributions that provide them
PLUGIN_MARKERS: dict[str, tuple[str, ...]] = {
    "asyncio": ("pytest-asyncio",),
    "anyio": ("anyio",),
    "trio": ("pytest-trio",),
    "django_db": ("pytest-django",),
    "timeout": ("pytest-timeout",),
    "benchmark": ("pytest-benchmark",),
    "flaky": ("flaky", "pytest-rerunfailures"),
    "order": ("pytest-order",),
    "dependency": ("pytest-dependency",),
    "xdist_group": ("pytest-xdist",),
    "vcr": ("pytest-recording", "pytest-vcr"),
    "httpx_mock": ("pytest-httpx",),
}
_MARKER_NAME = re.compile(r"\s*([A-Za-z_]\w*)")
_ADDINI = re.compile(
    r"addinivalue_line\(\s*['\"]markers['\"]\s*,\s*[rbuRB]?f?['\"]\s*([A-Za-z_]\w*)"
)


@dataclass
class PytestConfig:
    """The configuration pytest would use, with its registered markers."""

    file: ProjectFile | None
    kind: str  # "ini" | "pyproject" | "pyproject-native" | "pytest.toml"
    section: str
    markers: set[str] = field(default_factory=set)
    #: pytest.ini with only a [tool:pytest] section: pytest ignores every option in it
    ignored: bool = False

    def describe(self) -> str:
        return self.file.name if self.file is not None else "the pytest configuration"


def _ini_markers(parser: configparser.ConfigParser, section: str) -> set[str]:
    try:
        raw = parser.get(section, "markers", fallback="")
    except configparser.Error:
        return set()
    out = set()
    for line in raw.splitlines():
        m = _MARKER_NAME.match(line)
        if m and line.strip():
            out.add(m.group(1))
    return out


def _list_markers(value: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(value, str):
        value = value.splitlines()
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                m = _MARKER_NAME.match(item)
                if m:
                    out.add(m.group(1))
    return out


def effective_config(index: ProjectIndex) -> PytestConfig | None:
    """pytest's precedence: pytest.toml, .pytest.toml, pytest.ini (even without a [pytest]
    section), .pytest.ini, pyproject.toml, tox.ini, setup.cfg. None: no configuration."""
    memo = index.cache.get("pytest-config", False)
    if memo is not False:
        return memo  # type: ignore[no-any-return]
    found: PytestConfig | None = None
    for name in ("pytest.toml", ".pytest.toml"):
        data = index.parsed(name)
        if isinstance(data, dict):
            table = data.get("pytest")
            found = PytestConfig(
                index.config(name),
                "pytest.toml",
                "pytest",
                _list_markers(table.get("markers")) if isinstance(table, dict) else set(),
            )
            break
    if found is None:
        for name in ("pytest.ini", ".pytest.ini"):
            parser = index.parsed(name)
            if isinstance(parser, configparser.ConfigParser):
                if parser.has_section("pytest"):
                    found = PytestConfig(
                        index.config(name), "ini", "pytest", _ini_markers(parser, "pytest")
                    )
                else:
                    found = PytestConfig(index.config(name), "ini", "pytest", set(), ignored=True)
                break
    if found is None:
        tool = index.pyproject().get("tool")
        pytest_table = tool.get("pytest") if isinstance(tool, dict) else None
        if isinstance(pytest_table, dict):
            ini = pytest_table.get("ini_options")
            if isinstance(ini, dict):
                found = PytestConfig(
                    index.config("pyproject.toml"),
                    "pyproject",
                    "tool.pytest.ini_options",
                    _list_markers(ini.get("markers")),
                )
            elif pytest_table:
                found = PytestConfig(
                    index.config("pyproject.toml"),
                    "pyproject-native",
                    "tool.pytest",
                    _list_markers(pytest_table.get("markers")),
                )
    if found is None:
        for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
            parser = index.parsed(name)
            if isinstance(parser, configparser.ConfigParser) and parser.has_section(section):
                found = PytestConfig(
                    index.config(name), "ini", section, _ini_markers(parser, section)
                )
                break
    index.cache["pytest-config"] = found
    return found


def _ini_add_marker(pf: ProjectFile, section: str, entry: str) -> FileEdit | None:
    header = ini_header_line(pf.text, section)
    if header is None:
        return None
    lines = pf.text.splitlines(keepends=True)
    newline = "\r\n" if "\r\n" in pf.text else "\n"
    end = len(lines)
    for i in range(header, len(lines)):
        if re.match(r"^\s*\[", lines[i]):
            end = i
            break
    key_line = None
    for i in range(header, end):
        if re.match(r"^markers\s*[=:]", lines[i]):
            key_line = i
            break
    if key_line is not None:
        last = key_line
        indent = "    "
        for i in range(key_line + 1, end):
            line = lines[i]
            if not line.strip():
                continue
            if line[0] in " \t" and not line.lstrip().startswith(("#", ";")):
                last = i
                indent = line[: len(line) - len(line.lstrip())]
            elif line[0] in " \t":
                continue
            else:
                break
        at = sum(len(x) for x in lines[: last + 1])
        text = lines[last]
        if not text.endswith(("\n", "\r")):
            return FileEdit(pf.relpath, at, at, f"{newline}{indent}{entry}")
        return FileEdit(pf.relpath, at, at, f"{indent}{entry}{newline}")
    last = header - 1
    for i in range(header, end):
        if lines[i].strip():
            last = i
    at = sum(len(x) for x in lines[: last + 1])
    prefix = "" if lines[last].endswith(("\n", "\r")) else newline
    return FileEdit(pf.relpath, at, at, f"{prefix}markers ={newline}    {entry}{newline}")


def _toml_add_marker(pf: ProjectFile, path: tuple[str, ...], entry: str) -> ProjectFix | None:
    import tomlkit

    try:
        doc = tomlkit.parse(pf.text)
    except Exception:
        return None
    table: Any = doc
    for key in path:
        if key not in table:
            table = None
            break
        table = table[key]
    if table is None:
        newline = "\r\n" if "\r\n" in pf.text else "\n"
        sep = "" if pf.text.endswith(("\n", "\r")) or not pf.text else newline
        add = f"{sep}{newline}[{'.'.join(path)}]{newline}markers = [{newline}    {toml_string(entry)},{newline}]{newline}"
        if not pf.text.strip():
            add = add.lstrip("\r\n")
        return ProjectFix(FixSafety.SAFE, [FileEdit(pf.relpath, len(pf.text), len(pf.text), add)])
    markers = table.get("markers")
    if markers is None:
        table["markers"] = [entry]
    elif isinstance(markers, list):
        markers.append(entry)
    else:
        return None
    return ProjectFix.rewrite(FixSafety.SAFE, pf, tomlkit.dumps(doc))


def marker_fix(index: ProjectIndex, cfg: PytestConfig | None, name: str) -> ProjectFix | None:
    entry = f"{name}: TODO describe"
    if cfg is None:
        pf = index.config("pyproject.toml")
        if pf is None:
            return None
        return _toml_add_marker(pf, ("tool", "pytest", "ini_options"), entry)
    if cfg.file is None or cfg.ignored:
        return None
    if cfg.kind == "ini":
        edit = _ini_add_marker(cfg.file, cfg.section, entry)
        return ProjectFix(FixSafety.SAFE, [edit]) if edit is not None else None
    if cfg.kind == "pyproject":
        return _toml_add_marker(cfg.file, ("tool", "pytest", "ini_options"), entry)
    if cfg.kind == "pyproject-native":
        return _toml_add_marker(cfg.file, ("tool", "pytest"), entry)
    return _toml_add_marker(cfg.file, ("pytest",), entry)


def _mark_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(names bound to the pytest module, names bound to ``pytest.mark``)."""
    pytest_names, mark_names = set(), set()
    for node in walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "pytest":
                    pytest_names.add(a.asname or "pytest")
        elif isinstance(node, ast.ImportFrom) and node.module == "pytest" and node.level == 0:
            for a in node.names:
                if a.name == "mark":
                    mark_names.add(a.asname or "mark")
    return pytest_names, mark_names


# the tokens of ``mark . <name>`` may be separated by spaces, line continuations and (inside
# brackets) newlines and comments
_SEP = r"(?:\s|\\|#[^\n]*)*"
# (no leading \b: a pattern that starts with a literal is searched for fast; the match is
# checked to start a word instead)
_MARK_ATTR = re.compile(rf"mark{_SEP}\.{_SEP}(\w+)")
_MARK_ALIAS = re.compile(rf"mark{_SEP}as\b")


def _starts_word(text: str, m: re.Match[str]) -> bool:
    i = m.start()
    return i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")


def _may_mark_unknown(text: str, known: set[str]) -> bool:
    """Whether a file can use a marker outside ``known``: a text search for ``mark.<name>``
    (with any ``import pytest as ...`` alias the attribute chain still ends in it), so that
    the test files using only built-in and registered markers (most of them) are never
    parsed. ``from pytest import mark as m`` hides the names: such a file is parsed."""
    if "mark" not in text:
        return False
    if any(_starts_word(text, m) for m in _MARK_ALIAS.finditer(text)):
        return True
    for m in _MARK_ATTR.finditer(text):
        name = m.group(1)
        if name not in known and not name.startswith("_") and _starts_word(text, m):
            return True
    return False


def _marker_of(expr: ast.expr, pytest_names: set[str], mark_names: set[str]) -> str | None:
    if isinstance(expr, ast.Call):
        expr = expr.func
    if not isinstance(expr, ast.Attribute):
        return None
    base = expr.value
    if isinstance(base, ast.Name) and base.id in mark_names:
        return expr.attr
    if (
        isinstance(base, ast.Attribute)
        and base.attr == "mark"
        and isinstance(base.value, ast.Name)
        and base.value.id in pytest_names
    ):
        return expr.attr
    return None


class UnregisteredPytestMarker(ProjectRule):
    """
    ## What it does
    Flags `@pytest.mark.<name>` decorators (also `@mark.<name>` after `from pytest import
    mark`) and `pytestmark = pytest.mark.<name>` (or a list of them) in test files, when
    `<name>` is not built in (`parametrize`, `skip`, `skipif`, `xfail`, `usefixtures`,
    `filterwarnings`), not provided by a plugin the project declares (`asyncio` with
    `pytest-asyncio`, `anyio`, `trio`, `django_db`, `timeout`, `benchmark`, `flaky`, `order`,
    `dependency`, `xdist_group`, `vcr`, `httpx_mock`), and not registered in the
    configuration pytest uses — with pytest's precedence: `pytest.toml`, `pytest.ini` (even
    without a `[pytest]` section), `pyproject.toml` `[tool.pytest.ini_options]`, `tox.ini`
    `[pytest]`, `setup.cfg` `[tool:pytest]` — nor with `config.addinivalue_line("markers",
    ...)` in a `conftest.py`.

    ## Why is this bad?
    An unregistered mark is only a warning (`PytestUnknownMarkWarning`), so a misspelled mark
    (`@pytest.mark.gpus`) is silently never matched by `-m gpu` / `-m "not gpu"`, and the
    wrong tests run or are skipped in CI. Register every mark and set `strict_markers = true`
    (the ini key or the `--strict-markers` flag; with pytest 9.0.3, `--strict-markers` given
    through `addopts` was not enforced).

    ## Example
    ```python
    @pytest.mark.gpu
    def test_cuda_kernel(): ...
    ```
    with `markers = ["slow: long tests"]` only.

    ## Use instead
    ```toml
    [tool.pytest.ini_options]
    markers = ["slow: long tests", "gpu: needs a CUDA device"]
    strict_markers = true
    ```

    ## Fix safety
    Safe: appends `"<name>: TODO describe"` to the `markers` of the configuration file pytest
    uses (creating `[tool.pytest.ini_options]` in `pyproject.toml` when there is no pytest
    configuration); comments and formatting are kept. Registering a marker changes nothing
    but the warning. The finding is in the test file, the edit in the configuration file.
    """

    code = "ML795"
    name = "unregistered-pytest-marker"
    summary = "A custom `pytest.mark.<name>` is not registered in the pytest configuration"
    tier = 2
    fix_safety = (FixSafety.SAFE,)
    options = (Option("extend-known-markers", "list[str]", [], "Marker names never reported."),)
    reads: ClassVar[tuple[str, ...]] = ("pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")

    def check(self) -> None:
        from mllint.globs import matches_any

        settings = self.project.settings
        tests = [
            rel for rel in self.project.python_relpaths() if matches_any(rel, settings.test_paths)
        ]
        if not tests:
            return
        cfg = effective_config(self.project)
        known = set(BUILTIN_MARKERS) | set(self.opts.get("extend-known-markers", ()))
        if cfg is not None:
            known |= cfg.markers
        dev = dev_dependency_names(self.project)
        for marker, dists in PLUGIN_MARKERS.items():
            if any(d in dev for d in dists):
                known.add(marker)
        for rel in tests:
            pf = self.project.python_file(rel)
            if pf is not None and rel.rsplit("/", 1)[-1] == "conftest.py":
                known.update(_ADDINI.findall(pf.text))
        fixes: dict[str, ProjectFix | None] = {}
        for rel in tests:
            pf = self.project.python_file(rel)
            if pf is None or not _may_mark_unknown(pf.text, known):
                continue
            mod = self.project.module(rel)
            tree = mod.tree if mod is not None else None
            if tree is None:
                continue
            pytest_names, mark_names = _mark_names(tree)
            if not pytest_names and not mark_names:
                continue
            for expr in self._mark_exprs(tree):
                name = _marker_of(expr, pytest_names, mark_names)
                if name is None or name in known or name.startswith("_"):
                    continue
                if name not in fixes:
                    fixes[name] = marker_fix(self.project, cfg, name)
                start, end = span_in(pf, expr)
                where = cfg.describe() if cfg is not None else "the pytest configuration"
                self.report_at(
                    pf,
                    start,
                    end,
                    f"pytest.mark.{name} is not registered in {where} 'markers'; it only warns "
                    "(PytestUnknownMarkWarning), and a typo silently deselects nothing — "
                    "register it (and enable strict markers)",
                    fixes[name],
                )

    @staticmethod
    def _mark_exprs(tree: ast.Module) -> list[ast.expr]:
        out: list[ast.expr] = []
        for node in walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.extend(node.decorator_list)
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
            ):
                value = node.value
                out.extend(value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value])
        return out


class PytestIniWrongSection(ProjectRule):
    """
    ## What it does
    Flags a `pytest.ini` that has a `[tool:pytest]` section and no `[pytest]` section.
    Reported at the header line.

    ## Why is this bad?
    `[tool:pytest]` is only valid in `setup.cfg`. pytest picks `pytest.ini` as its
    configuration file whenever it exists, ignores the `[tool:pytest]` section entirely
    (registered markers, `testpaths`, `addopts` have no effect), and also ignores
    `[tool.pytest.ini_options]` in `pyproject.toml` because `pytest.ini` wins (verified with
    pytest 9.0.3).

    ## Example
    ```ini
    [tool:pytest]
    testpaths = tests
    ```

    ## Use instead
    ```ini
    [pytest]
    testpaths = tests
    ```

    ## Fix safety
    Unsafe: renames the header to `[pytest]`. Options that were silently ignored start to
    apply (strict markers or `testpaths` may change which tests run or fail).
    """

    code = "ML796"
    name = "pytest-ini-wrong-section"
    summary = "`pytest.ini` uses the `[tool:pytest]` header, so all its options are ignored"
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    reads: ClassVar[tuple[str, ...]] = ("pytest.ini",)

    def check(self) -> None:
        pf = self.project.config("pytest.ini")
        parser = self.project.parsed("pytest.ini")
        if pf is None or not isinstance(parser, configparser.ConfigParser):
            return
        if not parser.has_section("tool:pytest") or parser.has_section("pytest"):
            return
        line = ini_header_line(pf.text, "tool:pytest")
        if line is None:
            return
        text = pf.index.line_text(line)
        m = re.search(r"\[\s*tool:pytest\s*\]", text)
        if m is None:
            return
        start = pf.offset(line, m.start() + 1)
        end = pf.offset(line, m.end() + 1)
        self.report_at(
            pf,
            start,
            end,
            "pytest.ini has no [pytest] section ('[tool:pytest]' is only valid in setup.cfg): "
            "every option here is ignored, and this file still takes precedence over pyproject.toml",
            ProjectFix(FixSafety.UNSAFE, [FileEdit(pf.relpath, start, end, "[pytest]")]),
        )
