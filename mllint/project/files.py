"""The project: its root, its configuration files (read and parsed once per run, with clear
errors naming file and position) and a lazily built index of its Python files.

Project files: ``pyproject.toml``, ``ruff.toml``/``.ruff.toml``, ``.pre-commit-config.yaml``
(``.yml``), ``pytest.toml``/``.pytest.toml``, ``pytest.ini``/``.pytest.ini``, ``tox.ini``,
``setup.cfg``. Everything is kept in memory as text, so that fixes are applied to the text,
re-parsed and checked again before anything is written.
"""

from __future__ import annotations

import ast
import configparser
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mllint.lineindex import LineIndex as LineIndex  # re-exported for the project rules

#: files that mark a project root, nearest first (a ``.git`` folder marks one too)
ROOT_MARKERS = (
    "pyproject.toml",
    ".pre-commit-config.yaml",
    ".pre-commit-config.yml",
    "pytest.ini",
    "setup.cfg",
    "tox.ini",
)
TOML_FILES = ("pyproject.toml", "ruff.toml", ".ruff.toml", "pytest.toml", ".pytest.toml")
YAML_FILES = (".pre-commit-config.yaml", ".pre-commit-config.yml")
INI_FILES = ("pytest.ini", ".pytest.ini", "tox.ini", "setup.cfg")
PROJECT_FILES = (*TOML_FILES, *YAML_FILES, *INI_FILES)


