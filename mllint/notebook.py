"""Jupyter notebooks: lint the code cells of an ``.ipynb`` file as one module, fix them, and
write the notebook back byte-for-byte except the sources of the cells a fix changed.

* The notebook is read with :mod:`json` and checked against the nbformat 4 schema with the
  ``nbformat`` package (imported only when a notebook is checked).
* The code cells are joined in cell order, each preceded by a separator comment line, so a
  name imported in cell 1 resolves in cell 5 and every module line maps back to one cell.
* IPython syntax that is not Python (``%magic``, ``!shell``, ``?help``, ``obj?``,
  ``x = !cmd``) is replaced by a ``pass`` placeholder of the same indentation before parsing
  and restored exactly afterwards. A cell that starts with a cell magic (``%%bash``,
  ``%%time`` ...) is not linted.
* On write, only the JSON text of the changed ``source`` values is replaced (in the style of
  the original: a list of lines or one string, the same indentation and escaping), so outputs,
  metadata, key order, indentation and the trailing newline stay exactly as they were.
"""

from __future__ import annotations

import bisect
import json
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

from mllint.diagnostics import FileResult, FixInfo, TextEdit, Violation

if TYPE_CHECKING:
    from collections.abc import Callable

    from mllint.engine import LintRequest

__all__ = ["Cell", "Notebook", "NotebookError", "lint_notebook", "parse_notebook"]

#: the separator line written before each code cell in the joined module
SEPARATOR_PREFIX = "# mllint-cell:"
_SEPARATOR_RE = re.compile(r"^# mllint-cell:(\d+)\r?\n?$")
_PLACEHOLDER = "pass  # mllint-magic:{}"
_PLACEHOLDER_RE = re.compile(r"^[ \t]*pass  # mllint-magic:(\d+)[ \t]*(\r?\n)?$")
#: a line IPython treats as a help request: ``obj?``, ``obj.attr??``, ``?obj``
_HELP_RE = re.compile(r"^\s*(\?\??[\w.]+|[\w.\[\]'\"()]+\?\??)\s*$")
#: ``x = !ls`` / ``files = %sx ls``
_MAGIC_ASSIGN_RE = re.compile(r"^\s*[\w.,\s\[\]()]+=\s*[!%]")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


#: the standard library's JSON string scanner (public in CPython, missing from typeshed)
_scanstring = cast("Callable[[str, int], tuple[str, int]]", json.decoder.scanstring)  # type: ignore[attr-defined]


class NotebookError(Exception):
    """The file is not a notebook mllint can check (not JSON, not nbformat 4, ...)."""


@dataclass
class Cell:
    """One entry of the notebook's ``cells`` array."""

    index: int  # 0-based position in ``cells``
    cell_type: str
    source: str
    #: [start, end) of the ``source`` value in the notebook text
    span: tuple[int, int] = (0, 0)
    #: the value was a JSON list of lines (Jupyter's own format) rather than one string
    as_list: bool = True
    #: offsets of the list elements (one per line) in the notebook text
    element_offsets: list[int] = field(default_factory=list)
    #: the whitespace before the first element / before the closing bracket (list style)
    element_indent: str | None = None
    closing_indent: str | None = None

    @property
    def number(self) -> int:
        """The 1-based cell number shown to users (counting every cell, like ruff and the
        notebook UIs)."""
        return self.index + 1


@dataclass
class _Segment:
    cell: Cell
    start_line: int  # 1-based module line of the cell's first line
    line_count: int
    masks: dict[int, str]  # placeholder id -> original line (with its line ending)
    ends_with_newline: bool


