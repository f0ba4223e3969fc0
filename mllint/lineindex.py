"""Offset <-> (line, column) conversion for one source string (standard library only, so the
project-files runner and reporters can use it without importing libcst)."""

from __future__ import annotations

import bisect
import re

_NEWLINE_RE = re.compile(r"\r\n?|\n")


class LineIndex:
    """Offset <-> (1-based line, 1-based column) conversion for one source string."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.starts = [0] + [m.end() for m in _NEWLINE_RE.finditer(source)]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column - 1

    def line_text(self, line: int) -> str:
        if line - 1 >= len(self.starts):
            return ""
        start = self.starts[line - 1]
        end = self.starts[line] if line < len(self.starts) else len(self.source)
        return self.source[start:end].rstrip("\r\n")
