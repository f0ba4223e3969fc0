"""Output formats. Each reporter renders a :class:`Report` to a text stream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from mllint.diagnostics import FileResult, Violation

FORMATS = ("text", "concise", "json", "json-lines", "grouped", "github", "gitlab", "sarif", "junit")


@dataclass
class Report:
    violations: list[Violation]
    file_errors: list[FileResult] = field(default_factory=list)
    files_checked: int = 0
    fixed: dict[str, int] = field(default_factory=dict)
    files_changed: int = 0
    #: whether fixes were requested (changes the summary wording)
    fix_mode: str | None = None
    unsafe_enabled: bool = False

    def fixable_counts(self) -> tuple[int, int]:
        """(fixable with --fix, additionally fixable with --unsafe-fixes)."""
        safe = sum(1 for v in self.violations if v.fix and v.fix.applicability == "safe")
        unsafe = sum(1 for v in self.violations if v.fix and v.fix.applicability == "unsafe")
        return safe, unsafe


def get_reporter(name: str) -> Callable[[Report, TextIO, bool, bool], None]:
    """``(report, stream, quiet, statistics) -> None``."""
    if name == "json":
        from mllint.reporters.json_format import render_json

        return render_json
    if name == "concise":
        from mllint.reporters.concise import render_concise

        return render_concise
    if name == "text":
        from mllint.reporters.text import render_text

        return render_text
    if name == "json-lines":
        from mllint.reporters.json_lines import render_json_lines

        return render_json_lines
    if name == "grouped":
        from mllint.reporters.grouped import render_grouped

        return render_grouped
    if name == "github":
        from mllint.reporters.github import render_github

        return render_github
    if name == "gitlab":
        from mllint.reporters.gitlab import render_gitlab

        return render_gitlab
    if name == "sarif":
        from mllint.reporters.sarif import render_sarif

        return render_sarif
    if name == "junit":
        from mllint.reporters.junit import render_junit

        return render_junit
    raise KeyError(name)


def summary_line(report: Report) -> str:
    n = len(report.violations)
    safe, unsafe = report.fixable_counts()
    parts = [f"{n} finding{'s' if n != 1 else ''}"]
    if report.fixed:
        total = sum(report.fixed.values())
        parts.insert(
            0,
            f"fixed {total} finding{'s' if total != 1 else ''} in {report.files_changed} file{'s' if report.files_changed != 1 else ''}",
        )
        parts[1] = f"{n} remaining"
    if safe:
        parts.append(f"{safe} fixable with --fix")
    if unsafe and not report.unsafe_enabled:
        parts.append(f"{unsafe} with --unsafe-fixes")
    elif unsafe:
        parts.append(f"{unsafe} fixable with --fix (unsafe fixes enabled)")
    if report.file_errors:
        e = len(report.file_errors)
        parts.append(f"{e} file{'s' if e != 1 else ''} could not be checked")
    return ", ".join(parts) + "."


def statistics_lines(report: Report) -> list[str]:
    counts: dict[tuple[str, str], list[int]] = {}
    for v in report.violations:
        entry = counts.setdefault((v.code, v.name), [0, 0])
        entry[0] += 1
        if v.fix is not None:
            entry[1] += 1
    rows = sorted(counts.items(), key=lambda kv: (-kv[1][0], kv[0][0]))
    width = max((len(str(c[0])) for _, c in rows), default=1)
    out = []
    for (code, name), (count, fixable) in rows:
        mark = "[*]" if fixable == count else "[-]" if fixable else "   "
        out.append(f"{count:>{width}}\t{code}\t{mark} {name}")
    return out
