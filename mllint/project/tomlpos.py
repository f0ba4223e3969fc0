"""Positions inside a TOML document, for reporting and for surgical, format-preserving edits.

``tomllib`` validates and gives the data; it has no positions. :class:`TomlLocator` scans the
raw text once (strings, comments, multi-line arrays and inline tables are skipped correctly)
and records, for every key/value pair, the character offsets of the key and of the value, the
top-level elements of array values, and the span of every ``[table]`` / ``[[array]]`` header
with the end of its body. Keys are full dotted paths as tuples, with array-of-tables entries
numbered: ``("tool", "ruff", "lint", "select")``, ``("tool", "poetry", "source", 0, "url")``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

Key = tuple[Any, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_POS_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


class TomlError(Exception):
    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def parse_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads`` with the error position split out (raises :class:`TomlError`)."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        line = getattr(exc, "lineno", None)
        col = getattr(exc, "colno", None)
        m = _POS_RE.search(msg)
        if m:
            msg = msg[: m.start()]
            line, col = int(m.group(1)), int(m.group(2))
        elif line is not None:
            msg = getattr(exc, "msg", msg)
        raise TomlError(msg, line, col) from None


@dataclass
class Entry:
    key_start: int
    key_end: int
    value_start: int
    value_end: int
    #: top-level elements of an array value: (start, end) of each element
    elements: list[tuple[int, int]] = field(default_factory=list)
    #: whether an array value spans several lines
    multiline: bool = False


@dataclass
class Header:
    start: int
    end: int  # end of the header line (before its newline)
    body_end: int  # end of the last non-blank, non-comment line of the table's body


class TomlLocator:
    def __init__(self, text: str) -> None:
        self.text = text
        self.entries: dict[Key, Entry] = {}
        self.headers: dict[Key, Header] = {}
        self._aot_counts: dict[Key, int] = {}
        self._scan()

    # -- public ------------------------------------------------------------------------
    def entry(self, *key: Any) -> Entry | None:
        return self.entries.get(tuple(key))

    def header(self, *key: Any) -> Header | None:
        return self.headers.get(tuple(key))

    def line_end(self, offset: int) -> int:
        nl = self.text.find("\n", offset)
        return len(self.text) if nl < 0 else nl

    # -- scanning ----------------------------------------------------------------------
    def _scan(self) -> None:
        t = self.text
        n = len(t)
        pos = 0
        table: Key = ()
        current_header: Key | None = None
        last_content_end = 0
        while pos < n:
            pos = self._skip_ws_nl_comments(pos)
            if pos >= n:
                break
            if t[pos] == "[":
                if current_header is not None:
                    self.headers[current_header].body_end = last_content_end
                start = pos
                aot = t.startswith("[[", pos)
                pos += 2 if aot else 1
                keys, pos = self._parse_key(pos)
                pos = self._skip_inline_ws(pos)
                pos += 2 if aot else 1
                key: Key = tuple(keys)
                if aot:
                    idx = self._aot_counts.get(key, 0)
                    self._aot_counts[key] = idx + 1
                    key = (*key, idx)
                table = key
                end = self.line_end(pos)
                self.headers[key] = Header(start, _rstrip_comment(t, start, end), end)
                current_header = key
                last_content_end = self.headers[key].end
                pos = end
                continue
            key_start = pos
            keys, pos = self._parse_key(pos)
            key_end = pos
            pos = self._skip_inline_ws(pos)
            if pos < n and t[pos] == "=":
                pos += 1
            pos = self._skip_inline_ws(pos)
            value_start = pos
            entry = Entry(key_start, key_end, value_start, value_start)
            pos = self._skip_value(pos, entry, top=True)
            entry.value_end = pos
            full = self._resolve(table, keys)
            self.entries[full] = entry
            last_content_end = pos
            pos = self.line_end(pos)
        if current_header is not None:
            self.headers[current_header].body_end = last_content_end

    def _resolve(self, table: Key, keys: list[str]) -> Key:
        return (*table, *keys)

    def _skip_inline_ws(self, pos: int) -> int:
        t = self.text
        while pos < len(t) and t[pos] in " \t":
            pos += 1
        return pos

    def _skip_ws_nl_comments(self, pos: int) -> int:
        t = self.text
        while pos < len(t):
            c = t[pos]
            if c in " \t\r\n":
                pos += 1
            elif c == "#":
                pos = self.line_end(pos)
            else:
                break
        return pos

    def _parse_key(self, pos: int) -> tuple[list[str], int]:
        t = self.text
        keys: list[str] = []
        while pos < len(t):
            pos = self._skip_inline_ws(pos)
            if pos < len(t) and t[pos] in "\"'":
                end = self._skip_string(pos)
                raw = t[pos:end]
                try:
                    keys.append(tomllib.loads(f"k = {raw}")["k"])
                except tomllib.TOMLDecodeError:
                    keys.append(raw[1:-1])
                pos = end
            else:
                m = _BARE.match(t, pos)
                if not m:
                    break
                keys.append(m.group(0))
                pos = m.end()
            pos = self._skip_inline_ws(pos)
            if pos < len(t) and t[pos] == ".":
                pos += 1
                continue
            break
        return keys, pos

    def _skip_string(self, pos: int) -> int:
        t = self.text
        q = t[pos]
        if t.startswith(q * 3, pos):
            end = t.find(q * 3, pos + 3)
            if end < 0:
                return len(t)
            end += 3
            while end < len(t) and t[end] == q:  # up to two quotes may close the string
                end += 1
            return end
        pos += 1
        while pos < len(t):
            c = t[pos]
            if c == "\\" and q == '"':
                pos += 2
                continue
            if c == q:
                return pos + 1
            if c == "\n":
                return pos
            pos += 1
        return pos

    def _skip_value(self, pos: int, entry: Entry | None, top: bool = False) -> int:
        t = self.text
        if pos >= len(t):
            return pos
        c = t[pos]
        if c in "\"'":
            return self._skip_string(pos)
        if c == "[":
            start_line = t.count("\n", 0, pos)
            pos += 1
            while pos < len(t):
                pos = self._skip_ws_nl_comments(pos)
                if pos >= len(t):
                    break
                if t[pos] == "]":
                    pos += 1
                    break
                if t[pos] == ",":
                    pos += 1
                    continue
                el_start = pos
                pos = self._skip_value(pos, None)
                if entry is not None and top:
                    entry.elements.append((el_start, pos))
                if pos == el_start:  # malformed: never loop forever
                    pos += 1
            if entry is not None and top:
                entry.multiline = t.count("\n", 0, pos) != start_line
            return pos
        if c == "{":
            depth = 0
            while pos < len(t):
                ch = t[pos]
                if ch in "\"'":
                    pos = self._skip_string(pos)
                    continue
                if ch in "{[":
                    depth += 1
                elif ch in "}]":
                    depth -= 1
                    if depth == 0:
                        return pos + 1
                pos += 1
            return pos
        # a scalar: up to a comma, closing bracket, comment or end of line
        while pos < len(t) and t[pos] not in ",]}#\r\n":
            pos += 1
        while pos > 0 and t[pos - 1] in " \t":
            pos -= 1
        return pos


def _rstrip_comment(text: str, start: int, end: int) -> int:
    """The end of a header line without its trailing comment and whitespace."""
    line = text[start:end]
    close = line.rfind("]")
    return start + close + 1 if close >= 0 else end


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string."""
    out = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{out}"'
