"""Source ranges for a chosen set of nodes, computed in one code-generation pass.

libcst's ``PositionProvider`` records a ``CodeRange`` for every node and costs ~1.8x the parse
on scikit-learn's source; this state tracks a running character offset and records only the
nodes asked for (~0.2x the parse), and only for files that have something to report.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Iterable, Sequence

import libcst as cst
from libcst._nodes.internal import CodegenState

from mllint.lineindex import LineIndex as LineIndex  # re-exported: the engine and rules use it


class _OffsetState(CodegenState):
    __slots__ = ("offset", "ranges", "starts", "targets")

    offset: int
    targets: set[int]
    starts: dict[int, list[int]]
    ranges: dict[int, tuple[int, int]]

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self.offset += len(value)

    def add_indent_tokens(self) -> None:
        for tok in self.indent_tokens:
            self.tokens.append(tok)
            self.offset += len(tok)

    def before_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.targets:
            self.starts.setdefault(key, []).append(self.offset)

    def after_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.targets:
            start = self.starts[key].pop()
            self.ranges.setdefault(key, (start, self.offset))
            if len(self.ranges) == len(self.targets):
                raise _AllFound  # the rest of the module cannot hold a target


class _AllFound(Exception):
    pass


def _offset_state(
    module: cst.Module, offset: int, targets: set[int], ranges: dict[int, tuple[int, int]]
) -> _OffsetState:
    state = _OffsetState(
        default_indent=module.default_indent, default_newline=module.default_newline
    )
    state.offset = offset
    state.targets = targets
    state.starts = {}
    state.ranges = ranges
    return state


def node_offsets(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[int, tuple[int, int]]:
    """``{id(node): (start, end)}`` character offsets of the whitespace-inclusive code of each
    node, i.e. exactly the span ``module.code_for_node(node)`` renders."""
    targets = {id(n) for n in nodes}
    if not targets:
        return {}
    state = _offset_state(module, 0, targets, {})
    # codegen stops after the last target: the tail of the file is never rendered
    with contextlib.suppress(_AllFound):
        module._codegen(state)
    return state.ranges


def statement_offsets(
    module: cst.Module,
    source: str,
    tree: ast.Module,
    nodes: Iterable[cst.CSTNode],
    statements: Iterable[cst.CSTNode],
) -> dict[int, tuple[int, int]] | None:
    """Like :func:`node_offsets`, but renders only the given module-level ``statements``
    (those expected to hold the nodes), each from its own start offset, found through the
    line numbers of CPython's ``tree`` of the same source. On a file with findings in two
    functions, this renders those two functions instead of everything up to the last one.

    Returns None -- the caller then runs :func:`node_offsets` -- when a node is not inside
    these statements, when the statements cannot be matched with ``tree``, or when a
    rendered statement differs from the source at the offset computed for it."""
    targets = {id(n) for n in nodes}
    if not targets:
        return {}
    wanted = {id(s) for s in statements}
    body = module.body
    firsts = _first_lines(body, tree.body)
    if firsts is None:
        return None
    index: LineIndex | None = None
    ranges: dict[int, tuple[int, int]] = {}
    for stmt, first in zip(body, firsts, strict=True):
        if id(stmt) not in wanted:
            continue
        if index is None:
            index = LineIndex(source)
        if first - 1 >= len(index.starts):
            return None
        lead = _render(module, stmt.leading_lines)
        start = index.starts[first - 1] - len(lead)
        if start < 0 or not source.startswith(lead, start):
            return None
        state = _offset_state(module, start, targets, ranges)
        with contextlib.suppress(_AllFound):
            stmt._codegen(state)
        if not source.startswith("".join(state.tokens), start):
            return None
        if len(ranges) == len(targets):
            break
    if len(ranges) != len(targets):
        return None
    return ranges


def _render(module: cst.Module, lines: Iterable[cst.EmptyLine]) -> str:
    state = CodegenState(
        default_indent=module.default_indent, default_newline=module.default_newline
    )
    for line in lines:
        line._codegen(state)
    return "".join(state.tokens)


def _first_lines(body: Sequence[cst.CSTNode], stmts: Sequence[ast.stmt]) -> list[int] | None:
    """The line of each libcst module-level statement's first token (after its leading
    lines): a simple statement line holds one or more ``ast`` statements, a compound
    statement one; a decorated definition starts at its first decorator."""
    out: list[int] = []
    i = 0
    for stmt in body:
        if i >= len(stmts):
            return None
        first = stmts[i]
        if isinstance(stmt, cst.SimpleStatementLine):
            i += len(stmt.body)
        else:
            i += 1
        line = first.lineno
        decorators = getattr(first, "decorator_list", None)
        if decorators:
            line = min(line, *(d.lineno for d in decorators))
        out.append(line)
    return out if i == len(stmts) else None


def trim_range(source: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a whitespace-inclusive range to its code: skip leading blank/comment lines and
    whitespace, and trailing whitespace."""
    s = start
    while s < end:
        ch = source[s]
        if ch in " \t\r\n\f\\":
            s += 1
        elif ch == "#":
            while s < end and source[s] not in "\r\n":
                s += 1
        else:
            break
    e = end
    while e > s and source[e - 1] in " \t\r\n\f":
        e -= 1
    return s, e
