"""ML104 true-division-as-size."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.numerics.array_in_boolean_context import _LIST, _ND, _TENSOR, _kinds_of
from mllint.rules.numerics.float_equality import _calls_named, _imports_of
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block

#: functions whose every positional argument must be an int
_COUNT_FUNCS = {"builtins.range": "range()", "itertools.islice": "islice()"}
#: constructors whose first positional argument (or ``shape=``/``size=``) is a shape
_SHAPE_FIRST = frozenset(
    {
        "numpy.zeros", "numpy.ones", "numpy.empty", "numpy.full", "numpy.eye", "numpy.identity",
        "torch.full",
    }
)  # fmt: skip
#: torch constructors taking the sizes as varargs: every positional argument is a size
_SHAPE_VARARGS = frozenset(
    {"torch.zeros", "torch.ones", "torch.empty", "torch.rand", "torch.randn"}
)
_SHAPE_METHODS = frozenset({"reshape", "view"})
_SUBSCRIPT_KINDS = frozenset({K.LIST, K.NDARRAY, K.TENSOR})


class TrueDivisionAsSize(Rule):
    """
    ## What it does
    Flags a true division `a / b` used directly as a size, count or integer index: an argument
    of `range()` or `itertools.islice()`, the `k` of `random.sample()`, the shape of
    `np.zeros/ones/empty/full/eye/identity` and `torch.zeros/ones/empty/full/rand/randn/randint`,
    an argument of `.reshape()`/`.view()`, the repeat count of `[0] * (n / 2)`, and the index
    or slice bound of a list, array, tensor or `.iloc[...]`.

    ## Why is this bad?
    True division always returns a float (`np.int64(4) / 2` is `np.float64`), and all these
    APIs reject floats: `range(n / 2)`, `np.zeros(n / 2)`, `x.reshape(n / 2, -1)` and
    `[0] * (n / 2)` raise TypeError, `arr[n / 2]` raises IndexError. The job crashes at that
    line, often after a long preprocessing step.

    ## Example
    ```python
    half = np.zeros(n / 2)
    x = x.reshape(batch_size / 2, -1)
    for i in range(len(data) / 2):
        ...
    ```

    ## Use instead
    ```python
    half = np.zeros(n // 2)
    x = x.reshape(batch_size // 2, -1)
    for i in range(len(data) // 2):
        ...
    ```

    `.loc[...]`, dict subscripts and subscripts of unknown type, and divisions wrapped in
    `int(...)`, `round(...)` or `math.floor(...)` are not flagged.

    ## Fix safety
    Safe: the original always raised at that point, so replacing `/` with `//` only removes a
    guaranteed exception. Note that floor division rounds towards minus infinity
    (`-5 // 2 == -3`, while `int(-5 / 2) == -2`).
    """

    code = "ML104"
    name = "true-division-as-size"
    summary = "A `/` result used as a size, count or integer index always raises TypeError"
    tier = 2
    fix_safety = (FixSafety.SAFE,)
    requires_text = ("/",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a true division directly used as: an argument (or an element of a tuple/list
        # argument) of a call that may resolve to range/islice/random.sample/np.zeros...,
        # or of `.reshape`/`.view`; the other operand of `*` with a list or string literal;
        # an index or slice bound of `.iloc` or of a value that may be a list/array/tensor
        if not any(type(b.op) is ast.Div for b in scan.of(ast.BinOp)):
            return False
        imports = _imports_of(scan, facts)
        for call in _calls_named(scan, _AST_SIZE_CALLS):
            if not (
                (isinstance(call.func, ast.Attribute) and call.func.attr in _SHAPE_METHODS)
                or imports.may_be(call.func, _AST_SIZE_QUALNAMES)
            ):
                continue
            for arg in (*call.args, *(kw.value for kw in call.keywords if kw.arg is not None)):
                if _ast_div(arg):
                    return True
                if isinstance(arg, (ast.Tuple, ast.List)) and any(_ast_div(e) for e in arg.elts):
                    return True
        for b in scan.of(ast.BinOp):
            if type(b.op) is ast.Mult and (
                (_ast_div(b.left) and isinstance(b.right, _AST_REPEATED))
                or (_ast_div(b.right) and isinstance(b.left, _AST_REPEATED))
            ):
                return True
        # an index of a list, array, tensor or `.iloc`
        kinds = None
        for sub in scan.of(ast.Subscript):
            index = sub.slice
            for el in index.elts if isinstance(index, ast.Tuple) else (index,):
                if isinstance(el, ast.Starred):  # `x[*a / 2]`: libcst's Index with a star
                    el = el.value
                if _ast_div(el) or (
                    isinstance(el, ast.Slice) and (_ast_div(el.lower) or _ast_div(el.upper))
                ):
                    value = sub.value
                    if isinstance(value, ast.Attribute) and value.attr == "iloc":
                        return True
                    if kinds is None:
                        kinds = _kinds_of(scan, facts)
                    if kinds.kinds_at(value) & _AST_SUBSCRIPTED:
                        return True
                    break
        return False

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, cst.Divide):
            return
        use = self._use()
        if use is None:
            return
        ctx = self.ctx
        op = node.operator
        new = node.with_changes(
            operator=cst.FloorDivide(
                whitespace_before=op.whitespace_before, whitespace_after=op.whitespace_after
            )
        )
        text = code_in_block(ctx.module, new, block_indents(ctx.module, ctx.stack))
        message = f"'{ctx.snippet(node, 50)}' is a float; {use} requires an int — use '//'"
        self.report(node, message, Fix(FixSafety.SAFE, [(node, text)]))

    # -- where the division is used ---------------------------------------------------------
    def _use(self) -> str | None:
        stack = self.ctx.stack
        node = stack[-1]
        parent = stack[-2] if len(stack) >= 2 else None
        grand = stack[-3] if len(stack) >= 3 else None
        if isinstance(parent, cst.Arg) and isinstance(grand, cst.Call):
            return self._call_use(grand, parent, in_tuple=False)
        if isinstance(parent, cst.Element) and isinstance(grand, (cst.Tuple, cst.List)):
            if (
                len(stack) >= 5
                and isinstance(stack[-4], cst.Arg)
                and isinstance(stack[-5], cst.Call)
            ):
                return self._call_use(stack[-5], stack[-4], in_tuple=True)
            return None
        if isinstance(parent, cst.BinaryOperation) and isinstance(parent.operator, cst.Multiply):
            other = parent.left if parent.right is node else parent.right
            if isinstance(other, (cst.List, cst.SimpleString, cst.ConcatenatedString)):
                return "a repeat count"
            return None
        if isinstance(parent, cst.Index) and isinstance(grand, cst.SubscriptElement):
            return self._subscript_use(stack[-4] if len(stack) >= 4 else None)
        if isinstance(parent, cst.Slice) and isinstance(grand, cst.SubscriptElement):
            if node is parent.step:
                return None  # a float step is an error too, but rarely written this way
            return self._subscript_use(stack[-4] if len(stack) >= 4 else None)
        return None

    def _call_use(self, call: cst.CSTNode, arg: cst.CSTNode, *, in_tuple: bool) -> str | None:
        assert isinstance(call, cst.Call) and isinstance(arg, cst.Arg)
        if arg.star:
            return None
        q = self.ctx.qualname(call.func)
        positional = [a for a in call.args if a.keyword is None and not a.star]
        keyword = arg.keyword.value if arg.keyword is not None else None
        first = bool(positional) and positional[0] is arg
        if q in _COUNT_FUNCS:
            return None if in_tuple or keyword is not None else _COUNT_FUNCS[q]
        if q == "random.sample":
            second = len(positional) >= 2 and positional[1] is arg
            return "the sample size k" if not in_tuple and (keyword == "k" or second) else None
        if q in _SHAPE_FIRST:
            return (
                "a shape dimension" if (first or keyword in ("shape", "size", "N", "n")) else None
            )
        if q in _SHAPE_VARARGS:
            return "a shape dimension" if (keyword is None or keyword == "size") else None
        if q == "torch.randint":
            size_pos = len(positional) >= 2 and positional[-1] is arg and in_tuple
            return "a shape dimension" if (keyword == "size" or size_pos) else None
        func = call.func
        if (
            q is None
            and isinstance(func, cst.Attribute)
            and func.attr.value in _SHAPE_METHODS
            and keyword in (None, "shape")
        ):
            return f"a .{func.attr.value}() dimension"
        return None

    def _subscript_use(self, sub: cst.CSTNode | None) -> str | None:
        if not isinstance(sub, cst.Subscript):
            return None
        value = sub.value
        if isinstance(value, cst.Attribute) and value.attr.value == "iloc":
            return "an .iloc position"
        if self.ctx.kind(value) in _SUBSCRIPT_KINDS:
            return "an index"
        return None


# -- the ast pre-scan -------------------------------------------------------------------------

#: the last part of every call ``_call_use`` accepts
_AST_SIZE_CALLS = (
    frozenset(q.rpartition(".")[2] for q in (*_COUNT_FUNCS, *_SHAPE_FIRST, *_SHAPE_VARARGS))
    | _SHAPE_METHODS
    | {"sample", "randint"}
)
_AST_SIZE_QUALNAMES = frozenset(
    {*_COUNT_FUNCS, *_SHAPE_FIRST, *_SHAPE_VARARGS, "random.sample", "torch.randint"}
)
#: `[0] * (n / 2)`, `"-" * (w / 2)`: libcst's List, SimpleString and ConcatenatedString
_AST_REPEATED = (ast.List, ast.Constant, ast.JoinedStr)
_AST_SUBSCRIPTED = _LIST | _ND | _TENSOR  # `_SUBSCRIPT_KINDS`


def _ast_div(node: ast.expr | None) -> bool:
    return isinstance(node, ast.BinOp) and type(node.op) is ast.Div
