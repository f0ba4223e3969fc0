"""ML012 batch-generator-drops-last."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block, expression_names
from mllint.semantics.walk import iter_descendants

_SKIP_NAMES = ("drop_last", "drop_remainder")


def _len_of(expr: cst.BaseExpression) -> str | None:
    """``B`` for ``len(B)``."""
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Name)
        and expr.func.value == "len"
        and len(expr.args) == 1
        and isinstance(expr.args[0].value, cst.Name)
        and expr.args[0].keyword is None
        and not expr.args[0].star
    ):
        return expr.args[0].value.value
    return None


def _full_test(test: cst.BaseExpression) -> tuple[str, cst.BaseExpression] | None:
    """(B, N) for ``len(B) == N`` / ``len(B) >= N`` (either side)."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return None
    comp = test.comparisons[0]
    op = comp.operator
    left_b = _len_of(test.left)
    if left_b is not None and isinstance(op, (cst.Equal, cst.GreaterThanEqual)):
        return left_b, comp.comparator
    right_b = _len_of(comp.comparator)
    if right_b is not None and isinstance(op, (cst.Equal, cst.LessThanEqual)):
        return right_b, test.left
    return None


def _is_reset(stmt: cst.CSTNode, b: str) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    for small in stmt.body:
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            t = small.targets[0].target
            v = small.value
            empty = (isinstance(v, cst.List) and not v.elements) or (
                isinstance(v, cst.Call)
                and isinstance(v.func, cst.Name)
                and v.func.value == "list"
                and not v.args
            )
            if empty and isinstance(t, cst.Name) and t.value == b:
                return True
            if empty and _is_full_slice_of(t, b):
                return True
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            f = small.value.func
            if (
                isinstance(f, cst.Attribute)
                and f.attr.value == "clear"
                and isinstance(f.value, cst.Name)
                and f.value.value == b
            ):
                return True
        if isinstance(small, cst.Del) and _is_full_slice_of(small.target, b):
            return True
    return False


def _is_full_slice_of(node: cst.BaseExpression, b: str) -> bool:
    if not (isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name)):
        return False
    if node.value.value != b or len(node.slice) != 1:
        return False
    s = node.slice[0].slice
    return isinstance(s, cst.Slice) and s.lower is None and s.upper is None and s.step is None


def _emission(stmt: cst.CSTNode, b: str) -> str | None:
    """ "yielded" / "flushed" when ``stmt`` yields ``B`` or passes it to a call."""
    for n in iter_descendants(stmt, into_scopes=False):
        if isinstance(n, cst.Yield) and n.value is not None and b in expression_names(n.value):
            return "yielded"
    for n in iter_descendants(stmt, into_scopes=False):
        if isinstance(n, cst.Call) and any(b in expression_names(a.value) for a in n.args):
            return "flushed"
    return None


