"""``path:line:col: ML101 [float-equality] message``, one finding per line."""

from __future__ import annotations

from typing import TextIO

from mllint.reporters import Report, statistics_lines, summary_line


def finding_line(v: object) -> str:
    from mllint.diagnostics import Violation

    assert isinstance(v, Violation)
    return f"{v.location()}: {v.code} [{v.name}] {v.message}"


def render_concise(report: Report, out: TextIO, quiet: bool, statistics: bool) -> None:
    if statistics:
        for line in statistics_lines(report):
            out.write(line + "\n")
    else:
        for v in report.violations:
            out.write(finding_line(v) + "\n")
    for e in report.file_errors:
        out.write(f"{e.filename}: error: {e.error}\n")
    if not quiet and (report.violations or report.file_errors or report.fixed):
        out.write(summary_line(report) + "\n")
