"""Cheap facts about Python files for the project rules (stdlib ``ast`` only).

:func:`walk` yields every node with its :class:`Ctx`: inside a function, under ``if
TYPE_CHECKING:``, inside ``try`` bodies and which exceptions they catch, under ``if
sys.version_info <cmp> (…)`` (and the ``else`` of one), under an availability check (``if
is_torch_available():``, ``if HAS_XGBOOST:``), in an annotation. :func:`imports` resolves
import statements (relative ones too) to absolute module names.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from mllint.prescan import dotted_name

Version = tuple[int, int]
#: the interpreter versions considered when deciding whether a guard implies a condition
CANDIDATE_VERSIONS: tuple[Version, ...] = ((2, 7), *((3, m) for m in range(0, 21)))

_AVAILABILITY_RE = re.compile(
    r"avail|find_spec|installed|has_|_has|HAS_|importable|is_.*_available", re.I
)
_CATCH_IMPORT = frozenset({"ImportError", "ModuleNotFoundError"})


@dataclass(frozen=True)
class Ctx:
    in_def: bool = False
    type_checking: bool = False
    #: exceptions caught around this node (``"*"``: bare, Exception or BaseException)
    caught: frozenset[str] = frozenset()
    #: in the handler of an ``except ImportError`` (a fallback import)
    in_import_fallback: bool = False
    #: version guards: each is a predicate on (major, minor)
    version: tuple[Callable[[Version], bool], ...] = ()
    availability: bool = False
    annotation: bool = False

    @property
    def at_import_time(self) -> bool:
        return not self.in_def and not self.type_checking

    def catches(self, *names: str) -> bool:
        return "*" in self.caught or any(n in self.caught for n in names)

    @property
    def import_guarded(self) -> bool:
        return self.catches(*_CATCH_IMPORT) or self.in_import_fallback or self.availability

    def guard_holds(self, v: Version) -> bool:
        return all(p(v) for p in self.version)

    def implies(
        self, condition: Callable[[Version], bool], min_python: Version | None = None
    ) -> bool:
        """Whether every version allowed by the guards (and ``min_python``) satisfies
        ``condition``; False when there is no version guard at all."""
        if not self.version:
            return False
        for v in CANDIDATE_VERSIONS:
            if min_python is not None and v < min_python:
                continue
            if self.guard_holds(v) and not condition(v):
                return False
        return True


dotted = dotted_name  # ``a.b.c`` for a chain of attributes on a name (mllint.prescan)


def is_type_checking(test: ast.AST) -> bool:
    d = dotted(test)
    return d is not None and d.rsplit(".", 1)[-1] == "TYPE_CHECKING"


_OPS: dict[type, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ast.GtE: lambda a, b: a >= b,
    ast.Gt: lambda a, b: a > b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Eq: lambda a, b: a[: len(b)] == b,
    ast.NotEq: lambda a, b: a[: len(b)] != b,
}


def version_predicate(test: ast.AST) -> Callable[[Version], bool] | None:
    """``sys.version_info >= (3, 10)`` (also ``[:2]``, ``and``/``not``) as a predicate."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = version_predicate(test.operand)
        return None if inner is None else (lambda v: not inner(v))
    if isinstance(test, ast.BoolOp):
        preds = [version_predicate(v) for v in test.values]
        if any(p is None for p in preds):
            return None
        ps = [p for p in preds if p is not None]
        if isinstance(test.op, ast.And):
            return lambda v: all(p(v) for p in ps)
        return lambda v: any(p(v) for p in ps)
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left = test.left
    if isinstance(left, ast.Subscript):
        left = left.value
    if dotted(left) not in ("sys.version_info", "version_info"):
        return None
    right = test.comparators[0]
    if not isinstance(right, ast.Tuple) or not all(
        isinstance(e, ast.Constant) and isinstance(e.value, int) for e in right.elts
    ):
        return None
    bound = tuple(e.value for e in right.elts)  # type: ignore[attr-defined]
    op = _OPS.get(type(test.ops[0]))
    if op is None:
        return None
    return lambda v: op((*v, 0)[: max(len(bound), 2)], bound)


def _caught_names(handler: ast.ExceptHandler) -> set[str]:
    if handler.type is None:
        return {"*"}
    nodes = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    out: set[str] = set()
    for n in nodes:
        d = dotted(n)
        if d is None:
            continue
        last = d.rsplit(".", 1)[-1]
        out.add("*" if last in ("Exception", "BaseException") else last)
    return out


def walk(tree: ast.AST) -> Iterator[tuple[ast.AST, Ctx]]:
    """Every node with its context (statements and expressions)."""
    yield from _walk(tree, Ctx())


