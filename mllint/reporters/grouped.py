"""Findings grouped by file: a ``path:`` header, then ``  line:col CODE [name] message``."""

from __future__ import annotations

from typing import TextIO

from mllint.reporters import Report, statistics_lines, summary_line


def render_grouped(report: Report, out: TextIO, quiet: bool, statistics: bool) -> None:
    if statistics:
        for line in statistics_lines(report):
            out.write(line + "\n")
    groups: dict[str, list[str]] = {}
    if not statistics:
        for v in report.violations:
            groups.setdefault(v.filename, []).append(
                f"  {v.location()[len(v.filename) + 1 :]} {v.code} [{v.name}] {v.message}"
            )
    for e in report.file_errors:
        groups.setdefault(e.filename, []).append(f"  error: {e.error}")
    for filename, lines in groups.items():
        out.write(f"{filename}:\n")
        for line in lines:
            out.write(line + "\n")
        out.write("\n")
    if not quiet and (report.violations or report.file_errors or report.fixed):
        out.write(summary_line(report) + "\n")
