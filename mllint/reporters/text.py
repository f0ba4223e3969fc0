"""The default terminal format (rich): location, code, name, message, the source line with
the span marked, and a summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from mllint.reporters import Report, statistics_lines, summary_line

if TYPE_CHECKING:
    from rich.text import Text


def render_text(report: Report, out: TextIO, quiet: bool, statistics: bool) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, highlight=False, soft_wrap=True)
    # one print for everything: rich's per-call overhead (options, buffering, rendering)
    # was most of a warm run's time on a tree with hundreds of findings
    lines: list[Text] = []
    if statistics:
        lines.extend(Text(line) for line in statistics_lines(report))
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
            lines.append(head)
            if v.source_line and not quiet:
                lines.extend(
                    _source_lines(v.source_line, v.line, v.column, v.end_line, v.end_column)
                )
    for e in report.file_errors:
        t = Text()
        t.append(f"{e.filename}:", style="bold")
        t.append(" error: ", style="bold red")
        t.append(str(e.error))
        lines.append(t)
    if not quiet:
        if report.violations or report.file_errors or report.fixed:
            lines.append(Text(summary_line(report), style="bold"))
        else:
            n = report.files_checked
            lines.append(Text(f"All checks passed ({n} file{'s' if n != 1 else ''})."))
    if lines:
        console.print(Text("\n").join(lines))


#: columns per tab in the quoted source line (the carets are placed on the same expansion)
TAB_SIZE = 4


def _source_lines(
    source_line: str, line: int, column: int, end_line: int, end_column: int
) -> list[Text]:
    """The quoted source line and the carets under the reported span. Tabs are expanded
    here, and the carets are placed by the expanded width of the text before them, so they
    stay under the span in tab-indented code."""
    from rich.text import Text

    start = column - 1
    end = end_column - 1 if end_line == line else len(source_line)
    src = source_line.expandtabs(TAB_SIZE)
    left = len(source_line[:start].expandtabs(TAB_SIZE))
    right = len(source_line[:end].expandtabs(TAB_SIZE))
    prefix = f"{line:>5} | "
    return [
        Text(prefix, style="blue") + Text(src),
        Text(" " * len(prefix) + " " * left + "^" * max(1, right - left), style="red"),
    ]
