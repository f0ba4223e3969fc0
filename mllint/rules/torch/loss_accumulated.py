"""ML303 loss-accumulated-with-graph."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import attr_name, float_literal, int_value
from mllint.semantics.walk import iter_descendants

_LOOPS = (cst.For, cst.While)
_LOSS_SUFFIXES = ("loss", "criterion", "loss_fn")
#: callees an accumulator may be passed to without escaping (printing, logging, formatting)
_HARMLESS_CALLEES = frozenset(
    {
        "print", "len", "str", "repr", "float", "int", "round", "format", "abs",
        "debug", "info", "warning", "warn", "error", "log", "log_metric", "log_metrics",
        "add_scalar", "add_scalars", "set_postfix", "set_description", "set_postfix_str",
        "write", "echo", "item",
    }
)  # fmt: skip


def _number(node: cst.BaseExpression | None) -> bool:
    return int_value(node) is not None or float_literal(node) is not None


class LossAccumulatedWithGraph(Rule):
    """
    ## What it does
    Flags `accum += E` (or `accum = accum + E`) inside the body of a `for`/`while` loop when `E`
    adds a name `L` directly (not wrapped in `.item()`, `.detach()`, `float(...)`,
    `.tolist()` or any other call) and, in the same loop body, `L.backward(...)` is called,
    or `L` is assigned from a call whose callee name ends in `loss`/`criterion`/`loss_fn` and
    the loop body calls `.backward()`. `accum` must be initialised to a number literal outside
    the loop, and must not escape: not returned or yielded, not passed to a function other
    than printing, logging and formatting, not backpropagated, not stored on `self`, in a
    subscript or a container (the same holds for a name assigned from it).

    ## Why is this bad?
    `running += loss` turns `running` into a tensor that references the autograd graph of
    every iteration (it has `requires_grad=True` and a `grad_fn`), so the activations of all
    steps are never freed and memory grows until the process runs out of it; logging also
    becomes slower. `loss.item()` (a Python float) or `loss.detach()` (a tensor without
    history) break the chain.

    ## Example
    ```python
    running_loss = 0.0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        running_loss += loss
    print(f"epoch loss {running_loss / len(loader):.4f}")
    ```

    ## Use instead
    ```python
        running_loss += loss.item()
    ```

    Accumulation that is backpropagated later (`total = total + loss` then `total.backward()`,
    gradient accumulation in one graph) and accumulators returned from the function (a
    caller may backpropagate) are not flagged.

    ## Fix safety
    Unsafe: each direct occurrence of `L` in `E` becomes `L.detach()`. The accumulator stays a
    tensor, so later `.item()`, `float(accum)` and `f"{accum:.3f}"` keep working, but its
    `requires_grad`/`grad_fn` change.
    """

    code = "ML303"
    name = "loss-accumulated-with-graph"
    summary = "A loss tensor is accumulated across iterations without `.item()`/`.detach()`"
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("backward",)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._escape_cache: dict[tuple[int, str], bool] = {}

    @classmethod
    def can_match(cls, source: str) -> bool:
        return "torch" in source

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # torch imported; inside a loop, `acc += E`/`acc = acc + E` where acc is assigned a
        # number literal somewhere and E adds a name L directly, L being the receiver of a
        # `.backward()` in a loop or (with any `.backward()` in a loop) assigned from a call
        # named like a loss
        if "backward" not in scan.attrs() or not scan.imports_any("torch"):
            return False
        accumulations: list[tuple[str, set[str]]] = []
        for node in scan.in_loops(ast.AugAssign, ast.Assign):
            found = _ast_accumulation(node)
            if found is not None:
                accumulations.append(found)
        if not accumulations:
            return False
        receivers: set[str] = set()
        any_backward = False
        for c in scan.in_loops(ast.Call):
            func = c.func
            if isinstance(func, ast.Attribute) and func.attr == "backward":
                any_backward = True
                if isinstance(func.value, ast.Name):
                    receivers.add(func.value.id)
        if not any_backward:
            return False
        numbers: set[str] = set()
        losses: set[str] = set()
        for assign in scan.of(ast.Assign, ast.AnnAssign):
            targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
            value = assign.value
            if _ast_number(value):
                numbers.update(t.id for t in targets if isinstance(t, ast.Name))
            elif isinstance(value, ast.Call):
                callee = (terminal_name(value.func) or "").lower()
                if callee.endswith(_LOSS_SUFFIXES):
                    losses.update(t.id for t in targets if isinstance(t, ast.Name))
        losses |= receivers
        return any(acc in numbers and direct & losses for acc, direct in accumulations)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.operator, cst.AddAssign) and isinstance(node.target, cst.Name):
            self._check(node, node.target.value, node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.targets[0].target, cst.Name):
            return
        value = node.value
        accum = node.targets[0].target.value
        if (
            isinstance(value, cst.BinaryOperation)
            and isinstance(value.operator, cst.Add)
            and isinstance(value.left, cst.Name)
            and value.left.value == accum
        ):
            self._check(node, accum, value.right)

    # -- the trigger -----------------------------------------------------------------------
    def _check(
        self, node: cst.AugAssign | cst.Assign, accum: str, expr: cst.BaseExpression
    ) -> None:
        ctx = self.ctx
        if not ctx.imports("torch"):
            return
        loop = self._innermost_loop()
        if loop is None:
            return
        direct = _direct_names(expr)
        if not direct:
            return
        body_nodes = list(iter_descendants(loop.body, into_scopes=False))
        backward_on: set[str] = set()
        any_backward = False
        loss_calls: set[str] = set()
        for n in body_nodes:
            if (
                isinstance(n, cst.Call)
                and isinstance(n.func, cst.Attribute)
                and n.func.attr.value == "backward"
            ):
                any_backward = True
                if isinstance(n.func.value, cst.Name):
                    backward_on.add(n.func.value.value)
            if isinstance(n, cst.Assign) and isinstance(n.value, cst.Call):
                callee = (attr_name(n.value.func) or "").lower()
                if callee.endswith(_LOSS_SUFFIXES):
                    for t in n.targets:
                        if isinstance(t.target, cst.Name):
                            loss_calls.add(t.target.value)
        losses = [
            n
            for n in direct
            if n.value != accum
            and (n.value in backward_on or (any_backward and n.value in loss_calls))
        ]
        if not losses:
            return
        if accum in backward_on or not self._initialised_to_number(accum, loop):
            return
        if self._escapes(accum):
            return
        loss = losses[0].value
        shown = ctx.snippet(node, 50)
        fix = Fix(
            FixSafety.UNSAFE,
            [(n, cst.parse_expression(f"{n.value}.detach()")) for n in losses],
        )
        self.report(
            node,
            f"'{shown}' keeps each iteration's autograd graph alive (memory grows every step); "
            f"accumulate {loss}.item() or {loss}.detach()",
            fix,
        )

    def _innermost_loop(self) -> cst.For | cst.While | None:
        stack = self.ctx.stack
        for i in range(len(stack) - 1, 0, -1):
            child, parent = stack[i], stack[i - 1]
            if isinstance(parent, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                return None
            if isinstance(parent, _LOOPS) and child is parent.body:
                return parent
        return None

    def _initialised_to_number(self, accum: str, loop: cst.CSTNode) -> bool:
        """Some binding of ``accum`` outside the loop is a number literal, and every binding is
        a number literal or an accumulation."""
        inside = {id(n) for n in iter_descendants(loop)}
        outside_number = False
        for b in self.ctx.bindings(accum):
            if b.kind == "augassign":
                continue
            if b.kind not in ("assign", "annassign") or b.unpacked:
                return False
            value = b.value
            if _number(value):
                if id(b.node) not in inside:
                    outside_number = True
                continue
            if (
                isinstance(value, cst.BinaryOperation)
                and isinstance(value.left, cst.Name)
                and value.left.value == accum
            ):
                continue
            return False
        return outside_number

    # -- escapes -----------------------------------------------------------------------------
    def _escapes(self, accum: str) -> bool:
        ctx = self.ctx
        finfo = ctx.enclosing_function()
        root: cst.CSTNode = finfo.node.body if finfo is not None else ctx.module
        key = (id(root), accum)
        cached = self._escape_cache.get(key)
        if cached is None:
            cached = self._name_escapes(root, accum, depth=0)
            self._escape_cache[key] = cached
        return cached

    def _name_escapes(self, root: cst.CSTNode, name: str, depth: int) -> bool:
        derived: set[str] = set()
        for n, parents in _walk_with_parents(root):
            if not (isinstance(n, cst.Name) and n.value == name):
                continue
            for i in range(len(parents) - 1, -1, -1):
                p = parents[i]
                child = parents[i + 1] if i + 1 < len(parents) else n
                if isinstance(p, (cst.Return, cst.Yield)):
                    return True
                if isinstance(p, cst.Attribute) and child is p.value and p.attr.value == "backward":
                    return True
                if isinstance(p, cst.Arg):
                    call = parents[i - 1] if i >= 1 else None
                    if isinstance(call, cst.Call):
                        callee = attr_name(call.func)
                        if callee not in _HARMLESS_CALLEES:
                            return True
                if isinstance(p, (cst.List, cst.Tuple, cst.Set, cst.Dict)) and not isinstance(
                    parents[i - 1] if i >= 1 else None, (cst.AssignTarget, cst.For)
                ):
                    return True
                if isinstance(p, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
                    if child is getattr(p, "value", None):
                        targets = (
                            [t.target for t in p.targets]
                            if isinstance(p, cst.Assign)
                            else [p.target]
                        )
                        for t in targets:
                            if isinstance(t, cst.Name):
                                if t.value != name:
                                    derived.add(t.value)
                            else:
                                return True  # self.x = accum / d[k] = accum
                    break
                if isinstance(p, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                    break
        if depth == 0:
            return any(self._name_escapes(root, d, depth=1) for d in derived)
        return False


def _ast_accumulation(node: ast.AST) -> tuple[str, set[str]] | None:
    """``(acc, names E adds directly, acc left out)`` for ``acc += E``/``acc = acc + E``."""
    if isinstance(node, ast.AugAssign):
        if isinstance(node.op, ast.Add) and isinstance(node.target, ast.Name):
            acc, expr = node.target.id, node.value
        else:
            return None
    elif isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value = node.targets[0], node.value
        if not (
            isinstance(target, ast.Name)
            and isinstance(value, ast.BinOp)
            and isinstance(value.op, ast.Add)
            and isinstance(value.left, ast.Name)
            and value.left.id == target.id
        ):
            return None
        acc, expr = target.id, value.right
    else:
        return None
    direct = _ast_direct_names(expr) - {acc}
    return (acc, direct) if direct else None


def _ast_direct_names(expr: ast.expr) -> set[str]:
    """:func:`_direct_names` on ast nodes."""
    if isinstance(expr, ast.Name):
        return {expr.id}
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        return _ast_direct_names(expr.left) | _ast_direct_names(expr.right)
    if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
        return _ast_direct_names(expr.operand)
    return set()


def _ast_number(node: ast.expr | None) -> bool:
    """A number literal, possibly signed (``int_value``/``float_literal``)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float))


def _direct_names(expr: cst.BaseExpression) -> list[cst.Name]:
    """Names added directly: through ``+ - * /`` and parentheses, not inside calls,
    attributes or subscripts."""
    if isinstance(expr, cst.Name):
        return [expr]
    if isinstance(expr, cst.BinaryOperation) and isinstance(
        expr.operator, (cst.Add, cst.Subtract, cst.Multiply, cst.Divide)
    ):
        return [*_direct_names(expr.left), *_direct_names(expr.right)]
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        return _direct_names(expr.expression)
    return []


def _walk_with_parents(
    root: cst.CSTNode,
) -> list[tuple[cst.CSTNode, list[cst.CSTNode]]]:
    """Every node under ``root`` (not entering nested scopes) with its ancestors below root."""
    from mllint.semantics.walk import child_nodes

    out: list[tuple[cst.CSTNode, list[cst.CSTNode]]] = []
    stack: list[tuple[cst.CSTNode, list[cst.CSTNode]]] = [(root, [])]
    while stack:
        node, parents = stack.pop()
        out.append((node, parents))
        if node is not root and isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            continue
        kids = list(child_nodes(node))
        kids.reverse()
        for k in kids:
            stack.append((k, [*parents, node]))
    return out
