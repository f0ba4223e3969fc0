"""pandas facts shared by the ML2xx/ML92x rules: method lists, frame-like receivers,
column selections, ``groupby`` chains and small fix helpers (RULES.md §4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from mllint.semantics import kinds as K
from mllint.semantics.cstutil import (
    block_indents,
    code_in_block,
    identifier_tokens,
    is_string_like,
    string_value,
)
from mllint.semantics.kinds import is_mask_expression

if TYPE_CHECKING:
    from mllint.semantics.context import FileContext

#: ML201's default ``frame-name-pattern``: names of unknown kind treated as DataFrames
FRAME_NAME_PATTERN = re.compile(r"^(df|.*_df|df_.*)$")
#: identifier tokens of a pattern-matching name that holds several frames (``df_by_split``)
_CONTAINER_TOKENS = frozenset(
    {"dict", "dicts", "map", "mapping", "list", "lists", "dfs", "frames", "by", "per", "cache",
     "store", "registry", "collection", "groups", "parts", "chunks", "splits", "sets", "tuple"}
)  # fmt: skip

#: ``inplace=True`` methods that return None on every pandas version (ML202 (a))
INPLACE_ALWAYS_NONE = frozenset(
    {"dropna", "drop", "drop_duplicates", "rename", "rename_axis", "reset_index", "set_index",
     "sort_values", "sort_index", "query", "eval"}
)  # fmt: skip
#: ``inplace=True`` methods that return None before pandas 3 and ``self`` from 3.0 (ML202 (b))
INPLACE_NONE_BEFORE_3 = frozenset(
    {"fillna", "replace", "clip", "where", "mask", "interpolate", "ffill", "bfill"}
)
INPLACE_METHODS = INPLACE_ALWAYS_NONE | INPLACE_NONE_BEFORE_3

#: group reductions that have a built-in (string) aggregation (ML207/ML209)
GROUP_REDUCTIONS = frozenset(
    {"mean", "sum", "min", "max", "median", "std", "var", "count", "nunique", "first", "last",
     "prod", "sem", "size"}
)  # fmt: skip

#: libraries whose frames look like pandas ones (unknown receivers are not judged there)
OTHER_FRAME_LIBRARIES = ("pyspark", "dask", "polars", "modin", "cudf", "koalas", "vaex")


def matches_frame_name(expr: cst.CSTNode) -> bool:
    """A plain Name matching the default ``frame-name-pattern`` (and not naming a container
    of frames such as ``df_by_split``)."""
    if not isinstance(expr, cst.Name) or FRAME_NAME_PATTERN.search(expr.value) is None:
        return False
    return not any(t in _CONTAINER_TOKENS for t in identifier_tokens(expr.value))


def is_frame(ctx: FileContext, expr: cst.CSTNode, pattern: bool = True) -> bool:
    """kind(expr) is DataFrame, or (with ``pattern``) it is unknown and ``expr`` is a Name
    matching the frame-name pattern."""
    kind = ctx.kind(expr)
    if kind == K.DATAFRAME:
        return True
    return pattern and kind is None and matches_frame_name(expr)


def pandas_at_least(ctx: FileContext, major: int) -> bool:
    """The project's declared pandas lower bound is at least ``major`` (False when unknown)."""
    version = ctx.library_version("pandas")
    return version is not None and version[:1] >= (major,)


