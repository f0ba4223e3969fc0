"""ML009 counter-on-string."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.general.lru_cache_method import _import_locals, _root_name
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import identifier_tokens, is_string_like, positional_args
from mllint.semantics.scopes import Scope

_COUNTERS = frozenset({"collections.Counter", "nltk.FreqDist", "nltk.probability.FreqDist"})
#: str methods that return a str
_STR_METHODS = frozenset(
    {"lower", "upper", "strip", "lstrip", "rstrip", "replace", "read", "decode", "casefold"}
)
_CHAR_WORDS = ("char", "letter", "alphabet")
#: expressions that can be followed by ``.split()`` without parentheses
_ATOMS = (
    cst.Name,
    cst.Attribute,
    cst.Call,
    cst.Subscript,
    cst.SimpleString,
    cst.FormattedString,
)


class CounterOnString(Rule):
    """
    ## What it does
    Flags `collections.Counter(...)`, `nltk.FreqDist(...)` and `<counter>.update(...)` (on a
    name bound from `Counter(...)`) whose single positional argument is a string: a str
    literal or f-string, `.lower()`/`.upper()`/`.strip()`/`.replace()`/`.read()`/`.decode()`/
    `.casefold()`, `"sep".join(...)`, `str(...)`, a parameter annotated `str` or a name that
    only holds strings.

    ## Why is this bad?
    Iterating a `str` yields characters: `Counter("the cat")` counts `t`, `h`, `e`, ... so
    vocabulary and frequency tables are silently wrong.

    Arguments that are already tokenised (`.split()`, `re.findall(...)`, `list(...)`) or of
    unknown type, and deliberate character counts (a function or argument name containing
    `char`, `letter` or `alphabet`) are not flagged.

    ## Example
    ```python
    counts = Counter(text.lower())
    ```

    ## Use instead
    ```python
    counts = Counter(text.lower().split())
    ```

    ## Fix safety
    Unsafe: the fix appends `.split()` to the argument (parenthesised when needed), which
    chooses whitespace tokenisation; a real tokenizer may be what you want.
    """

    code = "ML009"
    name = "counter-on-string"
    summary = "`Counter`/`FreqDist` over a string counts characters, not words"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("Counter", "FreqDist")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a one-argument call, rooted at a name an import binds to collections/nltk (or their
        # counters), or `<name>.update(...)`, whose argument can be a str (see _is_str)
        bound = _import_locals(scan, facts, _COUNTERS)
        if not bound:
            return False
        names: set[str] = set()
        str_calls: set[str] | None = None
        for call in scan.of(ast.Call):
            if len(call.args) != 1 or call.keywords:
                continue
            func = call.func
            if not (
                _root_name(func) in bound
                or (
                    isinstance(func, ast.Attribute)
                    and func.attr == "update"
                    and isinstance(func.value, ast.Name)
                )
            ):
                continue
            arg = call.args[0]
            if isinstance(arg, ast.JoinedStr) or (
                isinstance(arg, ast.Constant) and isinstance(arg.value, (str, bytes))
            ):
                return True
            if isinstance(arg, ast.Name):
                names.add(arg.id)
            elif isinstance(arg, ast.Call):
                if isinstance(arg.func, ast.Attribute):
                    if arg.func.attr in _STR_METHODS or arg.func.attr == "join":
                        return True
                elif isinstance(arg.func, ast.Name):
                    if str_calls is None:
                        str_calls = _import_locals(scan, facts, ("builtins.str",)) | {"str"}
                    if arg.func.id in str_calls:
                        return True
        return bool(names) and _may_hold_str(scan, names)

    def visit_Call(self, node: cst.Call) -> None:
        args = positional_args(node)
        if len(args) != 1 or len(node.args) != 1:
            return
        func = node.func
        q = self.ctx.qualname(func)
        if q not in _COUNTERS and not self._counter_update(func):
            return
        arg = args[0].value
        scope = self.ctx.scope
        if not self._is_str(arg, scope) or self._deliberate(arg):
            return
        callee = self.ctx.snippet(func, 30)
        shown = self.ctx.snippet(arg, 40)
        inner = shown if isinstance(arg, _ATOMS) else f"({shown})"
        self.report(
            arg,
            f"{callee}({shown}) iterates a str and counts characters; did you mean "
            f"{callee}({inner}.split())?",
            self._fix(arg),
        )

    def _counter_update(self, func: cst.BaseExpression) -> bool:
        if not (
            isinstance(func, cst.Attribute)
            and func.attr.value == "update"
            and isinstance(func.value, cst.Name)
        ):
            return False
        bindings = self.ctx.bindings(func.value.value)
        return bool(bindings) and all(
            b.kind in ("assign", "annassign")
            and not b.unpacked
            and isinstance(b.value, cst.Call)
            and self.ctx.qualname_in(b.value.func, b.scope or self.ctx.scope) in _COUNTERS
            for b in bindings
        )

    def _is_str(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        if is_string_like(expr):
            return True
        if isinstance(expr, cst.Call):
            func = expr.func
            if isinstance(func, cst.Attribute):
                method = func.attr.value
                recv = func.value
                if isinstance(recv, cst.Attribute) and recv.attr.value == "str":
                    return False  # pandas .str accessor
                if method == "join":
                    return is_string_like(recv)
                if method == "replace":
                    return self._is_str(recv, scope)
                if method in _STR_METHODS:
                    return self.ctx.kind(recv, scope) not in K.ARRAYLIKE
                return False
            return self.ctx.qualname_in(func, scope) == "builtins.str"
        if isinstance(expr, cst.Name):
            return self.ctx.kind(expr, scope) == K.STR
        return False

    def _deliberate(self, arg: cst.BaseExpression) -> bool:
        fn = self.ctx.enclosing_function()
        names: list[str] = []
        if fn is not None:
            names.append(fn.node.name.value)
        parent = self.ctx.parent  # `char_counts = Counter(text)`
        if isinstance(parent, cst.Assign):
            names.extend(n for t in parent.targets for n in _target_names(t.target))
        elif isinstance(parent, cst.AnnAssign):
            names.extend(_target_names(parent.target))
        stack: list[cst.CSTNode] = [arg]
        while stack:
            cur = stack.pop()
            if isinstance(cur, cst.Name):
                names.append(cur.value)
            stack.extend(cur.children)
        for n in names:
            tokens = identifier_tokens(n)
            if any(t.startswith(_CHAR_WORDS) for t in tokens) or any(
                w in n.lower() for w in _CHAR_WORDS
            ):
                return True
        return False

    def _fix(self, arg: cst.BaseExpression) -> Fix:
        code = self.ctx.code(arg)
        if not isinstance(arg, _ATOMS) and not arg.lpar:
            code = f"({code})"
        return Fix(FixSafety.UNSAFE, [(arg, f"{code}.split()")])


def _may_hold_str(scan: Scan, names: set[str]) -> bool:
    """One of ``names`` has a binding whose kind can be str: an assignment to the plain
    name (``=``, annotated, ``:=``) or an annotated parameter."""
    for node in scan.of(ast.Assign, ast.AnnAssign, ast.NamedExpr):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if any(isinstance(t, ast.Name) and t.id in names for t in targets):
            return True
    for fn in scan.functions():
        a = fn.args
        for p in (*a.posonlyargs, *a.args, a.vararg, *a.kwonlyargs, a.kwarg):
            if p is not None and p.annotation is not None and p.arg in names:
                return True
    return False


def _target_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, cst.Attribute):
        return [target.attr.value]
    return []