def _walk(node: ast.AST, ctx: Ctx) -> Iterator[tuple[ast.AST, Ctx]]:
    yield node, ctx
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        for d in node.decorator_list:
            yield from _walk(d, ctx)
        yield from _walk(node.args, ctx)
        if node.returns is not None:
            yield from _walk(node.returns, replace(ctx, annotation=True))
        inner = replace(ctx, in_def=True)
        for s in node.body:
            yield from _walk(s, inner)
        return
    if isinstance(node, ast.Lambda):
        yield from _walk(node.args, ctx)
        yield from _walk(node.body, replace(ctx, in_def=True))
        return
    if isinstance(node, ast.arg):
        if node.annotation is not None:
            yield from _walk(node.annotation, replace(ctx, annotation=True))
        return
    if isinstance(node, ast.AnnAssign):
        yield from _walk(node.target, ctx)
        yield from _walk(node.annotation, replace(ctx, annotation=True))
        if node.value is not None:
            yield from _walk(node.value, ctx)
        return
    if isinstance(node, ast.If):
        yield from _walk(node.test, ctx)
        body_ctx, else_ctx = ctx, ctx
        if is_type_checking(node.test):
            body_ctx = replace(ctx, type_checking=True)
        else:
            pred = version_predicate(node.test)
            if pred is not None:
                body_ctx = replace(ctx, version=(*ctx.version, pred))
                else_ctx = replace(ctx, version=(*ctx.version, lambda v, p=pred: not p(v)))  # type: ignore[misc]
            elif _AVAILABILITY_RE.search(ast.unparse(node.test)):
                body_ctx = replace(ctx, availability=True)
        for s in node.body:
            yield from _walk(s, body_ctx)
        for s in node.orelse:
            yield from _walk(s, else_ctx)
        return
    if isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
        caught: set[str] = set()
        for h in node.handlers:  # type: ignore[attr-defined]
            caught |= _caught_names(h)
        body_ctx = replace(ctx, caught=ctx.caught | frozenset(caught))
        for s in node.body:  # type: ignore[attr-defined]
            yield from _walk(s, body_ctx)
        for h in node.handlers:  # type: ignore[attr-defined]
            names = _caught_names(h)
            hctx = (
                replace(ctx, in_import_fallback=True)
                if names & _CATCH_IMPORT or "*" in names
                else ctx
            )
            yield h, hctx
            if h.type is not None:
                yield from _walk(h.type, ctx)
            for s in h.body:
                yield from _walk(s, hctx)
        for s in [*node.orelse, *node.finalbody]:  # type: ignore[attr-defined]
            yield from _walk(s, ctx)
        return
    for child in ast.iter_child_nodes(node):
        yield from _walk(child, ctx)


@dataclass(frozen=True)
class ImportInfo:
    node: ast.Import | ast.ImportFrom
    ctx: Ctx
    #: absolute modules the statement imports (``from a import b``: ``a``; the names in
    #: ``names`` may be submodules ``a.b``)
    module: str | None
    names: tuple[str, ...]
    level: int

    def candidates(self) -> list[str]:
        """Modules this statement may load: the module itself and ``module.name`` for each
        imported name (it may be a submodule)."""
        if isinstance(self.node, ast.Import):
            return [a.name for a in self.node.names]
        if self.module is None:
            return []
        return [self.module, *(f"{self.module}.{n}" for n in self.names if n != "*")]


def resolve_relative(
    module: str | None, level: int, current: str | None, is_package: bool
) -> str | None:
    if level == 0:
        return module
    if current is None:
        return None
    parts = current.split(".")
    if not is_package:
        parts = parts[:-1]
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    if not base:
        return module
    return ".".join([*base, module]) if module else ".".join(base)


def imports(
    tree: ast.Module, current: str | None = None, is_package: bool = False
) -> list[ImportInfo]:
    out: list[ImportInfo] = []
    for node, ctx in walk(tree):
        if isinstance(node, ast.Import):
            out.append(ImportInfo(node, ctx, None, tuple(a.name for a in node.names), 0))
        elif isinstance(node, ast.ImportFrom):
            mod = resolve_relative(node.module, node.level, current, is_package)
            out.append(ImportInfo(node, ctx, mod, tuple(a.name for a in node.names), node.level))
    return out


def top_modules(info: ImportInfo) -> list[str]:
    """The top-level packages an absolute import statement loads."""
    if info.level:
        return []
    if isinstance(info.node, ast.Import):
        return [a.name.split(".")[0] for a in info.node.names]
    return [info.module.split(".")[0]] if info.module else []


def statement_text(source_line: str, node: ast.stmt) -> str:
    """A one-line rendering of an import statement for messages."""
    text = ast.unparse(node)
    return text if len(text) <= 80 else text[:77] + "..."


def node_span(
    text_line: Callable[[int], str], offset_of: Callable[[int, int], int], node: ast.AST
) -> tuple[int, int]:
    """Character offsets of an ast node (ast columns are UTF-8 byte offsets)."""

    def char_col(line: int, byte_col: int) -> int:
        return len(text_line(line).encode("utf-8")[:byte_col].decode("utf-8", errors="replace")) + 1

    line = node.lineno  # type: ignore[attr-defined]
    start = offset_of(line, char_col(line, node.col_offset))  # type: ignore[attr-defined]
    end_line = getattr(node, "end_lineno", None) or line
    end_col = getattr(node, "end_col_offset", None)
    end = offset_of(end_line, char_col(end_line, end_col)) if end_col is not None else start
    return start, end


def span_in(pf: object, node: ast.AST) -> tuple[int, int]:
    """:func:`node_span` for a :class:`~mllint.project.files.ProjectFile`."""
    return node_span(pf.index.line_text, pf.offset, node)  # type: ignore[attr-defined]
