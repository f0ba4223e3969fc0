"""Editing call nodes for fixes: adding a keyword argument while keeping the call's layout."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from mllint.semantics.cstutil import block_indents, code_in_block

if TYPE_CHECKING:
    from mllint.semantics.context import FileContext

__all__ = ["render_here", "with_keyword"]


def _no_ws() -> cst.SimpleWhitespace:
    return cst.SimpleWhitespace("")


def with_keyword(call: cst.Call, keyword: str, value: cst.BaseExpression | str) -> cst.Call:
    """``call`` with ``keyword=value`` appended after its last argument.

    Single-line calls get ``, keyword=value``; a call whose arguments sit one per line gets the
    new argument on a line of its own (keeping a trailing comma if there was one).
    """
    expr = cst.parse_expression(value) if isinstance(value, str) else value
    new_arg = cst.Arg(
        expr,
        keyword=cst.Name(keyword),
        equal=cst.AssignEqual(whitespace_before=_no_ws(), whitespace_after=_no_ws()),
    )
    args = list(call.args)
    if not args:
        return call.with_changes(args=[new_arg])
    last = args[-1]
    if isinstance(last.comma, cst.Comma):
        # trailing comma: the new argument goes where the closing bracket was, in the layout
        # the previous arguments use
        if len(args) >= 2 and isinstance(args[-2].comma, cst.Comma):
            sep = args[-2].comma
        elif isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace):
            sep = cst.Comma(whitespace_after=call.whitespace_before_args)
        else:
            sep = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        if not isinstance(last.comma.whitespace_after, cst.ParenthesizedWhitespace):
            # `f(a, )` on one line: drop the odd trailing comma
            args[-1] = last.with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
            args.append(new_arg)
            return call.with_changes(args=args)
        args[-1] = last.with_changes(comma=sep)
        args.append(new_arg.with_changes(comma=last.comma))
        return call.with_changes(args=args)
    # no trailing comma: whitespace before `)` moves behind the new argument
    args[-1] = last.with_changes(
        comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
        whitespace_after_arg=_no_ws(),
    )
    args.append(new_arg.with_changes(whitespace_after_arg=last.whitespace_after_arg))
    return call.with_changes(args=args)


def render_here(ctx: FileContext, node: cst.CSTNode) -> str:
    """``node`` rendered for a replacement at the current position (the indentation of the
    enclosing blocks applies to its continuation lines)."""
    return code_in_block(ctx.module, node, block_indents(ctx.module, ctx.stack))
