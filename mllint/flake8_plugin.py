"""mllint's rules as a flake8 plugin: ``pip install "mllint[flake8]"`` then ``flake8 --select ML``.

flake8 does the selection (``--select``, ``--ignore``, ``--extend-ignore``,
``--per-file-ignores``, ``# noqa``); this plugin reads ``[tool.mllint]`` only for rule options,
project facts and file roles (``test-paths``, ``script-paths``). Every default-off rule is in
ML9xx (RULES.md §0.1), so the plugin registers ``ML9`` as a default ignore. Rules that read
project files (ML78x, ML79x) and the engine's ML000 never run here; flake8 reports syntax errors
itself (E999).

Cost: flake8 imports this module at start-up, even for runs that never use it, so it imports
nothing but :mod:`mllint` at module level. Configuration is read once per directory (and shared
per configuration file); which rules run comes from the rule catalog, which imports no rule.
The rule classes (and libcst) are imported once per process, on the first file of a project in
which at least one ML rule runs: the engine's text pre-scan needs their ``requires_text``.
A file on which no rule can fire is never parsed. When flake8 would report no ML code at all
(``--select E,F``), nothing beyond this module is imported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import mllint

if TYPE_CHECKING:
    import argparse

    from mllint.config import Settings

#: rules that read project files (``pyproject.toml``, ``.pre-commit-config.yaml``): CLI only
PROJECT_FILE_BANDS = ("ML78", "ML79")
#: reported by the engine for files it cannot parse; flake8 reports E999 itself
SYNTAX_ERROR_CODE = "ML000"
#: default-off rules (RULES.md §0.1: every one of them is in ML9xx)
DEFAULT_OFF_PREFIX = "ML9"

FlakeResult = tuple[int, int, str, type]


@dataclass(frozen=True)
class Selection:
    """Which rules run, from flake8's parsed options.

    ``wanted`` holds the ML codes flake8 would report (per-file ignores and ``# noqa`` aside:
    they only ever remove codes, and flake8 applies them to what the plugin yields); None when
    flake8's decision engine could not be consulted (then every rule runs). ``explicit`` holds
    the ``--select``/``--extend-select`` entries: a default-off rule runs only when one of them
    names it more precisely than the whole ``ML`` namespace, so that ``flake8 --select ML`` (an
    explicit select, which in flake8 beats the default ignore ``ML9``) leaves them off.
    """

    wanted: frozenset[str] | None = None
    explicit: tuple[str, ...] = ()

    def runs(self, code: str, default_enabled: bool) -> bool:
        if code == SYNTAX_ERROR_CODE or code.startswith(PROJECT_FILE_BANDS):
            return False
        if self.wanted is not None and code not in self.wanted:
            return False
        if default_enabled:
            return True
        return any(len(s) > 2 and code.startswith(s) for s in self.explicit)

    @property
    def nothing_wanted(self) -> bool:
        return self.wanted is not None and not self.wanted

    @classmethod
    def from_flake8(cls, options: argparse.Namespace) -> Selection:
        chosen = (
            *(getattr(options, "select", None) or ()),
            *(getattr(options, "extend_select", None) or ()),
        )
        explicit = tuple(s.strip().upper() for s in chosen if isinstance(s, str) and s.strip())
        try:
            from flake8.style_guide import Decision, DecisionEngine

            engine = DecisionEngine(options)
            wanted = frozenset(
                code
                for code in (f"ML{i:03d}" for i in range(1000))
                if engine.decision_for(code) is Decision.Selected
            )
        except Exception:  # an internal flake8 API: without it, every rule runs
            return cls(None, explicit)
        return cls(wanted, explicit)


@dataclass
class _Project:
    #: the file's configuration, without per-file-ignores (flake8's own apply)
    settings: Settings
    #: the codes of the rules that run (from the rule catalog: no rule is imported)
    codes: frozenset[str]


#: directory of a checked file -> its project (None: the configuration could not be read)
_BY_DIRECTORY: dict[str, _Project | None] = {}
#: (config file, root) -> the projects read from that configuration
_BY_CONFIG: dict[tuple[str, str], list[_Project]] = {}
_WARNED: set[str] = set()


def _warn(message: str) -> None:
    """One line on standard error, once per process and message; never raises."""
    if message in _WARNED:
        return
    _WARNED.add(message)
    try:
        sys.stderr.write(f"mllint (flake8 plugin): {message}\n")
        sys.stderr.flush()
    except Exception:  # pragma: no cover - a closed stderr must not break flake8
        pass


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _project_for(filename: str, selection: Selection) -> _Project | None:
    """The configuration of the project ``filename`` belongs to, read once per directory and
    shared by every directory that uses the same configuration."""
    directory = os.path.dirname(os.path.abspath(filename))
    if directory in _BY_DIRECTORY:
        return _BY_DIRECTORY[directory]
    from mllint.catalog import catalog
    from mllint.config import ConfigError, load_settings

    project: _Project | None
    try:
        settings = load_settings([Path(filename)]).with_overrides(per_file_ignores=())
    except ConfigError as exc:
        _warn(f"{_one_line(str(exc))}; no ML findings are reported for files using it")
        project = None
    else:
        key = (str(settings.config_file), str(settings.root))
        known = _BY_CONFIG.setdefault(key, [])
        project = next((p for p in known if p.settings == settings), None)
        if project is None:
            codes = frozenset(
                code
                for code, info in catalog().items()
                if selection.runs(code, info.default_enabled)
            )
            project = _Project(settings, codes)
            known.append(project)
    _BY_DIRECTORY[directory] = project
    return project


def _clear_caches() -> None:
    _BY_DIRECTORY.clear()
    _BY_CONFIG.clear()


class MLLintChecker:
    """The flake8 checker: one instance per file.

    flake8 classifies plugins by their parameters and only knows tree, logical-line and
    physical-line plugins, so ``tree`` is accepted (flake8 has built it anyway) but unused:
    mllint parses the file with libcst, and only when the text pre-scan says a rule may fire.
    """

    name = "mllint"
    version = mllint.__version__

    #: set by :meth:`parse_options`; the default (no flake8 options seen) runs default-on rules
    selection: ClassVar[Selection] = Selection()

    disable_noqa: bool = False

    def __init__(self, lines: Sequence[str], filename: str, tree: object = None) -> None:
        self.lines = lines
        self.filename = filename

    @staticmethod
    def add_options(parser: Any) -> None:
        parser.extend_default_ignore([DEFAULT_OFF_PREFIX])

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        try:
            cls.selection = Selection.from_flake8(options)
        except Exception as exc:  # pragma: no cover - flake8 changed its options
            _warn(f"cannot read flake8's selection ({_one_line(repr(exc))}); running every rule")
            cls.selection = Selection()
        cls.disable_noqa = bool(getattr(options, "disable_noqa", False))
        _clear_caches()

    def run(self) -> Iterator[FlakeResult]:
        try:
            found = self._check()
        except Exception as exc:  # never let one file's internal error stop flake8
            _warn(
                f"internal error while checking {self.filename} "
                f"({_one_line(f'{type(exc).__name__}: {exc}')}); "
                "no ML findings are reported for this file"
            )
            return
        yield from found

    def _check(self) -> list[FlakeResult]:
        selection = type(self).selection
        if selection.nothing_wanted:
            return []
        project = _project_for(self.filename, selection)
        if project is None or not project.codes:
            return []
        from mllint.runner import relpath_to_root

        source = "".join(self.lines)
        relpath = relpath_to_root(self.filename, project.settings.root)

        from mllint.api import make_request
        from mllint.cache import package_of
        from mllint.engine import lint_source

        # lint_source runs the pre-scan (text, then ast gates with this file's real roles:
        # test file, package __init__...) and parses with libcst only when a rule can fire
        request = make_request(
            project.settings,
            relpath,
            package=package_of(Path(os.path.abspath(self.filename))),
            want_edits=False,
            codes=project.codes,
            abspath=os.path.abspath(self.filename),
        )
        request.syntax_errors = False
        # flake8 applies suppression comments itself; with --disable-noqa it wants every finding
        request.apply_noqa = not type(self).disable_noqa
        result = lint_source(source, request)
        cls = type(self)
        return [
            (v.line, max(v.column - 1, 0), f"{v.code} [{v.name}] {v.message}", cls)
            for v in result.violations
            if v.code != SYNTAX_ERROR_CODE
        ]


__all__ = ["MLLintChecker", "Selection"]