@dataclass
class Notebook:
    text: str
    data: dict[str, Any]
    cells: list[Cell]
    ensure_ascii: bool
    _segments: list[_Segment] = field(default_factory=list)
    _module: str | None = None
    _line_starts: list[int] = field(default_factory=list)

    # -- the joined module ------------------------------------------------------------------
    def module_source(self) -> str:
        """The code cells joined into one module (cell-magic cells left out)."""
        if self._module is not None:
            return self._module
        parts: list[str] = []
        line = 1
        next_mask = 0
        for cell in self.cells:
            if cell.cell_type != "code" or _has_cell_magic(cell.source):
                continue
            masked, masks, next_mask = _mask(cell.source, next_mask)
            if not masked.endswith("\n"):
                masked += "\n"
            parts.append(f"{SEPARATOR_PREFIX}{cell.index}\n")
            count = masked.count("\n")
            self._segments.append(
                _Segment(cell, line + 1, count, masks, cell.source.endswith("\n"))
            )
            parts.append(masked)
            line += 1 + count
        self._module = "".join(parts)
        return self._module

    def locate(self, line: int) -> tuple[Cell, int] | None:
        """The cell and the 1-based line inside it for a module line (None on a separator)."""
        self.module_source()
        starts = [s.start_line for s in self._segments]
        i = bisect.bisect_right(starts, line) - 1
        if i < 0:
            return None
        seg = self._segments[i]
        if line >= seg.start_line + seg.line_count:
            return None
        return seg.cell, line - seg.start_line + 1

    def file_line(self, cell: Cell, line: int) -> int:
        """The line of the notebook file on which ``line`` of ``cell`` is stored."""
        if not self._line_starts:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        if cell.as_list and cell.element_offsets:
            offset = cell.element_offsets[min(line, len(cell.element_offsets)) - 1]
        else:
            offset = cell.span[0]
        return bisect.bisect_right(self._line_starts, offset)

    # -- writing fixes back ------------------------------------------------------------------
    def apply_module(self, fixed: str) -> str:
        """The notebook text with the cells changed by ``fixed`` (a fixed version of
        :meth:`module_source`) rewritten. Raises NotebookError when the fix cannot be mapped
        back to the cells exactly."""
        self.module_source()
        lines = fixed.splitlines(keepends=True)
        chunks: list[tuple[int, list[str]]] = []
        prefix: list[str] = []
        for ln in lines:
            m = _SEPARATOR_RE.match(ln)
            if m:
                chunks.append((int(m.group(1)), []))
            elif chunks:
                chunks[-1][1].append(ln)
            else:
                prefix.append(ln)  # e.g. an import a fix inserted above the first cell
        expected = [s.cell.index for s in self._segments]
        if [c for c, _ in chunks] != expected:
            raise NotebookError("the fix moved code across cells; fixes not written")
        if prefix and chunks:
            chunks[0] = (chunks[0][0], prefix + chunks[0][1])
        replacements: list[tuple[tuple[int, int], str]] = []
        for seg, (_, body) in zip(self._segments, chunks, strict=True):
            new_source = _unmask(body, seg.masks)
            if not seg.ends_with_newline and new_source.endswith("\n"):
                new_source = new_source[:-1]
            if new_source != seg.cell.source:
                replacements.append((seg.cell.span, self._render(seg.cell, new_source)))
        out = self.text
        for (start, end), value in sorted(replacements, reverse=True):
            out = out[:start] + value + out[end:]
        try:
            json.loads(out)
        except ValueError as exc:  # pragma: no cover - the renderer writes valid JSON
            raise NotebookError(f"the fixed notebook is not valid JSON ({exc})") from None
        return out

    def _render(self, cell: Cell, source: str) -> str:
        if not cell.as_list:
            return json.dumps(source, ensure_ascii=self.ensure_ascii)
        elements = [json.dumps(s, ensure_ascii=self.ensure_ascii) for s in _jupyter_lines(source)]
        if not elements:
            return "[]"
        if cell.element_indent is None:
            return "[" + ", ".join(elements) + "]"
        closing = cell.closing_indent if cell.closing_indent is not None else ""
        joined = ("," + cell.element_indent).join(elements)
        return "[" + cell.element_indent + joined + closing + "]"


def _jupyter_lines(source: str) -> list[str]:
    """Split like Jupyter: every line keeps its newline, the last one may have none."""
    return source.splitlines(keepends=True)


