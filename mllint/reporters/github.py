"""GitHub Actions workflow commands: one ``::error`` annotation per finding.

``::error file=src/a.py,line=5,col=14,endLine=5,endColumn=33,title=ML102 nan-equality::msg``

GitHub shows these as annotations on the pull request's changed lines and in the run summary.
"""

from __future__ import annotations

from typing import TextIO

from mllint.reporters import Report


def escape_data(text: str) -> str:
    """Escape the message (the part after ``::``) the way the Actions runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a property value (``file=``, ``title=``...): ``:`` and ``,`` delimit them."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _command(properties: list[tuple[str, object]], message: str) -> str:
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties)
    return f"::error {props}::{escape_data(message)}"


def render_github(report: Report, out: TextIO, quiet: bool, statistics: bool) -> None:
    for v in report.violations:
        if v.cell is not None:  # a notebook: the line of the .ipynb file, the cell in the text
            out.write(
                _command(
                    [
                        ("file", v.filename),
                        ("line", v.annotation_line()),
                        ("title", f"{v.code} {v.name}"),
                    ],
                    v.cell_prefix() + v.message,
                )
                + "\n"
            )
            continue
        out.write(
            _command(
                [
                    ("file", v.filename),
                    ("line", v.line),
                    ("col", v.column),
                    ("endLine", v.end_line),
                    ("endColumn", v.end_column),
                    ("title", f"{v.code} {v.name}"),
                ],
                v.message,
            )
            + "\n"
        )
    for e in report.file_errors:
        out.write(_command([("file", e.filename)], str(e.error)) + "\n")
