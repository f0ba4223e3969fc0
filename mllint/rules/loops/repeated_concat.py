"""ML602 repeated-concat-in-loop."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name
from mllint.rule import Rule
from mllint.rules.loops.list_membership import within_loops
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import cst_equal
from mllint.semantics.walk import iter_descendants

#: functions taking a sequence of pieces as their first argument
_SEQUENCE_FUNCS = frozenset(
    {
        "pandas.concat", "numpy.concatenate", "numpy.vstack", "numpy.hstack", "numpy.dstack",
        "numpy.column_stack", "numpy.row_stack", "torch.cat", "torch.concat", "torch.concatenate",
        "torch.vstack", "torch.hstack", "jax.numpy.concatenate", "jax.numpy.vstack",
        "jax.numpy.hstack", "tensorflow.concat",
    }
)  # fmt: skip
_APPEND_FUNCS = frozenset({"numpy.append", "jax.numpy.append"})
_SHORT = {"pandas": "pd", "numpy": "np", "jax.numpy": "jnp", "tensorflow": "tf"}
_LOOPS = (cst.For, cst.While)


class RepeatedConcatInLoop(Rule):
    """
    ## What it does
    Flags accumulation by concatenation inside a `for`/`while` loop: `A = pd.concat([A, ...])`,
    `A = np.concatenate/vstack/hstack/dstack/column_stack/row_stack([A, ...])`,
    `A = np.append(A, x)`, `A = torch.cat/concat/vstack/hstack([A, ...])`, the `jax.numpy` and
    `tf.concat` equivalents, and `A = A.append(x)` on a DataFrame/Series, where `A` is a name
    or `self.<attr>`.

    ## Why is this bad?
    Each call allocates a new array or frame and copies everything accumulated so far, so n
    iterations copy O(n²) rows; with large datasets this dominates runtime and memory.
    `DataFrame.append` was removed in pandas 2.0 (AttributeError), so that spelling also
    crashes on current pandas.

    ## Example
    ```python
    results = pd.DataFrame()
    for path in paths:
        results = pd.concat([results, pd.read_csv(path)])
    ```

    ## Use instead
    ```python
    frames = [pd.read_csv(path) for path in paths]
    results = pd.concat(frames, ignore_index=True)
    ```

    Not flagged: accumulators that are reset to a fresh value elsewhere in the same loop body
    (batch buffers), and accumulators that the loop itself reads (an autoregressive decoding
    loop feeds the growing sequence back into the model, so it cannot be built once after the
    loop).

    ## Fix safety
    No fix: moving the concatenation after the loop changes the program's structure.
    """

    code = "ML602"
    name = "repeated-concat-in-loop"
    summary = (
        "`df = pd.concat([df, …])`, `np.append`, `np.vstack`, `torch.cat` accumulation inside a "
        "loop (quadratic)"
    )
    tier = 3
    requires_text = ("concat", "stack", "append", "cat(")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # `A = f(...)` directly in a for/while body, A a name or `self.<attr>`, f's terminal
        # name (or an import alias of it) one of the concatenating functions or `append`, and
        # A itself among the call's receiver, arguments or their list/tuple elements
        funcs = scan.import_aliases(_GATE_FUNCS)
        if funcs.isdisjoint(scan.called()):
            return False
        found: list[ast.Assign] = []
        for a in scan.of(ast.Assign):
            if len(a.targets) != 1:
                continue
            target = a.targets[0]
            if not (
                isinstance(target, ast.Name)
                or (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                )
            ):
                continue
            value = a.value
            if not isinstance(value, ast.Call) or terminal_name(value.func) not in funcs:
                continue
            if _mentions(value, target):
                found.append(a)
        if not found:
            return False
        return within_loops(scan, found)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1:
            return
        target = node.targets[0].target
        if not _accumulator(target):
            return
        ctx = self.ctx
        value = node.value
        if not isinstance(value, cst.Call):
            return
        loop = self._loop()
        if loop is None:
            return
        q = ctx.qualname(value.func)
        pieces = _first_arg(value)
        shown: str
        concat: str
        if q in _SEQUENCE_FUNCS:
            if not isinstance(pieces, (cst.List, cst.Tuple)) or not any(
                isinstance(el, cst.Element) and cst_equal(el.value, target)
                for el in pieces.elements
            ):
                return
            func_text = ctx.snippet(value.func, 30)
            open_, close = ("[", "]") if isinstance(pieces, cst.List) else ("(", ")")
            shown = f"{ctx.snippet(target, 30)} = {func_text}({open_}{ctx.snippet(target, 30)}, …{close})"
            concat = func_text
        elif q in _APPEND_FUNCS:
            if pieces is None or not cst_equal(pieces, target):
                return
            func_text = ctx.snippet(value.func, 30)
            shown = f"{ctx.snippet(target, 30)} = {func_text}({ctx.snippet(target, 30)}, …)"
            concat = _spelled(q.rsplit(".", 1)[0]) + ".concatenate"
        elif (
            q is None
            and isinstance(value.func, cst.Attribute)
            and value.func.attr.value in ("append", "_append")
            and cst_equal(value.func.value, target)
            and self._pandas_accumulator(target)
        ):
            shown = (
                f"{ctx.snippet(target, 30)} = {ctx.snippet(target, 30)}.{value.func.attr.value}(…)"
            )
            concat = "pd.concat"
        else:
            return
        if self._reset_or_read(loop, node, target):
            return
        message = (
            f"'{shown}' inside a loop copies all accumulated data on every iteration (O(n²)); "
            f"collect the pieces in a list and call {concat} once after the loop"
        )
        self.report(node, message)

    def _pandas_accumulator(self, target: cst.BaseExpression) -> bool:
        """Every binding of the name is a DataFrame/Series or ``A = A.append(...)``."""
        ctx = self.ctx
        if ctx.kind(target) in (K.DATAFRAME, K.SERIES):
            return True
        if not isinstance(target, cst.Name):
            return False
        bindings = ctx.bindings(target.value)
        if not bindings:
            return False
        for b in bindings:
            if b.kind != "assign" or b.unpacked or b.value is None or b.scope is None:
                return False
            v = b.value
            if (
                isinstance(v, cst.Call)
                and isinstance(v.func, cst.Attribute)
                and v.func.attr.value in ("append", "_append")
                and cst_equal(v.func.value, target)
            ):
                continue
            if ctx.kind(v, b.scope) not in (K.DATAFRAME, K.SERIES):
                return False
        return True

    def _loop(self) -> cst.For | cst.While | None:
        """The innermost enclosing for/while statement whose body holds the assignment."""
        stack = self.ctx.stack
        for i in range(len(stack) - 1, 0, -1):
            parent, child = stack[i - 1], stack[i]
            if isinstance(parent, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return None
            if isinstance(parent, _LOOPS) and child is parent.body:
                return parent
        return None

    def _reset_or_read(
        self, loop: cst.For | cst.While, node: cst.Assign, target: cst.BaseExpression
    ) -> bool:
        """Another assignment to the accumulator in the loop body (outside ``if A is None:``),
        or a read of it outside this assignment."""
        inside = {id(n) for n in iter_descendants(node)}
        guarded: set[int] = set()
        for n in iter_descendants(loop.body, into_scopes=False):
            if isinstance(n, cst.If) and _is_none_test(n.test, target):
                guarded.update(id(x) for x in iter_descendants(n.body))
                guarded.update(id(x) for x in iter_descendants(n.test))
                guarded.add(id(n.test))
        for n in iter_descendants(loop.body, into_scopes=False):
            if id(n) in inside or n is node:
                continue
            if isinstance(n, cst.Assign) and any(cst_equal(t.target, target) for t in n.targets):
                if id(n) not in guarded:
                    return True
                continue
            if isinstance(n, (cst.Name, cst.Attribute)) and cst_equal(n, target):
                if id(n) in guarded:
                    continue
                return True
        return False


def _accumulator(target: cst.BaseExpression) -> bool:
    if isinstance(target, cst.Name):
        return True
    return (
        isinstance(target, cst.Attribute)
        and isinstance(target.value, cst.Name)
        and target.value.value == "self"
    )


def _first_arg(call: cst.Call) -> cst.BaseExpression | None:
    for a in call.args:
        if a.star:
            return None
        if a.keyword is None or a.keyword.value in (
            "objs",
            "tensors",
            "arrays",
            "tup",
            "arr",
            "values",
        ):
            return a.value
    return None


def _is_none_test(test: cst.BaseExpression, target: cst.BaseExpression) -> bool:
    """``A is None`` / ``not A`` / ``len(A) == 0`` style first-iteration tests."""
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        comp = test.comparisons[0]
        if isinstance(comp.operator, cst.Is) and isinstance(comp.comparator, cst.Name):
            return comp.comparator.value == "None" and cst_equal(test.left, target)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return cst_equal(test.expression, target)
    return False


def _spelled(module: str) -> str:
    return _SHORT.get(module, module)


# -- the ast pre-scan (ast_gate) ------------------------------------------------------------------
#: terminal names of _SEQUENCE_FUNCS and _APPEND_FUNCS, and the pandas ``append``/``_append``
_GATE_FUNCS = frozenset(q.rpartition(".")[2] for q in _SEQUENCE_FUNCS | _APPEND_FUNCS) | {
    "append",
    "_append",
}


def _same(a: ast.AST, b: ast.Name | ast.Attribute) -> bool:
    if isinstance(b, ast.Name):
        return isinstance(a, ast.Name) and a.id == b.id
    return (
        isinstance(a, ast.Attribute)
        and a.attr == b.attr
        and isinstance(a.value, ast.Name)
        and isinstance(b.value, ast.Name)
        and a.value.id == b.value.id
    )


def _mentions(call: ast.Call, target: ast.Name | ast.Attribute) -> bool:
    """``target`` is the call's receiver, one of its arguments or an element of a list/tuple
    argument."""
    if isinstance(call.func, ast.Attribute) and _same(call.func.value, target):
        return True
    for v in (*call.args, *(k.value for k in call.keywords)):
        if _same(v, target):
            return True
        if isinstance(v, (ast.List, ast.Tuple)) and any(_same(el, target) for el in v.elts):
            return True
    return False