def is_true(node: cst.CSTNode | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


def keyword_arg(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def inplace_true_arg(call: cst.Call) -> cst.Arg | None:
    """The ``inplace=True`` argument (literal True) of a call, else None."""
    arg = keyword_arg(call, "inplace")
    return arg if arg is not None and is_true(arg.value) else None


def without_arg(call: cst.Call, drop: cst.Arg) -> cst.Call:
    """``call`` without the argument ``drop`` (keeps the comma style of the last argument)."""
    args = list(call.args)
    idx = next(i for i, a in enumerate(args) if a is drop)
    del args[idx]
    if args and idx == len(args):
        # the dropped argument was the last one: its comma (none, or a trailing one) moves
        args[-1] = args[-1].with_changes(comma=drop.comma)
    return call.with_changes(args=args)


def method_call(node: cst.CSTNode) -> tuple[cst.BaseExpression, str] | None:
    """(receiver, method) of ``<receiver>.<method>(...)``."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.value, node.func.attr.value
    return None


def single_index(sub: cst.Subscript) -> cst.BaseExpression | None:
    """The only key of ``x[key]`` when it is a plain (non-slice, non-starred) expression."""
    if len(sub.slice) != 1:
        return None
    el = sub.slice[0].slice
    if isinstance(el, cst.Index) and el.star is None:
        return el.value
    return None


@dataclass(frozen=True)
class Selection:
    """A selection ``S`` of a frame ``B``: ``B[<key>]``, ``B[[...]]``, ``B[<mask>]``,
    ``B.loc[...]``, ``B.iloc[...]`` or ``B.<col>``."""

    base: cst.BaseExpression
    #: "column" (``B["c"]``/``B.c``/``B[var]``), "columns" (``B[[...]]``), "mask", "loc", "iloc"
    form: str
    #: the column label as source text (``"c"`` for ``B["c"]`` and ``B.c``), else None
    column: str | None


def selection_of(ctx: FileContext, expr: cst.CSTNode, pattern: bool = True) -> Selection | None:
    """``expr`` as a selection of a DataFrame (kind DataFrame, or a pattern-named frame)."""
    if isinstance(expr, cst.Subscript):
        value = expr.value
        if isinstance(value, cst.Attribute) and value.attr.value in ("loc", "iloc"):
            if is_frame(ctx, value.value, pattern):
                return Selection(value.value, value.attr.value, None)
            return None
        if isinstance(value, cst.Attribute) and value.attr.value in ("at", "iat"):
            return None
        key = single_index(expr)
        if key is None or not is_frame(ctx, value, pattern):
            return None
        if isinstance(key, cst.List):
            return Selection(value, "columns", None)
        if is_mask_expression(key):
            return Selection(value, "mask", None)
        if is_string_like(key) and not isinstance(key, cst.FormattedString):
            return Selection(value, "column", ctx.code(key).strip())
        if isinstance(key, (cst.Name, cst.Attribute, cst.Subscript, cst.FormattedString)):
            return Selection(value, "column", None)
        return None
    if isinstance(expr, cst.Attribute):
        attr = expr.attr.value
        if attr in K.DATAFRAME_NON_COLUMNS or attr.startswith("_"):
            return None
        if is_frame(ctx, expr.value, pattern):
            return Selection(expr.value, "column", f'"{attr}"')
    return None


def groupby_of(expr: cst.CSTNode) -> tuple[cst.Call, cst.Subscript | None] | None:
    """``<x>.groupby(...)`` (the call, None) or ``<x>.groupby(...)[<key>]`` (the call, the
    subscript)."""
    sub: cst.Subscript | None = None
    if isinstance(expr, cst.Subscript):
        sub = expr
        expr = expr.value
    mc = method_call(expr)
    if mc is not None and mc[1] == "groupby":
        assert isinstance(expr, cst.Call)
        return expr, sub
    return None


def literal_string(node: cst.CSTNode | None) -> str | None:
    return string_value(node)


def is_atom(expr: cst.CSTNode) -> bool:
    """An expression that needs no parentheses as an operand or attribute receiver."""
    if isinstance(expr, (cst.Name, cst.Attribute, cst.Subscript, cst.Call)):
        return True
    if isinstance(expr, (cst.Integer, cst.Float, cst.SimpleString)):
        return not isinstance(expr, (cst.Integer, cst.Float)) or not expr.value.startswith("-")
    return bool(getattr(expr, "lpar", ()))


def render(ctx: FileContext, node: cst.CSTNode) -> str:
    """Source text of a replacement node at the current position (multi-line nodes keep the
    indentation of the enclosing blocks)."""
    return code_in_block(ctx.module, node, block_indents(ctx.module, ctx.stack))
