"""ML604 elementwise-loop-over-array."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name
from mllint.rule import Rule
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts

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

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # array/tensor kinds come only from numpy, pandas or torch names
        if not scan.imports_any(*_ARRAY_LIBS) and (facts.package or "").split(".")[0] not in (
            _ARRAY_LIBS
        ):
            return False
        ufuncs = scan.import_aliases(_UFUNCS)
        # `[E for x in A]`: one plain `for` clause over an expression that may be an array (a
        # name, attribute, subscript or call - of an imported name when the callee is a bare
        # name), E an elementwise expression of x
        imported: frozenset[str] | None = None
        for comp in scan.of(ast.ListComp):
            gens = comp.generators
            if len(gens) != 1 or gens[0].ifs or gens[0].is_async:
                continue
            it = gens[0].iter
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Name):
                if imported is None:
                    imported = _imported_names(scan)
                if it.func.id not in imported:
                    continue
            elif not isinstance(it, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
                continue
            target = gens[0].target
            elt = comp.elt
            if (
                isinstance(target, ast.Name)
                and isinstance(elt, (ast.BinOp, ast.UnaryOp, ast.Call))
                and _ast_elementwise(elt, target.id, True, ufuncs)
            ):
                return True
        # `for i in range(N): OUT[i] = E` / `OUT[i] op= E`, E an elementwise expression of
        # some `A[i]`
        ranges: frozenset[str] | None = None
        for loop in scan.of(ast.For):
            if loop.orelse or len(loop.body) != 1 or not isinstance(loop.target, ast.Name):
                continue
            it = loop.iter
            if (
                not isinstance(it, ast.Call)
                or len(it.args) != 1
                or it.keywords
                or isinstance(it.args[0], ast.Starred)
            ):
                continue
            stmt = loop.body[0]
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                out = stmt.targets[0]
            elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, _AST_AUG_OPS):
                out = stmt.target
            else:
                continue
            i = loop.target.id
            if not _ast_indexed_by(out, i) or not _ast_elementwise(stmt.value, i, False, ufuncs):
                continue
            if ranges is None:
                ranges = scan.import_aliases(_RANGE)
            if terminal_name(it.func) in ranges:
                return True
        return False

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


# -- the ast pre-scan (ast_gate) ------------------------------------------------------------------
_ARRAY_LIBS = ("numpy", "pandas", "torch")
_AST_AUG_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_RANGE = frozenset({"range"})
_AST_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def _ast_indexed_by(node: ast.AST, var: str) -> bool:
    """``X[var]`` with X a name."""
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and isinstance(node.slice, ast.Name)
        and node.slice.id == var
    )


def _ast_elementwise(e: ast.expr, var: str, bare: bool, ufuncs: frozenset[str]) -> bool:
    """The shape ``_elementwise`` accepts (numbers, names, ``A[var]`` - or ``var`` itself
    when ``bare`` -, arithmetic, calls whose terminal name is a ufunc), using ``var``;
    kinds and qualified names are left to the rule."""
    uses = 0
    stack = [e]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Constant):
            # libcst Integer/Float, and True/False/None (names there); not strings
            if n.value is not None and type(n.value) not in (int, float, bool):
                return False
            continue
        if isinstance(n, ast.Name):
            if n.id == var:
                if not bare:
                    return False
                uses += 1
        elif isinstance(n, ast.Subscript):
            if bare or not _ast_indexed_by(n, var):
                return False
            uses += 1
        elif isinstance(n, ast.BinOp):
            if not isinstance(n.op, _AST_ARITH):
                return False
            stack += (n.left, n.right)
        elif isinstance(n, ast.UnaryOp):
            if not isinstance(n.op, (ast.USub, ast.UAdd)):
                return False
            stack.append(n.operand)
        elif isinstance(n, ast.Call):
            if n.keywords or terminal_name(n.func) not in ufuncs:
                return False
            for a in n.args:
                if isinstance(a, ast.Starred):
                    return False
                stack.append(a)
        else:
            return False
    return uses > 0


def _imported_names(scan: Scan) -> frozenset[str]:
    """The local names that imports bind."""
    out: set[str] = set()
    for imp in scan.of(ast.ImportFrom):
        out.update(a.asname or a.name for a in imp.names)
    for imp_ in scan.of(ast.Import):
        out.update(a.asname or a.name.partition(".")[0] for a in imp_.names)
    return frozenset(out)


def _indexed_by(node: cst.BaseExpression, var: str) -> bool:
    """``X[var]``."""
    if not isinstance(node, cst.Subscript) or len(node.slice) != 1:
        return False
    s = node.slice[0].slice
    return isinstance(s, cst.Index) and isinstance(s.value, cst.Name) and s.value.value == var