# -- reading ---------------------------------------------------------------------------------


def parse_notebook(text: str) -> Notebook:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise NotebookError(f"not a valid notebook: invalid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise NotebookError("not a valid notebook: the top level is not a JSON object")
    major = data.get("nbformat")
    if major != 4:
        found = "missing" if major is None else repr(major)
        raise NotebookError(f"not a valid notebook: nbformat 4 is required (found {found})")
    _validate(data)
    cells = _scan_cells(text)
    raw_cells = data.get("cells", [])
    if len(cells) != len(raw_cells):  # pragma: no cover - duplicate keys in the JSON
        raise NotebookError("not a valid notebook: cannot locate the cells in the file")
    for cell, raw in zip(cells, raw_cells, strict=True):
        cell.cell_type = str(raw.get("cell_type", ""))
        src = raw.get("source", "")
        cell.source = "".join(src) if isinstance(src, list) else str(src)
    ensure_ascii = not any(ord(ch) > 127 for ch in text) and bool(
        re.search(r"\\u(?:00[89a-fA-F]|0[1-9a-fA-F]|[1-9a-fA-F])", text)
    )
    return Notebook(text, data, cells, ensure_ascii)


def _validate(data: dict[str, Any]) -> None:
    try:
        import nbformat
        from nbformat.validator import ValidationError
    except ImportError:  # pragma: no cover - nbformat is a dependency
        return
    try:
        with warnings.catch_warnings():  # e.g. MissingIDFieldWarning: not our business
            warnings.simplefilter("ignore")
            nbformat.validate(data, version=4)
    except ValidationError as exc:
        where = "/".join(str(p) for p in getattr(exc, "absolute_path", ()) or ())
        first = str(getattr(exc, "message", exc)).splitlines()[0]
        at = f" at {where}" if where else ""
        raise NotebookError(f"not a valid nbformat 4 notebook{at}: {first}") from None
    except Exception as exc:  # nbformat raises a variety of errors
        raise NotebookError(f"not a valid nbformat 4 notebook: {exc}") from None


class _Scanner:
    """Just enough of a JSON scanner to find where each cell's ``source`` value is."""

    def __init__(self, text: str) -> None:
        self.t = text
        self.i = 0

    def fail(self) -> NotebookError:
        return NotebookError(f"not a valid notebook: cannot read the JSON at offset {self.i}")

    def ws(self) -> None:
        t, i, n = self.t, self.i, len(self.t)
        while i < n and t[i] in " \t\r\n":
            i += 1
        self.i = i

    def expect(self, ch: str) -> None:
        self.ws()
        if not self.t.startswith(ch, self.i):
            raise self.fail()
        self.i += 1

    def peek(self) -> str:
        self.ws()
        return self.t[self.i] if self.i < len(self.t) else ""

    def string(self) -> str:
        self.expect('"')
        value, self.i = _scanstring(self.t, self.i)
        return value

    def skip(self) -> None:
        ch = self.peek()
        if ch == "{":
            self.members(lambda _key: self.skip())
        elif ch == "[":
            self.elements(self.skip)
        elif ch == '"':
            self.string()
        else:
            for word in ("true", "false", "null"):
                if self.t.startswith(word, self.i):
                    self.i += len(word)
                    return
            m = _NUMBER_RE.match(self.t, self.i)
            if not m:
                raise self.fail()
            self.i = m.end()

    def members(self, on_value: Any) -> None:
        self.expect("{")
        if self.peek() == "}":
            self.i += 1
            return
        while True:
            key = self.string()
            self.expect(":")
            on_value(key)
            if self.peek() == ",":
                self.i += 1
                continue
            self.expect("}")
            return

    def elements(self, on_element: Any) -> None:
        self.expect("[")
        if self.peek() == "]":
            self.i += 1
            return
        while True:
            on_element()
            if self.peek() == ",":
                self.i += 1
                continue
            self.expect("]")
            return


def _scan_cells(text: str) -> list[Cell]:
    sc = _Scanner(text)
    cells: list[Cell] = []

    def source_value(cell: Cell) -> None:
        sc.ws()
        start = sc.i
        if sc.peek() == "[":
            cell.as_list = True
            sc.i += 1
            first_ws_start = sc.i
            sc.ws()
            if sc.t[sc.i] != "]":
                cell.element_indent = sc.t[first_ws_start : sc.i] or None
                while True:
                    sc.ws()
                    cell.element_offsets.append(sc.i)
                    sc.string()
                    before = sc.i
                    sc.ws()
                    if sc.t[sc.i] == ",":
                        sc.i += 1
                        continue
                    cell.closing_indent = sc.t[before : sc.i]
                    if sc.t[sc.i] != "]":
                        raise sc.fail()
                    break
            sc.i += 1
        else:
            cell.as_list = False
            sc.string()
        cell.span = (start, sc.i)

    def cell_object() -> None:
        cell = Cell(len(cells), "", "")
        cells.append(cell)

        def member(key: str) -> None:
            if key == "source":
                source_value(cell)
            else:
                sc.skip()

        if sc.peek() != "{":
            sc.skip()
            return
        sc.members(member)

    def top(key: str) -> None:
        if key == "cells" and sc.peek() == "[":
            sc.elements(cell_object)
        else:
            sc.skip()

    sc.members(top)
    return cells


# -- IPython syntax ---------------------------------------------------------------------------


def _has_cell_magic(source: str) -> bool:
    for line in source.splitlines():
        if line.strip():
            return line.lstrip().startswith("%%")
    return False


def _statement_starts(lines: list[str]) -> list[bool]:
    """For each line: does it start outside brackets, strings and continuations (so that a
    leading ``%``/``!`` there is IPython syntax, not an operator or string content)?"""
    out: list[bool] = []
    depth = 0
    quote: str | None = None  # the open string's delimiter
    continued = False
    for line in lines:
        out.append(depth == 0 and quote is None and not continued)
        continued = False
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            if quote is not None:
                if ch == "\\":
                    i += 2
                    continue
                if line.startswith(quote, i):
                    i += len(quote)
                    quote = None
                    continue
                i += 1
                continue
            if ch == "#":
                break
            if ch in "\"'":
                triple = line[i : i + 3]
                quote = triple if triple in ('"""', "'''") else ch
                i += len(quote)
                continue
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth = max(0, depth - 1)
            i += 1
        stripped = line.rstrip("\r\n")
        if quote is not None and len(quote) == 1:
            quote = None  # an unterminated one-line string: a syntax error, not our business
        if stripped.endswith("\\") and quote is None:
            continued = True
    return out


def _is_ipython_line(line: str) -> bool:
    stripped = line.lstrip()
    if not stripped or stripped.startswith("#"):
        return False
    if stripped[0] in "%!":
        return True
    if stripped[0] == "?" or _HELP_RE.match(line):
        return True
    return bool(_MAGIC_ASSIGN_RE.match(line))


def _mask(source: str, next_id: int) -> tuple[str, dict[int, str], int]:
    lines = source.splitlines(keepends=True)
    starts = _statement_starts(lines)
    masks: dict[int, str] = {}
    out: list[str] = []
    continuing = False
    indent = ""
    for line, at_start in zip(lines, starts, strict=True):
        if continuing or (at_start and _is_ipython_line(line)):
            body = line.rstrip("\r\n")
            ending = line[len(body) :]
            if not continuing:  # continuation lines share the first line's indentation
                indent = body[: len(body) - len(body.lstrip())]
            masks[next_id] = line
            out.append(indent + _PLACEHOLDER.format(next_id) + (ending or ""))
            next_id += 1
            continuing = body.endswith("\\")
        else:
            out.append(line)
    return "".join(out), masks, next_id


def _unmask(lines: list[str], masks: dict[int, str]) -> str:
    seen: set[int] = set()
    out: list[str] = []
    for ln in lines:
        m = _PLACEHOLDER_RE.match(ln)
        if m and int(m.group(1)) in masks:
            ident = int(m.group(1))
            if ident in seen:
                raise NotebookError("a fix duplicated an IPython line; fixes not written")
            seen.add(ident)
            original = masks[ident]
            if not original.endswith("\n") and ln.endswith("\n"):
                original += "\n"  # the cell's last line, followed by more code now
            out.append(original)
        else:
            out.append(ln)
    if seen != set(masks):
        raise NotebookError("a fix removed an IPython line; fixes not written")
    return "".join(out)


# -- linting -----------------------------------------------------------------------------------


def lint_notebook(text: str, request: LintRequest) -> FileResult:
    """Lint (and with ``request.fix``, fix) a notebook's text. Findings carry the cell number
    and the line inside the cell; ``fixed_source`` is the whole fixed notebook text."""
    from mllint.engine import lint_source

    try:
        nb = parse_notebook(text)
    except NotebookError as exc:
        return FileResult(request.display or request.facts.path, error=str(exc))
    result = lint_source(nb.module_source(), request)
    if result.fixed_source is None:
        result.violations = [_map_violation(nb, v) for v in result.violations]
        return result
    # the remaining findings are positioned in the fixed module: map them with the fixed
    # notebook (whose joined module is the fixed module, unless a fix put text above the
    # first cell, in which case the fixed notebook is checked again)
    fixed_module = result.fixed_source
    try:
        new_text = nb.apply_module(fixed_module)
        fixed_nb = parse_notebook(new_text)
    except NotebookError as exc:
        plain = lint_source(nb.module_source(), replace(request, fix=None))
        plain.violations = [_map_violation(nb, v) for v in plain.violations]
        plain.error = str(exc)
        return plain
    if fixed_nb.module_source() != fixed_module:
        again = lint_source(fixed_nb.module_source(), replace(request, fix=None))
        result.violations = again.violations
    result.violations = [_map_violation(fixed_nb, v) for v in result.violations]
    result.fixed_source = new_text if new_text != text else None
    return result


def _place(nb: Notebook, line: int) -> tuple[Cell, int]:
    found = nb.locate(line)
    if found is not None:
        return found
    segments = nb._segments
    if not segments:  # pragma: no cover - no code, so no finding
        raise NotebookError("finding outside every cell")
    before = [s for s in segments if s.start_line <= line] or segments[:1]
    seg = before[-1]
    return seg.cell, max(1, min(line - seg.start_line + 1, seg.line_count))


def _map_violation(nb: Notebook, v: Violation) -> Violation:
    cell, line = _place(nb, v.line)
    end = nb.locate(v.end_line)
    if end is not None and end[0] is cell:
        end_line, end_column = end[1], v.end_column
    else:
        end_line, end_column = line, v.column
    fix = v.fix
    if fix is not None:
        edits: list[TextEdit] = []
        for e in fix.edits:
            a, b = nb.locate(e.line), nb.locate(e.end_line)
            if a is None or b is None or a[0] is not cell or b[0] is not cell:
                edits = []  # an edit outside the cell (e.g. an import): not expressible per cell
                break
            edits.append(replace(e, line=a[1], end_line=b[1]))
        fix = FixInfo(fix.applicability, tuple(edits))
    return replace(
        v,
        message=_LINE_REF_RE.sub(lambda m: _cell_line_ref(nb, m), v.message),
        line=line,
        end_line=end_line,
        end_column=end_column,
        fix=fix,
        cell=cell.number,
        file_line=nb.file_line(cell, line),
    )


#: "line 13" in a message (ML505's "fitted ... (line 13)"): a line of the joined module
_LINE_REF_RE = re.compile(r"\bline (\d+)\b")


def _cell_line_ref(nb: Notebook, m: re.Match[str]) -> str:
    found = nb.locate(int(m.group(1)))
    if found is None:
        return m.group(0)
    return f"cell {found[0].number} line {found[1]}"
