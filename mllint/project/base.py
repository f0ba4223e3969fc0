"""The project-rule API: :class:`ProjectRule`, :class:`ProjectFix` and :class:`FileEdit`.

A project rule reads the whole project (configuration files and Python files, through a
:class:`~mllint.project.files.ProjectIndex`) once per run, instead of one module at a time.
It is a :class:`mllint.rule.Rule` subclass, so the registry, the catalog, the generated docs,
``mllint rules``/``explain``, ``--select``/``--ignore``, ``per-file-ignores`` and rule
options all work unchanged; its ``requires_filename`` can never match, so the per-file engine
(and with it the flake8 plugin) never runs it. It reports findings at character offsets of any
project file (``pyproject.toml``, ``.pre-commit-config.yaml``, ``pytest.ini``, a ``.py``
file...) and offers fixes as plain text edits, possibly in another file than the finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import libcst as cst

from mllint.rule import FixSafety, Rule

if TYPE_CHECKING:
    from mllint.project.files import ProjectFile, ProjectIndex

#: a file name no module ever has: the per-file engine's pre-scan skips project rules
NEVER_A_FILE = "\0project-rule"


@dataclass(frozen=True)
class FileEdit:
    """Replace ``[start, end)`` (character offsets) of the project file ``relpath``."""

    relpath: str
    start: int
    end: int
    text: str


@dataclass
class ProjectFix:
    safety: FixSafety
    edits: list[FileEdit] = field(default_factory=list)

    @staticmethod
    def rewrite(safety: FixSafety, file: ProjectFile, new_text: str) -> ProjectFix | None:
        """The smallest single edit turning ``file.text`` into ``new_text`` (None if equal);
        used with format-preserving writers such as tomlkit."""
        old = file.text
        if old == new_text:
            return None
        start = 0
        limit = min(len(old), len(new_text))
        while start < limit and old[start] == new_text[start]:
            start += 1
        end_old, end_new = len(old), len(new_text)
        while end_old > start and end_new > start and old[end_old - 1] == new_text[end_new - 1]:
            end_old -= 1
            end_new -= 1
        return ProjectFix(safety, [FileEdit(file.relpath, start, end_old, new_text[start:end_new])])


@dataclass
class ProjectFinding:
    code: str
    name: str
    relpath: str
    start: int
    end: int
    message: str
    fix: ProjectFix | None = None


class ProjectRule(Rule):
    """Base class of the rules that read project files (ML704, ML78x, ML79x, ML971)."""

    requires_filename: ClassVar[str | None] = NEVER_A_FILE
    #: the project files this rule reads (for the docs and for skipping work)
    reads: ClassVar[tuple[str, ...]] = ()

    def __init__(self, project: ProjectIndex, options: Mapping[str, Any]) -> None:
        cst.BatchableCSTVisitor.__init__(self)
        self.project = project
        self.opts = options
        self.findings: list[ProjectFinding] = []
        self.violations = []

    def check(self) -> None:
        """Inspect ``self.project`` and call :meth:`report_at`."""
        raise NotImplementedError

    def report_at(
        self,
        file: ProjectFile,
        start: int,
        end: int,
        message: str,
        fix: ProjectFix | None = None,
    ) -> None:
        self.findings.append(
            ProjectFinding(self.code, self.name, file.relpath, start, max(start, end), message, fix)
        )

    def report_line(
        self,
        file: ProjectFile,
        line: int,
        column: int,
        end_column: int | None,
        message: str,
        fix: ProjectFix | None = None,
    ) -> None:
        """Report at a 1-based line and column (``end_column`` None: to the end of line)."""
        start = file.offset(line, column)
        if end_column is None:
            text = file.index.line_text(line)
            end = file.offset(line, len(text) + 1)
        else:
            end = file.offset(line, end_column)
        self.report_at(file, start, end, message, fix)
