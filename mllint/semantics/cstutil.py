"""Small syntactic helpers over libcst nodes, shared by the semantics and the rules."""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence

import libcst as cst
from libcst._nodes.internal import CodegenState

_CAMEL_RE = re.compile(r"[A-Z]+(?=[A-Z][a-z0-9])|[A-Z]?[a-z0-9]+|[A-Z]+")


def dotted_name(node: cst.BaseExpression | cst.CSTNode | None) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None (no resolution through imports)."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def attr_name(node: cst.CSTNode | None) -> str | None:
    """The last identifier of a Name or Attribute, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def is_capwords(identifier: str) -> bool:
    return bool(identifier) and identifier[0].isupper() and not identifier.isupper()


def identifier_tokens(identifier: str) -> list[str]:
    """Split an identifier on ``_`` and camelCase boundaries, lower-cased."""
    tokens: list[str] = []
    for part in identifier.split("_"):
        if not part:
            continue
        tokens.extend(m.group(0).lower() for m in _CAMEL_RE.finditer(part))
    return tokens


def string_value(node: cst.CSTNode | None) -> str | None:
    """The value of a plain (non f-string) string literal, else None."""
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except Exception:  # pragma: no cover - libcst validated the literal when parsing
            return None
        return value if isinstance(value, str) else None
    if isinstance(node, cst.ConcatenatedString):
        try:
            cvalue = node.evaluated_value
        except Exception:  # pragma: no cover
            return None
        return cvalue if isinstance(cvalue, str) else None
    return None


def is_string_like(node: cst.CSTNode) -> bool:
    return isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString))


def int_value(node: cst.CSTNode | None) -> int | None:
    """The value of an int literal, with an optional unary minus/plus, else None."""
    sign = 1
    if isinstance(node, cst.UnaryOperation):
        if isinstance(node.operator, cst.Minus):
            sign = -1
        elif not isinstance(node.operator, cst.Plus):
            return None
        node = node.expression
    if isinstance(node, cst.Integer):
        try:
            return sign * int(node.value.replace("_", ""), 0)
        except ValueError:
            return None
    return None


def float_literal(node: cst.CSTNode | None) -> float | None:
    """The value of a float literal (``0.5``, ``-1e-6``, ``2.``), else None."""
    sign = 1.0
    if isinstance(node, cst.UnaryOperation):
        if isinstance(node.operator, cst.Minus):
            sign = -1.0
        elif not isinstance(node.operator, cst.Plus):
            return None
        node = node.expression
    if isinstance(node, cst.Float):
        try:
            return sign * float(node.value.replace("_", ""))
        except ValueError:
            return None
    return None


def call_arg(
    call: cst.Call, keyword: str | tuple[str, ...] | None = None, position: int | None = None
) -> cst.Arg | None:
    """The argument given by keyword (one of several names) or at a positional index."""
    names = (keyword,) if isinstance(keyword, str) else (keyword or ())
    if names:
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value in names:
                return arg
    if position is not None:
        idx = 0
        for arg in call.args:
            if arg.keyword is not None or arg.star:
                if arg.star:
                    return None  # *args: position unknown
                continue
            if idx == position:
                return arg
            idx += 1
    return None


def has_keyword(call: cst.Call, keyword: str) -> bool:
    return any(a.keyword is not None and a.keyword.value == keyword for a in call.args)


def has_star_args(call: cst.Call) -> bool:
    return any(a.star for a in call.args)


def positional_args(call: cst.Call) -> list[cst.Arg]:
    return [a for a in call.args if a.keyword is None and not a.star]


def cst_equal(a: cst.CSTNode, b: cst.CSTNode) -> bool:
    """Structural equality ignoring whitespace, comments and redundant parentheses (the
    parentheses that decide grouping count: ``(a + b) * c`` is not ``a + b * c``)."""
    if type(a) is not type(b):
        return False
    if a is b:
        return True
    return _canon(a) == _canon(b)


def _canon(node: cst.CSTNode) -> str:
    """A canonical form of an expression: CPython's ``ast`` of its code, which drops
    whitespace, comments and redundant parentheses but keeps grouping, string contents and
    keyword spacing (``not a`` vs ``nota``)."""
    code = cst.Module([]).code_for_node(node)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse("(" + code + "\n)", mode="eval")
        return ast.dump(tree.body)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        # not an expression on its own (a slice, a starred element...): compare the code
        # without whitespace and comments, keeping every parenthesis
        return "\0" + _WS_RE.sub("", _strip_comments(code))


_WS_RE = re.compile(r"\s+")
_COMMENT_RE = re.compile(r"#[^\n]*")


def comments_in(code: str) -> list[str]:
    """The comments in a code fragment (quote-aware)."""
    if "#" not in code:
        return []
    found: list[str] = []
    _strip_comments(code, found)
    return found


def snippet(code: str, limit: int = 60) -> str:
    """A one-line rendering of code for messages: comments dropped, whitespace collapsed."""
    text = " ".join(_strip_comments(code).split())
    text = text.replace("( ", "(").replace(" )", ")").replace("[ ", "[").replace(" ]", "]")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _strip_comments(code: str, found: list[str] | None = None) -> str:
    if "#" not in code:
        return code
    # comments cannot appear inside expressions except at line ends inside brackets;
    # strings containing '#' are kept by only removing '#' runs outside quotes
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(code):
        ch = code[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(code):
                out.append(code[i + 1])
                i += 2
                continue
            if code.startswith(quote, i):
                out.append(code[i + 1 : i + len(quote)])
                i += len(quote)
                quote = None
                continue
        elif ch in "'\"":
            quote = code[i : i + 3] if code[i : i + 3] in ('"""', "'''") else ch
            out.append(quote)
            i += len(quote)
            continue
        elif ch == "#":
            j = i
            while i < len(code) and code[i] not in "\r\n":
                i += 1
            if found is not None:
                found.append(code[j:i].rstrip())
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def iter_names_in_target(target: cst.BaseExpression) -> Iterator[cst.Name]:
    """Names bound by an assignment/for target (recursing into tuples, lists, starred)."""
    if isinstance(target, cst.Name):
        yield target
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from iter_names_in_target(el.value)
    elif isinstance(target, cst.StarredElement):
        yield from iter_names_in_target(target.value)


def expression_names(node: cst.CSTNode) -> set[str]:
    """Every Name identifier used inside ``node`` (including attribute bases)."""
    found: set[str] = set()
    stack: list[cst.CSTNode] = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, cst.Name):
            found.add(cur.value)
        stack.extend(cur.children)
    return found


def block_indents(module: cst.Module, ancestors: Iterable[cst.CSTNode]) -> list[str]:
    """The indentation tokens of the ``IndentedBlock`` nodes among ``ancestors`` (outermost
    first), i.e. the indentation a statement nested in them is rendered with."""
    # a `match` statement indents its `case` lines itself (Match.indent), on top of the
    # IndentedBlock of each case body
    return [
        a.indent if a.indent is not None else module.default_indent
        for a in ancestors
        if isinstance(a, (cst.IndentedBlock, cst.Match))
    ]


def code_in_block(module: cst.Module, node: cst.CSTNode, indents: Sequence[str]) -> str:
    """Render ``node`` as the module renders it inside blocks indented by ``indents`` (see
    :func:`block_indents`). ``module.code_for_node`` renders nested statements without their
    outer indentation; a fix that replaces a statement inside a block needs this instead."""
    state = CodegenState(
        default_indent=module.default_indent, default_newline=module.default_newline
    )
    state.indent_tokens = list(indents)
    node._codegen(state)
    return "".join(state.tokens)
