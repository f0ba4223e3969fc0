"""Plain data describing findings; no libcst here, so reporters and the cache stay light."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TextEdit:
    """Replace ``[line:column, end_line:end_column)`` (1-based) with ``content``."""

    content: str
    line: int
    column: int
    end_line: int
    end_column: int

    def to_json(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
        }


@dataclass(frozen=True)
class FixInfo:
    applicability: str  # "safe" | "unsafe"
    edits: tuple[TextEdit, ...]

    def to_json(self) -> dict[str, Any]:
        return {"applicability": self.applicability, "edits": [e.to_json() for e in self.edits]}


@dataclass(frozen=True)
class Violation:
    code: str
    name: str
    message: str
    filename: str
    line: int
    column: int
    end_line: int
    end_column: int
    fix: FixInfo | None = None
    #: source line (for the text reporter); not part of the JSON schema
    source_line: str = field(default="", compare=False)
    #: notebooks: the 1-based cell number (every cell counts); line/column are in the cell
    cell: int | None = None
    #: notebooks: the line of the .ipynb file that holds the reported line (for annotations)
    file_line: int | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "filename": self.filename,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "fix": self.fix.to_json() if self.fix else None,
        } | ({"cell": self.cell} if self.cell is not None else {})

    @staticmethod
    def from_json(data: dict[str, Any], source_line: str = "") -> Violation:
        fix = data.get("fix")
        return Violation(
            data["code"],
            data["name"],
            data["message"],
            data["filename"],
            data["line"],
            data["column"],
            data["end_line"],
            data["end_column"],
            FixInfo(fix["applicability"], tuple(TextEdit(**e) for e in fix["edits"]))
            if fix
            else None,
            source_line,
            data.get("cell"),
            data.get("file_line"),
        )

    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (self.filename, self.cell or 0, self.line, self.column, self.code)

    def location(self) -> str:
        """``path:line:col``, or ``path:cell 5:line 3:col 8`` in a notebook."""
        if self.cell is not None:
            return f"{self.filename}:cell {self.cell}:line {self.line}:col {self.column}"
        return f"{self.filename}:{self.line}:{self.column}"

    def annotation_line(self) -> int:
        """The line of the file on disk (differs from ``line`` in notebooks)."""
        return self.file_line if self.file_line is not None else self.line

    def cell_prefix(self) -> str:
        """``"cell 5, line 3: "`` for notebook findings in file-level annotations."""
        return f"cell {self.cell}, line {self.line}: " if self.cell is not None else ""


@dataclass
class FileResult:
    """The outcome of checking (and maybe fixing) one file."""

    filename: str
    violations: list[Violation] = field(default_factory=list)
    #: the fixed source, when fixing changed it
    fixed_source: str | None = None
    #: number of fixes applied, per code
    fixes_applied: dict[str, int] = field(default_factory=dict)
    #: a problem with the file itself (unreadable, not UTF-8...), reported as an error line
    error: str | None = None
    #: set when the file was written / would be written by --fix
    changed: bool = False