class BatchGeneratorDropsLast(Rule):
    """
    ## What it does
    Flags a batching loop: its body appends to a list `B`, and an `if len(B) == N:` (or
    `>=`) block yields `B` (or an expression of it) or passes it to a call (`flush(B)`,
    `writer.write(B)`, `model.partial_fit(B)`) and then resets `B` — while nothing after the
    loop yields or passes on the final, partial batch.

    ## Why is this bad?
    When `len(data) % N != 0` the remaining items are never emitted. Nothing fails: the
    model simply never sees the tail of the dataset (`range(5)` in batches of 2 gives
    `[[0, 1], [2, 3]]`, the `4` is lost).

    ## Example
    ```python
    def batched(rows, size):
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == size:
                yield batch
                batch = []
    ```

    ## Use instead
    ```python
    def batched(rows, size):
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch
    ```

    Functions with a `drop_last`/`drop_remainder` parameter or variable, tests that mention
    `full`/`complete`, and `while True` loops (which break and flush explicitly) are not
    flagged.

    ## Fix safety
    Unsafe: `if B:` followed by the yield (or call) statement of the `if` block is inserted
    after the loop. Consumers that assume fixed-size batches (static graphs, BatchNorm with
    a batch of one) now receive a short final batch. There is no fix when the emitting
    statement does more than yield or call (e.g. assigns the result).
    """

    code = "ML012"
    name = "batch-generator-drops-last"
    summary = "A batching loop yields/flushes only full batches and never the final partial one"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("len(",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # an `if len(B) == N:` (>=, <=) whose own block resets B, in a file with a loop and
        # an append/extend call
        if not scan.has(ast.For, ast.AsyncFor, ast.While):
            return False
        attrs = scan.attrs()
        if "append" not in attrs and "extend" not in attrs:
            return False
        for node in scan.of(ast.If):
            b = _ast_full_test(node.test)
            if b is not None and any(_ast_is_reset(stmt, b) for stmt in node.body):
                return True
        return False

    def visit_For(self, node: cst.For) -> None:
        self._check(node)

    def visit_While(self, node: cst.While) -> None:
        if isinstance(node.test, cst.Name) and node.test.value == "True":
            return
        if isinstance(node.test, cst.Integer) and node.test.value == "1":
            return
        self._check(node)

    def _check(self, loop: cst.For | cst.While) -> None:
        func = self.ctx.enclosing_function()
        if func is None or self.ctx.scope.kind != "function":
            return
        if any(n in func.scope.bindings for n in _SKIP_NAMES):
            return
        body = list(iter_descendants(loop.body, into_scopes=False))
        appended: set[str] = set()
        for n in body:
            if (
                isinstance(n, cst.Call)
                and isinstance(n.func, cst.Attribute)
                and n.func.attr.value in ("append", "extend")
                and isinstance(n.func.value, cst.Name)
            ):
                appended.add(n.func.value.value)
        if not appended:
            return
        for n in body:
            if not isinstance(n, cst.If):
                continue
            found = _full_test(n.test)
            if found is None or found[0] not in appended:
                continue
            b, size = found
            if any(
                ("full" in x.lower() or "complete" in x.lower()) for x in expression_names(n.test)
            ):
                continue
            if not isinstance(n.body, cst.IndentedBlock):
                continue
            stmts = list(n.body.body)
            emit_at = None
            verb = None
            for i, stmt in enumerate(stmts):
                verb = _emission(stmt, b)
                if verb is not None:
                    emit_at = i
                    break
            if emit_at is None or verb is None:
                continue
            if not any(_is_reset(s, b) for s in stmts[emit_at + 1 :]):
                continue
            if self._emitted_after(loop, b):
                return
            self.report(
                loop,
                f"Partial batch in '{b}' is never {verb} after the loop; the last "
                f"len(data) % {self.ctx.snippet(size, 30)} items are silently dropped",
                self._fix(loop, b, stmts[emit_at]),
            )
            return

    def _emitted_after(self, loop: cst.For | cst.While, b: str) -> bool:
        """B is read after the loop (or in its ``else``) anywhere in the function."""
        if loop.orelse is not None and b in expression_names(loop.orelse):
            return True
        child: cst.CSTNode = loop
        for anc in reversed(self.ctx.stack[:-1]):
            if isinstance(anc, cst.FunctionDef):
                break
            if isinstance(anc, cst.IndentedBlock):
                seen = False
                for stmt in anc.body:
                    if seen and b in expression_names(stmt) and not _is_reset(stmt, b):
                        return True
                    if stmt is child:
                        seen = True
            child = anc
        return False

    def _fix(self, loop: cst.For | cst.While, b: str, stmt: cst.BaseStatement) -> Fix | None:
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return None
        small = stmt.body[0]
        if not isinstance(small, cst.Expr):
            return None
        value = small.value
        if isinstance(value, cst.Await):
            value = value.expression
        if not isinstance(value, (cst.Yield, cst.Call)):
            return None
        if not self.ctx.source.endswith(("\n", "\r")):
            return None
        module = self.ctx.module
        indents = block_indents(module, self.ctx.stack[:-1])
        clean = stmt.with_changes(
            leading_lines=(),
            body=[small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)],
            trailing_whitespace=cst.TrailingWhitespace(newline=cst.Newline()),
        )
        guard = cst.If(test=cst.Name(b), body=cst.IndentedBlock(body=[clean]))
        text = code_in_block(module, loop, indents) + code_in_block(module, guard, indents)
        return Fix(FixSafety.UNSAFE, [(loop, text)])


# -- the ast pre-scan (ast_gate): _full_test and _is_reset on ``ast`` ------------------------
def _ast_len_of(expr: ast.expr) -> str | None:
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and expr.func.id == "len"
        and len(expr.args) == 1
        and not expr.keywords
        and isinstance(expr.args[0], ast.Name)
    ):
        return expr.args[0].id
    return None


def _ast_full_test(test: ast.expr) -> str | None:
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return None
    op = test.ops[0]
    left = _ast_len_of(test.left)
    if left is not None and isinstance(op, (ast.Eq, ast.GtE)):
        return left
    right = _ast_len_of(test.comparators[0])
    if right is not None and isinstance(op, (ast.Eq, ast.LtE)):
        return right
    return None


def _ast_full_slice_of(node: ast.expr, b: str) -> bool:
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id == b
        and isinstance(node.slice, ast.Slice)
        and node.slice.lower is None
        and node.slice.upper is None
        and node.slice.step is None
    )


def _ast_is_reset(stmt: ast.stmt, b: str) -> bool:
    """``B = []`` / ``B = list()`` / ``B[:] = []`` / ``B.clear()`` / ``del B[:]``."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        v = stmt.value
        empty = (isinstance(v, ast.List) and not v.elts) or (
            isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "list"
        )
        t = stmt.targets[0]
        return empty and ((isinstance(t, ast.Name) and t.id == b) or _ast_full_slice_of(t, b))
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        f = stmt.value.func
        return (
            isinstance(f, ast.Attribute)
            and f.attr == "clear"
            and isinstance(f.value, ast.Name)
            and f.value.id == b
        )
    if isinstance(stmt, ast.Delete):
        return any(_ast_full_slice_of(t, b) for t in stmt.targets)
    return False
