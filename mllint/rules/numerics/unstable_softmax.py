"""ML107 unstable-softmax."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.numerics.float_equality import _bound_values, _imports_of
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block, cst_equal

_EXP = {"numpy.exp": "numpy", "torch.exp": "torch", "jax.numpy.exp": "numpy"}
_SUM = {"numpy.sum": "numpy", "torch.sum": "torch", "jax.numpy.sum": "numpy"}
_LOG = {"numpy.log": "numpy", "torch.log": "torch", "jax.numpy.log": "numpy"}
_MAX_FUNCS = frozenset(
    {"numpy.max", "numpy.amax", "numpy.nanmax", "torch.max", "torch.amax", "jax.numpy.max",
     "jax.numpy.amax"}
)  # fmt: skip
_MAX_METHODS = frozenset({"max", "amax"})


class UnstableSoftmax(Rule):
    """
    ## What it does
    Flags a hand-written softmax `np.exp(x) / np.exp(x).sum(...)` (also `torch.exp`,
    `jax.numpy.exp`, `np.sum(e, ...)` in the denominator, and `e = np.exp(x)` followed by
    `e / e.sum(...)`, also when the sum is first bound to a name: `total = e.sum()`,
    `e / total`) and a hand-written log-sum-exp `np.log(np.sum(np.exp(x)))` /
    `torch.log(torch.exp(x).sum(...))`, when `x` is not shifted by its maximum first.

    ## Why is this bad?
    `np.exp(1000)` overflows to `inf`, and `inf / inf` is `nan`: the softmax of
    `[[1000, 1001, 1002]]` computed this way is `[[nan, nan, nan]]`, while the max-shifted
    version gives `[0.090, 0.245, 0.665]`. Subtracting the (row) maximum leaves the softmax
    and shifts the log-sum-exp by a known constant, so nothing is lost.

    ## Example
    ```python
    exp = np.exp(logits)
    probs = exp / exp.sum(axis=1, keepdims=True)
    ```

    ## Use instead
    ```python
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probs = exp / exp.sum(axis=1, keepdims=True)  # or scipy.special.softmax(logits, axis=1)
    ```

    Arguments already shifted by a max reduction of the same data (`x - x.max(...)`,
    `x - np.max(x, ...)`, `x - x.amax(...)`, `x - x.max(dim=..., keepdim=True).values`) are
    not flagged.

    ## Fix safety
    Unsafe: results differ in the last bits, and values where the original overflowed become
    finite. Only these shapes are rewritten: the inline NumPy form
    `np.exp(E) / np.exp(E).sum(axis=k, keepdims=True)` (each `np.exp(E)` becomes
    `np.exp(E - E.max(axis=k, keepdims=True))`; `E` must be a name or attribute chain); the
    inline torch form with `dim=k, keepdim=True` (→ `torch.softmax(E, dim=k)`);
    `torch.log(torch.exp(E).sum(dim=k))` (→ `torch.logsumexp(E, dim=k)`); and the NumPy
    log-sum-exp (→ `scipy.special.logsumexp(E, axis=k)`) only when the module already imports
    scipy. Other shapes are reported only.
    """

    code = "ML107"
    name = "unstable-softmax"
    summary = "`exp(x) / exp(x).sum()` or `log(sum(exp(x)))` without subtracting the maximum"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("exp",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # (a) `E / S` or (b) `log(S)`, with E an exp call (one positional argument, not
        # negated) or a name assigned one, and S a sum call (np/torch/jnp.sum or `.sum()`)
        # or, in (a), a name assigned one; in (b) the sum's operand is such an E
        imports = _imports_of(scan, facts)
        exps = {
            id(c)
            for c in imports.calls(_EXP)
            if len(c.args) == 1
            and not c.keywords
            and not isinstance(c.args[0], ast.Starred)
            and not _ast_negated(c.args[0])
        }
        if not exps:
            return False
        # sum call -> what it may sum: the first argument of np/torch/jnp.sum, the receiver
        # of a `.sum()` method (`np.sum(e)` is both shapes: the gate cannot tell)
        sums: dict[int, list[ast.expr]] = {}
        for c in imports.calls(_SUM):
            if c.args and not isinstance(c.args[0], ast.Starred):
                sums.setdefault(id(c), []).append(c.args[0])
        for c in scan.calls("sum"):
            if isinstance(c.func, ast.Attribute):
                sums.setdefault(id(c), []).append(c.func.value)
        if not sums:
            return False
        exp_names = _bound_values(scan, lambda v: id(v) in exps)
        sum_names = _bound_values(scan, lambda v: id(v) in sums)

        def exp_like(e: ast.expr) -> bool:
            return id(e) in exps or (isinstance(e, ast.Name) and e.id in exp_names)

        for b in scan.of(ast.BinOp):
            if type(b.op) is ast.Div and exp_like(b.left):
                right = b.right
                if id(right) in sums or (isinstance(right, ast.Name) and right.id in sum_names):
                    return True
        for c in imports.calls(_LOG):
            if len(c.args) == 1 and not c.keywords:
                arg = c.args[0]
                summed = sums.get(id(arg.value if isinstance(arg, ast.Starred) else arg), ())
                if any(exp_like(s) for s in summed):
                    return True
        return False

    # -- (a) softmax --------------------------------------------------------------------------
    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, cst.Divide):
            return
        ctx = self.ctx
        exp_call, inline = self._exp_of(node.left)
        if exp_call is None:
            return
        family = _EXP[ctx.qualname(exp_call.func) or ""]
        summed = self._sum_operand(node.right)
        via_name = False
        if summed is None and isinstance(node.right, cst.Name):
            # `partition = X_exp.sum(1, keepdims=True)` then `X_exp / partition`
            value = self._single_value(node.right)
            summed = self._sum_operand(value) if value is not None else None
            via_name = True
        if summed is None:
            return
        operand, sum_call = summed
        if not cst_equal(operand, node.left):
            other, _ = self._exp_of(operand)
            if other is None or not cst_equal(other, exp_call):
                return
        e = exp_call.args[0].value
        if self._shifted(e):
            return
        use = "torch.softmax" if family == "torch" else "scipy.special.softmax"
        message = (
            f"exp({ctx.snippet(e, 40)}) overflows to inf for large logits (inf/inf = nan); "
            f"subtract the max first or use {use}"
        )
        fix = None
        if inline and not via_name and cst_equal(operand, node.left):
            fix = self._softmax_fix(node, exp_call, sum_call, family)
        self.report(node, message, fix)

    def _exp_of(self, expr: cst.BaseExpression) -> tuple[cst.Call | None, bool]:
        """``exp(E)`` itself (inline) or through a name bound once to it."""
        if self._is_exp(expr):
            assert isinstance(expr, cst.Call)
            return expr, True
        if isinstance(expr, cst.Name):
            value = self._single_value(expr)
            if value is not None and self._is_exp(value):
                assert isinstance(value, cst.Call)
                return value, False
        return None, False

    def _is_exp(self, expr: cst.BaseExpression) -> bool:
        return (
            isinstance(expr, cst.Call)
            and len(expr.args) == 1
            and expr.args[0].keyword is None
            and not expr.args[0].star
            and self.ctx.qualname(expr.func) in _EXP
        )

    def _single_value(self, name: cst.Name) -> cst.BaseExpression | None:
        bindings = self.ctx.bindings(name.value)
        if len(bindings) != 1:
            return None
        b = bindings[0]
        if b.kind not in ("assign", "annassign") or b.unpacked:
            return None
        return b.value

    def _sum_operand(self, expr: cst.BaseExpression) -> tuple[cst.BaseExpression, cst.Call] | None:
        """``A.sum(...)`` or ``np.sum(A, ...)``/``torch.sum(A, ...)``: (A, the call)."""
        if not isinstance(expr, cst.Call):
            return None
        func = expr.func
        q = self.ctx.qualname(func)
        if q in _SUM:
            if expr.args and expr.args[0].keyword is None and not expr.args[0].star:
                return expr.args[0].value, expr
            return None
        if q is None and isinstance(func, cst.Attribute) and func.attr.value == "sum":
            return func.value, expr
        return None

    def _shifted(self, e: cst.BaseExpression) -> bool:
        """``E0 - max(E0)``, directly, through a name bound once to it, or a name shifted in
        place somewhere in its scope (``x = x - x.max()``, ``x -= x.max()``)."""
        if isinstance(e, cst.Name):
            for b in self.ctx.bindings(e.value):
                node = b.node
                if b.kind == "augassign" and isinstance(node, cst.AugAssign):
                    if isinstance(node.operator, cst.SubtractAssign):
                        data = self._max_of(node.value)
                        if data is not None and cst_equal(data, e):
                            return True
                elif (
                    b.kind in ("assign", "annassign")
                    and not b.unpacked
                    and b.value is not None
                    and self._shift_expr(b.value)
                ):
                    return True
            return False
        return self._shift_expr(e)

    def _shift_expr(self, e: cst.BaseExpression) -> bool:
        if _negated(e):
            return True  # exp(-x), exp(-0.5 * d ** 2): a Gaussian kernel, not logits
        if not (isinstance(e, cst.BinaryOperation) and isinstance(e.operator, cst.Subtract)):
            return False
        right = e.right
        if isinstance(right, cst.Name):
            value = self._single_value(right)
            if value is not None:
                right = value
        data = self._max_of(right)
        return data is not None and cst_equal(data, e.left)

    def _max_of(self, expr: cst.BaseExpression) -> cst.BaseExpression | None:
        if isinstance(expr, cst.Attribute) and expr.attr.value in ("values", "data"):
            expr = expr.value  # x.max(dim=1, keepdim=True).values
        if isinstance(expr, cst.Subscript) and isinstance(expr.value, cst.Call):
            expr = expr.value  # x.max(dim=1, keepdim=True)[0]
        if not isinstance(expr, cst.Call):
            return None
        func = expr.func
        q = self.ctx.qualname(func)
        if q in _MAX_FUNCS:
            if expr.args and expr.args[0].keyword is None:
                return expr.args[0].value
            return None
        if q is None and isinstance(func, cst.Attribute) and func.attr.value in _MAX_METHODS:
            return func.value
        return None

    def _softmax_fix(
        self, node: cst.BinaryOperation, exp_call: cst.Call, sum_call: cst.Call, family: str
    ) -> Fix | None:
        ctx = self.ctx
        e = exp_call.args[0].value
        axis_kw = "dim" if family == "torch" else "axis"
        keep_kw = "keepdim" if family == "torch" else "keepdims"
        sum_is_method = (
            isinstance(sum_call.func, cst.Attribute) and ctx.qualname(sum_call.func) is None
        )
        extra = list(sum_call.args) if sum_is_method else list(sum_call.args[1:])
        axis: str | None = None
        keep = False
        for a in extra:
            if a.star:
                return None
            if (a.keyword is None and axis is None) or (
                a.keyword is not None and a.keyword.value == axis_kw
            ):
                axis = ctx.code(a.value).strip()
            elif (
                a.keyword is not None
                and a.keyword.value == keep_kw
                and isinstance(a.value, cst.Name)
                and a.value.value == "True"
            ):
                keep = True
            else:
                return None
        indents = block_indents(ctx.module, ctx.stack)
        if family == "torch":
            if axis is None or not keep:
                return None
            new: str = f"torch.softmax({ctx.code(e).strip()}, dim={axis})"
            plan = ctx.import_name("torch")
            if plan is None:
                return None
            new = f"{plan.local}.softmax({ctx.code(e).strip()}, dim={axis})"
            return Fix(FixSafety.UNSAFE, [(node, _wrap(node, new))], [plan])
        if not _chain(e):
            return None
        if axis is not None and not keep:
            return None
        e_code = ctx.code(e).strip()
        shift = (
            f"{e_code}.max(axis={axis}, keepdims=True)" if axis is not None else f"{e_code}.max()"
        )
        new_arg = cst.parse_expression(f"{e_code} - {shift}")
        replacements: list[tuple[cst.CSTNode, cst.CSTNode | str]] = []
        operand = self._sum_operand(node.right)
        assert operand is not None
        for call in (exp_call, operand[0]):
            assert isinstance(call, cst.Call)
            new_call = call.with_changes(args=[call.args[0].with_changes(value=new_arg)])
            replacements.append((call, code_in_block(ctx.module, new_call, indents)))
        return Fix(FixSafety.UNSAFE, replacements)

    # -- (b) log-sum-exp ------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        q = ctx.qualname(node.func)
        if q not in _LOG or len(node.args) != 1 or node.args[0].keyword is not None:
            return
        summed = self._sum_operand(node.args[0].value)
        if summed is None:
            return
        operand, sum_call = summed
        exp_call, _ = self._exp_of(operand)
        if exp_call is None:
            return
        e = exp_call.args[0].value
        if self._shifted(e):
            return
        family = _LOG[q]
        use = "torch.logsumexp" if family == "torch" else "scipy.special.logsumexp"
        message = (
            f"exp({ctx.snippet(e, 40)}) overflows to inf for large logits (inf/inf = nan); "
            f"subtract the max first or use {use}"
        )
        fix = None
        if self._is_exp(operand):
            fix = self._logsumexp_fix(node, e, sum_call, family)
        self.report(node, message, fix)

    def _logsumexp_fix(
        self, node: cst.Call, e: cst.BaseExpression, sum_call: cst.Call, family: str
    ) -> Fix | None:
        ctx = self.ctx
        sum_is_method = (
            isinstance(sum_call.func, cst.Attribute) and ctx.qualname(sum_call.func) is None
        )
        extra = list(sum_call.args) if sum_is_method else list(sum_call.args[1:])
        axis_kw = "dim" if family == "torch" else "axis"
        keep_kw = "keepdim" if family == "torch" else "keepdims"
        parts: list[str] = []
        has_axis = False
        for i, a in enumerate(extra):
            if a.star:
                return None
            value = ctx.code(a.value).strip()
            if (a.keyword is None and i == 0) or (
                a.keyword is not None and a.keyword.value == axis_kw
            ):
                parts.append(f"{axis_kw}={value}")
                has_axis = True
            elif a.keyword is not None and a.keyword.value == keep_kw:
                parts.append(f"{keep_kw}={value}")
            else:
                return None
        args = ", ".join([ctx.code(e).strip(), *parts])
        if family == "torch":
            if not has_axis:
                return None  # torch.logsumexp needs dim
            plan = ctx.import_name("torch")
            if plan is None:
                return None
            return Fix(
                FixSafety.UNSAFE, [(node, _wrap(node, f"{plan.local}.logsumexp({args})"))], [plan]
            )
        if not ctx.imports("scipy"):
            return None
        if (
            "scipy.special" in ctx.model.imported_modules
            and ctx.qualname(cst.parse_expression("scipy.special")) == "scipy.special"
        ):
            # `import scipy.special` binds `scipy`: refer to the submodule through it
            return Fix(FixSafety.UNSAFE, [(node, _wrap(node, f"scipy.special.logsumexp({args})"))])
        plan = ctx.import_name("scipy.special", "logsumexp")
        if plan is None:
            return None
        return Fix(FixSafety.UNSAFE, [(node, _wrap(node, f"{plan.local}({args})"))], [plan])


def _chain(node: cst.BaseExpression) -> bool:
    """A Name or an attribute chain ``a.b.c`` (no parentheses)."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name) and not node.lpar


def _wrap(node: cst.BaseExpression, text: str) -> str:
    if getattr(node, "lpar", ()):
        return f"({text})"
    return text


def _negated(e: cst.BaseExpression) -> bool:
    """``-A`` or ``-c * A`` with a negative number literal ``c``."""
    if isinstance(e, cst.UnaryOperation) and isinstance(e.operator, cst.Minus):
        return True
    if isinstance(e, cst.BinaryOperation) and isinstance(e.operator, (cst.Multiply, cst.Divide)):
        return _negated(e.left)
    return False


def _ast_negated(e: ast.expr) -> bool:
    """``_negated`` on an ``ast`` node: ``-A`` or ``-c * A`` / ``-c / A``."""
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        return True
    if isinstance(e, ast.BinOp) and isinstance(e.op, (ast.Mult, ast.Div)):
        return _ast_negated(e.left)
    return False