def find_project_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` holding a project file (or ``.git``)."""
    start = Path(os.path.abspath(start))
    if not start.is_dir():
        start = start.parent
    for d in (start, *start.parents):
        if any((d / name).is_file() for name in ROOT_MARKERS) or (d / ".git").exists():
            return d
    return start


class ParseError(Exception):
    """A malformed project file: ``message`` and 1-based ``line``/``column`` when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def describe(self, kind: str) -> str:
        where = ""
        if self.line is not None:
            where = f" at line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"invalid {kind}{where}: {self.message}"


@dataclass
class ProjectFile:
    """One text file of the project (configuration or Python), as currently known."""

    path: Path  # absolute
    relpath: str  # posix, relative to the project root
    display: str  # as shown to the user
    text: str
    decoded: Any = None  # mllint.runner.Decoded of the file on disk (None: not on disk)
    _index: LineIndex | None = field(default=None, repr=False)
    _parsed: Any = field(default=None, repr=False)
    _parsed_for: str | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def kind(self) -> str:
        if self.name in YAML_FILES:
            return "YAML"
        if self.name in INI_FILES:
            return "INI"
        if self.name.endswith((".py", ".pyi")):
            return "Python"
        return "TOML"

    @property
    def index(self) -> LineIndex:
        if self._index is None or self._index.source is not self.text:
            self._index = LineIndex(self.text)
        return self._index

    def set_text(self, text: str) -> None:
        self.text = text
        self._index = None
        self._parsed_for = None

    def position(self, offset: int) -> tuple[int, int]:
        return self.index.position(offset)

    def offset(self, line: int, column: int) -> int:
        return self.index.offset(line, column)

    def parsed(self) -> Any:
        """The parsed content (raises :class:`ParseError`); cached per text."""
        if self._parsed_for is self.text:
            if isinstance(self._parsed, ParseError):
                raise self._parsed
            return self._parsed
        try:
            value: Any = parse_text(self.kind, self.text)
        except ParseError as exc:
            value = exc
        self._parsed, self._parsed_for = value, self.text
        if isinstance(value, ParseError):
            raise value
        return value


def parse_text(kind: str, text: str) -> Any:
    if kind == "TOML":
        from mllint.project.tomlpos import TomlError, parse_toml

        try:
            return parse_toml(text)
        except TomlError as exc:
            raise ParseError(exc.message, exc.line, exc.column) from None
    if kind == "YAML":
        import yaml

        try:
            return yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or str(exc)
            if exc.context:
                problem = f"{problem} ({exc.context})"
            if mark is not None:
                raise ParseError(problem, mark.line + 1, mark.column + 1) from None
            raise ParseError(problem) from None
        except yaml.YAMLError as exc:
            raise ParseError(str(exc)) from None
    if kind == "INI":
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(text)
        except configparser.MissingSectionHeaderError as exc:
            raise ParseError("the first setting is not inside a [section]", exc.lineno, 1) from None
        except configparser.ParsingError as exc:
            lineno = exc.errors[0][0] if exc.errors else None
            raise ParseError(
                "a line is neither a [section], a 'key = value' nor a continuation", lineno, 1
            ) from None
        except configparser.Error as exc:
            raise ParseError(str(exc).splitlines()[0]) from None
        return parser
    if kind == "Python":
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError) as exc:
            raise ParseError(
                str(exc), getattr(exc, "lineno", None), getattr(exc, "offset", None)
            ) from None
    raise AssertionError(kind)  # pragma: no cover


def ini_header_line(text: str, section: str) -> int | None:
    """The 1-based line of ``[section]`` in an INI text."""
    pat = re.compile(r"^\s*\[\s*" + re.escape(section) + r"\s*\]")
    for i, line in enumerate(text.splitlines(), start=1):
        if pat.match(line):
            return i
    return None


@dataclass
class PythonModule:
    file: ProjectFile
    name: str | None  # dotted module name (``pkg.sub.mod``; ``pkg`` for pkg/__init__.py)
    is_package: bool

    @property
    def tree(self) -> ast.Module | None:
        try:
            tree = self.file.parsed()
        except ParseError:
            return None  # ML000 is reported by the per-file run
        assert isinstance(tree, ast.Module)
        return tree


class ProjectIndex:
    """Everything the project rules read, loaded once per run and kept in memory."""

    def __init__(
        self,
        root: Path,
        settings: Any,
        python_files: Sequence[tuple[Path, str, str]] = (),
    ) -> None:
        self.root = root
        self.settings = settings
        self.files: dict[str, ProjectFile] = {}  # by relpath
        self.errors: dict[str, str] = {}  # relpath -> message
        self._python: list[str] = []
        self._pending: dict[str, tuple[Path, str]] = {}
        for path, relpath, display in python_files:
            self._python.append(relpath)
            self._pending[relpath] = (path, display)
        self.cache: dict[str, Any] = {}  # per-run memo for rules (import graph, ...)
        for name in PROJECT_FILES:
            p = root / name
            if p.is_file():
                self._load(p, name, _display(p))

    # -- loading -----------------------------------------------------------------------
    def _load(self, path: Path, relpath: str, display: str) -> ProjectFile | None:
        from mllint.runner import FileReadError, read_source

        if relpath in self.files:
            return self.files[relpath]
        if relpath in self.errors:
            return None
        try:
            decoded = read_source(path)
        except FileReadError as exc:
            self.errors[relpath] = str(exc)
            return None
        pf = ProjectFile(path, relpath, display, decoded.text, decoded)
        self.files[relpath] = pf
        return pf

    def config(self, name: str) -> ProjectFile | None:
        """A project file at the root, or None when absent or unreadable."""
        return self.files.get(name)

    def parsed(self, name: str) -> Any:
        """The parsed content of a root project file; None when absent or malformed (the
        error is reported once by the runner)."""
        pf = self.files.get(name)
        if pf is None:
            return None
        try:
            return pf.parsed()
        except ParseError:
            return None

    def pyproject(self) -> dict[str, Any]:
        data = self.parsed("pyproject.toml")
        return data if isinstance(data, dict) else {}

    def project_table(self) -> dict[str, Any]:
        project = self.pyproject().get("project")
        return project if isinstance(project, dict) else {}

    def parse_errors(self) -> Iterator[tuple[ProjectFile, ParseError]]:
        for pf in self.files.values():
            if pf.kind == "Python":
                continue
            try:
                pf.parsed()
            except ParseError as exc:
                yield pf, exc

    # -- Python files --------------------------------------------------------------------
    def python_relpaths(self) -> list[str]:
        return list(self._python)

    def python_file(self, relpath: str) -> ProjectFile | None:
        if relpath in self.files:
            return self.files[relpath]
        pending = self._pending.get(relpath)
        if pending is not None:
            return self._load(pending[0], relpath, pending[1])
        p = self.root / relpath
        if p.is_file():
            return self._load(p, relpath, _display(p))
        return None

    def python_files(self, relpaths: Iterable[str] | None = None) -> Iterator[ProjectFile]:
        for rel in self._python if relpaths is None else relpaths:
            pf = self.python_file(rel)
            if pf is not None:
                yield pf

    def module(self, relpath: str) -> PythonModule | None:
        pf = self.python_file(relpath)
        if pf is None:
            return None
        name, is_pkg = module_name_of(relpath, self.root)
        return PythonModule(pf, name, is_pkg)

    def find_module(self, dotted: str) -> PythonModule | None:
        """The first-party module ``dotted`` (a package's ``__init__.py`` or a ``.py`` file
        under the root or ``src/``)."""
        memo = self.cache.setdefault("_modules", {})
        if dotted in memo:
            return memo[dotted]  # type: ignore[no-any-return]
        found: PythonModule | None = None
        parts = dotted.split(".")
        for base in ("", "src/"):
            for rel in (f"{base}{'/'.join(parts)}/__init__.py", f"{base}{'/'.join(parts)}.py"):
                if (self.root / rel).is_file():
                    found = self.module(rel)
                    break
            if found is not None:
                break
        memo[dotted] = found
        return found

    def top_level_packages(self) -> list[str]:
        """Directories with ``__init__.py`` directly under ``src/`` or the root (tests,
        docs, examples and excluded folders aside)."""
        if "_top" in self.cache:
            return self.cache["_top"]  # type: ignore[no-any-return]
        from mllint.globs import matches_any

        skip = {
            "tests",
            "test",
            "testing",
            "docs",
            "doc",
            "examples",
            "example",
            "scripts",
            "benchmarks",
            "benchmark",
            "build",
            "dist",
            "notebooks",
            "tools",
            "src",
        }
        excludes = (*self.settings.exclude, *self.settings.extend_exclude)
        out: list[str] = []
        for base in (self.root / "src", self.root):
            if not base.is_dir():
                continue
            try:
                entries = sorted(os.scandir(base), key=lambda e: e.name)
            except OSError:
                continue
            for e in entries:
                if e.name in skip or e.name.startswith((".", "_")) or not e.is_dir():
                    continue
                rel = Path(e.path).relative_to(self.root).as_posix()
                if matches_any(rel, excludes) or matches_any(
                    rel + "/__init__.py", self.settings.test_paths
                ):
                    continue
                if (
                    (Path(e.path) / "__init__.py").is_file()
                    and e.name.isidentifier()
                    and e.name not in out
                ):
                    out.append(e.name)
        self.cache["_top"] = out
        return out


def module_name_of(relpath: str, root: Path) -> tuple[str | None, bool]:
    """(dotted module name, is a package ``__init__``) of a Python file, from the folders
    with ``__init__.py`` above it."""
    path = root / relpath
    is_pkg = path.name == "__init__.py"
    parts: list[str] = [] if is_pkg else [path.name.rsplit(".", 1)[0]]
    d = path.parent
    while (d / "__init__.py").is_file() and d != root.parent:
        parts.append(d.name)
        if d == root:
            break
        d = d.parent
    if not parts:
        return None, is_pkg
    return ".".join(reversed(parts)), is_pkg


def _display(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:  # pragma: no cover
        rel = str(path)
    if rel.startswith(".." + os.sep):
        rel = str(path)
    return rel.replace(os.sep, "/")
