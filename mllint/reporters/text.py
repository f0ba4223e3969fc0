"""The default terminal format (rich): location, code, name, message, the source line with
the span marked, and a summary."""

from __future__ import annotations

from typing import TextIO

from mllint.reporters import Report, statistics_lines, summary_line


def render_text(report: Report, out: TextIO, quiet: bool, statistics: bool) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, highlight=False, soft_wrap=True)
    if statistics:
        for line in statistics_lines(report):
            console.print(Text(line))
    else:
        for v in report.violations:
            head = Text()
            head.append(f"{v.location()}:", style="bold")
            head.append(" ")
            head.append(v.code, style="bold red")
            head.append(f" [{v.name}]", style="magenta")
            head.append(" ")
            head.append(v.message)
            if v.fix is not None:
                head.append(
                    " [*]" if v.fix.applicability == "safe" else " [unsafe fix]", style="cyan"
                )
            console.print(head)
            if v.source_line and not quiet:
                src = (
                    v.source_line.expandtabs(4)
                    if "\t" not in v.source_line[: v.column]
                    else v.source_line
                )
                prefix = f"{v.line:>5} | "
                console.print(Text(prefix, style="blue") + Text(src))
                start = v.column - 1
                end = v.end_column - 1 if v.end_line == v.line else len(v.source_line)
                width = max(1, end - start)
                console.print(Text(" " * len(prefix) + " " * start + "^" * width, style="red"))
    for e in report.file_errors:
        t = Text()
        t.append(f"{e.filename}:", style="bold")
        t.append(" error: ", style="bold red")
        t.append(str(e.error))
        console.print(t)
    if not quiet:
        if report.violations or report.file_errors or report.fixed:
            console.print(Text(summary_line(report), style="bold"))
        else:
            console.print(
                Text(
                    f"All checks passed ({report.files_checked} file{'s' if report.files_checked != 1 else ''})."
                )
            )
