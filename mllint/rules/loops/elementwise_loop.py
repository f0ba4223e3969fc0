"""ML604 elementwise-loop-over-array."""

from __future__ import annotations

import libcst as cst

from mllint.rule import Rule
from mllint.semantics import kinds as K

_ARRAYS = frozenset({K.NDARRAY, K.TENSOR})
_UFUNCS = frozenset(
    {
        "exp", "expm1", "exp2", "log", "log1p", "log2", "log10", "sqrt", "square", "abs",
        "absolute", "fabs", "sign", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh",
        "cosh", "tanh", "floor", "ceil", "rint", "trunc", "maximum", "minimum", "fmax", "fmin",
        "power", "clip", "sigmoid", "relu", "where", "reciprocal", "negative", "hypot",
        "arctan2", "logaddexp", "round",
    }
)  # fmt: skip
_ARITH = (
    cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Modulo, cst.Power,
)  # fmt: skip


class ElementwiseLoopOverArray(Rule):
    """
    ## What it does
    Flags a `for i in range(...)` loop whose body is exactly one assignment `OUT[i] = E`
    (or `OUT[i] op= E`), where `OUT` is a NumPy array or torch tensor and `E` combines
    `A[i]` of arrays/tensors with numbers, scalar names, arithmetic and NumPy/torch ufuncs
    (`np.exp`, `np.sqrt`, `np.abs`, `np.maximum`, ...). Also flags `[E for x in A]` over an
    array when `E` is such an arithmetic expression of `x`.

    ## Why is this bad?
    NumPy arithmetic on whole arrays runs in compiled loops; a Python loop pays interpreter
    overhead and boxes every element. `np.sqrt(np.arange(10000))` is about 28 times faster than
    the equivalent comprehension, and the gap grows with indexing and arithmetic.

    ## Example
    ```python
    out = np.empty_like(x)
    for i in range(len(x)):
        out[i] = x[i] ** 2 + 1.0
    ```

    ## Use instead
    ```python
    out = x ** 2 + 1.0
    ```

    Loops with branches or more than one statement, calls to other functions, reads of
    neighbours such as `OUT[i - 1]` (recurrences), and loops over lists or DataFrame rows are
    not flagged.

    ## Fix safety
    No fix.
    """

    code = "ML604"
    name = "elementwise-loop-over-array"
    summary = "A Python loop that computes an array element by element"
    tier = 2
    requires_text = ("for",)

    def visit_For(self, node: cst.For) -> None:
        ctx = self.ctx
        if node.orelse is not None or node.asynchronous is not None:
            return
        target = node.target
        if not isinstance(target, cst.Name):
            return
        if not self._range_over_arrays(node.iter):
            return
        body = node.body
        if not isinstance(body, cst.IndentedBlock) or len(body.body) != 1:
            return
        line = body.body[0]
        if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
            return
        stmt = line.body[0]
        if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1:
            out = stmt.targets[0].target
            value = stmt.value
            op = "="
        elif isinstance(stmt, cst.AugAssign) and isinstance(
            stmt.operator,
            (
                cst.AddAssign,
                cst.SubtractAssign,
                cst.MultiplyAssign,
                cst.DivideAssign,
                cst.PowerAssign,
            ),
        ):
            out = stmt.target
            value = stmt.value
            op = ctx.code(stmt.operator).strip()
        else:
            return
        if not _indexed_by(out, target.value):
            return
        assert isinstance(out, cst.Subscript)
        if not isinstance(out.value, cst.Name) or ctx.kind(out.value) not in _ARRAYS:
            return
        uses = [0]
        if not self._elementwise(value, target.value, uses) or uses[0] == 0:
            return
        vector = self._vectorised(value, target.value)
        out_name = out.value.value
        rhs = f"{out_name}[:] {op} {vector}"
        message = (
            f"This loop computes '{out_name}[{target.value}]' element by element in Python; "
            f"the vectorised expression '{rhs}' "
            f"runs in C (typically ~100× faster)"  # noqa: RUF001
        )
        self.report(node, message)

    def visit_ListComp(self, node: cst.ListComp) -> None:
        comp = node.for_in
        if comp.inner_for_in is not None or comp.ifs or comp.asynchronous is not None:
            return
        if not isinstance(comp.target, cst.Name):
            return
        if self.ctx.kind(comp.iter) != K.NDARRAY:
            return
        var = comp.target.value
        elt = node.elt
        if not isinstance(elt, (cst.BinaryOperation, cst.UnaryOperation, cst.Call)):
            return
        uses = [0]
        if not self._elementwise(elt, var, uses, bare=True) or uses[0] == 0:
            return
        vector = self._vectorised(elt, var, replacement=self.ctx.code(comp.iter).strip())
        message = (
            f"This comprehension computes '{self.ctx.snippet(elt, 40)}' element by element in "
            f"Python; the vectorised expression '{vector}' runs in C (typically ~100× faster)"  # noqa: RUF001
        )
        self.report(node, message)

    # -- helpers -----------------------------------------------------------------------------
    def _range_over_arrays(self, it: cst.BaseExpression) -> bool:
        ctx = self.ctx
        if not isinstance(it, cst.Call) or ctx.qualname(it.func) != "builtins.range":
            return False
        if len(it.args) != 1 or it.args[0].keyword is not None or it.args[0].star:
            return False
        n = it.args[0].value
        if isinstance(n, cst.Call) and ctx.qualname(n.func) == "builtins.len" and len(n.args) == 1:
            return ctx.kind(n.args[0].value) in _ARRAYS
        if (
            isinstance(n, cst.Subscript)
            and isinstance(n.value, cst.Attribute)
            and n.value.attr.value == "shape"
        ):
            return ctx.kind(n.value.value) in _ARRAYS
        return True  # range(N), N any: the arrays are checked in the body

    def _elementwise(
        self, e: cst.BaseExpression, var: str, uses: list[int], *, bare: bool = False
    ) -> bool:
        ctx = self.ctx
        if isinstance(e, (cst.Integer, cst.Float)):
            return True
        if isinstance(e, cst.Name):
            if e.value == var:
                if bare:
                    uses[0] += 1
                return bare
            return ctx.kind(e) not in K.ARRAYLIKE and ctx.kind(e) not in (K.LIST, K.DICT)
        if isinstance(e, cst.Subscript):
            if bare:
                return False
            if not _indexed_by(e, var):
                return False
            if not isinstance(e.value, cst.Name) or ctx.kind(e.value) not in _ARRAYS:
                return False
            uses[0] += 1
            return True
        if isinstance(e, cst.BinaryOperation):
            return (
                isinstance(e.operator, _ARITH)
                and self._elementwise(e.left, var, uses, bare=bare)
                and self._elementwise(e.right, var, uses, bare=bare)
            )
        if isinstance(e, cst.UnaryOperation):
            return isinstance(e.operator, (cst.Minus, cst.Plus)) and self._elementwise(
                e.expression, var, uses, bare=bare
            )
        if isinstance(e, cst.Call):
            q = ctx.qualname(e.func)
            if q is None:
                return False
            mod, _, last = q.rpartition(".")
            if mod not in ("numpy", "torch") or last not in _UFUNCS:
                return False
            return all(
                a.keyword is None
                and not a.star
                and self._elementwise(a.value, var, uses, bare=bare)
                for a in e.args
            )
        return False

    def _vectorised(self, e: cst.BaseExpression, var: str, replacement: str | None = None) -> str:
        """``E`` with ``A[i]`` -> ``A`` (or the comprehension variable -> the array)."""

        class _Sub(cst.CSTTransformer):
            def leave_Subscript(
                self, original_node: cst.Subscript, updated_node: cst.Subscript
            ) -> cst.BaseExpression:
                if replacement is None and _indexed_by(original_node, var):
                    return updated_node.value
                return updated_node

            def leave_Name(
                self, original_node: cst.Name, updated_node: cst.Name
            ) -> cst.BaseExpression:
                if replacement is not None and original_node.value == var:
                    return cst.parse_expression(replacement)
                return updated_node

        new = e.visit(_Sub())
        assert isinstance(new, cst.CSTNode)
        return self.ctx.snippet(new, 60)


def _indexed_by(node: cst.BaseExpression, var: str) -> bool:
    """``X[var]``."""
    if not isinstance(node, cst.Subscript) or len(node.slice) != 1:
        return False
    s = node.slice[0].slice
    return isinstance(s, cst.Index) and isinstance(s.value, cst.Name) and s.value.value == var
