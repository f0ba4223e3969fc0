"""ML009 counter-on-string."""

from __future__ import annotations

import libcst as cst

from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics import kinds as K
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


def _target_names(target: cst.BaseExpression) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, cst.Attribute):
        return [target.attr.value]
    return []
