"""ML109 array-in-boolean-context."""

from __future__ import annotations

import libcst as cst

from mllint.rule import Rule
from mllint.semantics import kinds as K

_COMPARE_OPS = (
    cst.Equal,
    cst.NotEqual,
    cst.LessThan,
    cst.LessThanEqual,
    cst.GreaterThan,
    cst.GreaterThanEqual,
)
#: tensors are left out: comparisons of scalar tensors (`torch.rand([]) < p`, a loss) are common
_COMPARED_KINDS = frozenset({K.NDARRAY, K.SERIES, K.DATAFRAME})
#: random samplers that return a scalar when called without a size
_SAMPLERS = frozenset(
    {
        "rand", "randn", "random", "random_sample", "normal", "uniform", "randint", "choice",
        "permutation", "binomial", "poisson", "exponential", "beta", "gamma", "standard_normal",
        "integers", "lognormal", "laplace",
    }
)  # fmt: skip
_BARE_KINDS = frozenset({K.NDARRAY, K.SERIES, K.DATAFRAME})
_WORD = {K.NDARRAY: "array", K.TENSOR: "tensor", K.SERIES: "Series", K.DATAFRAME: "DataFrame"}


class ArrayInBooleanContext(Rule):
    """
    ## What it does
    Flags an element-wise comparison of arrays, tensors, Series or DataFrames (`==`, `!=`,
    `<`, `<=`, `>`, `>=`), or a bare array/Series/DataFrame, used as a truth value: the test
    of `if`/`elif`/`while`/`assert`/a conditional expression, or an operand of `and`/`or`/`not`.

    ## Why is this bad?
    `==` on arrays and frames is element-wise; Python then needs one bool and calls
    `__bool__`, which raises "The truth value of an array with more than one element is
    ambiguous" — always for pandas objects. For one-element arrays it silently returns that
    element's truth, so the behaviour depends on the data.

    ## Example
    ```python
    if predictions == labels:
        print("perfect")
    assert df_out == expected_df
    ```

    ## Use instead
    ```python
    if np.array_equal(predictions, labels):
        print("perfect")
    pd.testing.assert_frame_equal(df_out, expected_df)
    ```

    Comparisons wrapped in `.all()`, `.any()`, `np.all`, `np.any`, `np.array_equal`,
    `torch.equal` or `bool(...)`, comparisons of `.shape`, `.ndim`, `.size`, `.dtype`,
    `len(...)`, `.item()`, `.empty`, bare tensors (scalar tensors are common there) and values
    of unknown type are not flagged.

    ## Fix safety
    No fix: whether `all`, `any` or exact equality is meant is the author's choice.
    """

    code = "ML109"
    name = "array-in-boolean-context"
    summary = "An array/DataFrame comparison or the array itself used as a truth value"
    tier = 3

    def visit_If(self, node: cst.If) -> None:
        self._check(node.test)

    def visit_While(self, node: cst.While) -> None:
        self._check(node.test)

    def visit_Assert(self, node: cst.Assert) -> None:
        self._check(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._check(node.test)

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        self._check(node.left)
        # `a and b` returns `b` itself: it is truth-tested only when the whole operation is
        if self._truth_tested(len(self.ctx.stack) - 1):
            self._check(node.right)

    def _truth_tested(self, idx: int) -> bool:
        """Whether the value of ``ctx.stack[idx]`` is converted to bool."""
        stack = self.ctx.stack
        while idx >= 1:
            node, parent = stack[idx], stack[idx - 1]
            if isinstance(parent, (cst.If, cst.While, cst.Assert, cst.IfExp)):
                return getattr(parent, "test", None) is node
            if isinstance(parent, cst.UnaryOperation):
                return isinstance(parent.operator, cst.Not)
            if isinstance(parent, cst.BooleanOperation):
                if parent.left is node:
                    return True
                idx -= 1
                continue
            return False
        return False

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self._check(node.expression)

    def _check(self, expr: cst.BaseExpression) -> None:
        ctx = self.ctx
        if isinstance(expr, cst.Comparison):
            kind = self._compared_kind(expr)
            if kind is None:
                return
        elif isinstance(expr, (cst.Name, cst.Attribute, cst.Subscript)):
            kind = ctx.kind(expr)
            if kind not in _BARE_KINDS:
                return
        else:
            return
        message = (
            f"'{ctx.snippet(expr, 50)}' is an element-wise {_WORD[kind]}; its truth value is "
            f"ambiguous (ValueError, or a data-dependent answer for size-1 arrays) — use "
            f".all(), .any(), np.array_equal or pd.testing.assert_frame_equal"
        )
        self.report(expr, message)

    def _compared_kind(self, node: cst.Comparison) -> str | None:
        left = node.left
        for t in node.comparisons:
            right = t.comparator
            if isinstance(t.operator, _COMPARE_OPS):
                for operand in (left, right):
                    k = self.ctx.kind(operand)
                    if k in _COMPARED_KINDS and not self._scalar_sample(operand):
                        return k
            left = right
        return None

    def _scalar_sample(self, expr: cst.BaseExpression) -> bool:
        """A random draw without a size (``rng.uniform(0, 1)``, ``rng.choice(names)``), or a
        name bound only to such draws: a scalar, although its kind says array."""
        values: list[cst.BaseExpression] = [expr]
        if isinstance(expr, cst.Name):
            bindings = self.ctx.bindings(expr.value)
            if not bindings or any(b.value is None or b.unpacked for b in bindings):
                return False
            values = [b.value for b in bindings if b.value is not None]
        for v in values:
            if not isinstance(v, cst.Call) or not isinstance(v.func, (cst.Attribute, cst.Name)):
                return False
            q = self.ctx.qualname(v.func) or ""
            last = v.func.attr.value if isinstance(v.func, cst.Attribute) else v.func.value
            if last not in _SAMPLERS or (q and not q.startswith("numpy.random.")):
                return False
            if any(a.keyword is not None and a.keyword.value == "size" for a in v.args):
                return False
            positional = [a for a in v.args if a.keyword is None]
            if last in ("rand", "randn", "random", "random_sample", "standard_normal"):
                if positional:
                    return False
            elif len(positional) > 2 or (last == "permutation"):
                return False
        return True
