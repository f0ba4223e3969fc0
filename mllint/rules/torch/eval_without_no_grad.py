"""ML931 eval-without-no-grad (off by default)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.prescan import dotted_name as ast_dotted_name
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block, int_value
from mllint.semantics.scopes import Scope
from mllint.semantics.walk import child_nodes

_NO_GRAD = frozenset({"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad"})
_SET_GRAD = frozenset({"torch.set_grad_enabled", "torch.autograd.set_grad_enabled"})
_GRAD_CALLS = frozenset({"torch.autograd.grad", "torch.autograd.backward"})
_FORWARD_METHODS = frozenset({"forward", "predict"})


class EvalWithoutNoGrad(Rule):
    """
    ## What it does
    In a function, flags a forward call `<m>(...)`, `<m>.forward(...)` or `<m>.predict(...)`
    that follows a call `<m>.eval()` on the same receiver (a name or `self.<attr>`) and is not
    inside `with torch.no_grad():`, `with torch.inference_mode():` or
    `with torch.set_grad_enabled(False):`. Functions decorated with `@torch.no_grad()` or
    `@torch.inference_mode()`, and functions that call `.backward(...)` or
    `torch.autograd.grad(...)`, are skipped. Off by default: saliency maps, adversarial
    examples and some evaluation code need gradients in eval mode.

    ## Why is this bad?
    `eval()` only switches dropout and batch-norm behaviour; it does not disable autograd.
    Without `no_grad`, every activation of the forward pass is kept for a backward pass that
    never comes: more memory and slower inference.

    ## Example
    ```python
    def evaluate(model, x_val):
        model.eval()
        preds = model(x_val)
        return preds.argmax(dim=1)
    ```

    ## Use instead
    ```python
    def evaluate(model, x_val):
        model.eval()
        with torch.inference_mode():
            preds = model(x_val)
        return preds.argmax(dim=1)
    ```

    ## Fix safety
    Unsafe: the simple statement containing the forward call is wrapped in
    `with torch.inference_mode():`. Tensors created inside cannot later take part in
    autograd (use `torch.no_grad()` if they must). Statements that are not on a line of their
    own in an indented block have no fix.
    """

    code = "ML931"
    name = "eval-without-no-grad"
    summary = "Inference after `model.eval()` outside `torch.no_grad()`/`inference_mode()`"
    tier = 3
    default_enabled = False
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = (".eval()",)

    _scope: Scope

    @classmethod
    def can_match(cls, source: str) -> bool:
        return "torch" in source

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # torch imported; a `<m>.eval()` call (m a name or `<name>.<attr>`) and a call of
        # `<m>(...)`, `<m>.forward(...)` or `<m>.predict(...)`
        if "eval" not in scan.attrs() or not scan.imports_any("torch"):
            return False
        evaluated: set[str] = set()
        for c in scan.calls("eval"):
            func = c.func
            if isinstance(func, ast.Attribute) and not c.args and not c.keywords:
                recv = func.value
                if isinstance(recv, ast.Name) or (
                    isinstance(recv, ast.Attribute) and isinstance(recv.value, ast.Name)
                ):
                    name = ast_dotted_name(recv)
                    if name is not None:
                        evaluated.add(name)
        if not evaluated:
            return False
        names = {e.rsplit(".", 1)[-1] for e in evaluated} | _FORWARD_METHODS
        for c in scan.calls(*names):
            func = c.func
            if ast_dotted_name(func) in evaluated:
                return True
            if (
                isinstance(func, ast.Attribute)
                and func.attr in _FORWARD_METHODS
                and ast_dotted_name(func.value) in evaluated
            ):
                return True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        ctx = self.ctx
        if not ctx.imports("torch") or ".eval()" not in ctx.code(node.body):
            return
        for dec in node.decorators:
            expr = dec.decorator
            if isinstance(expr, cst.Call):
                expr = expr.func
            if ctx.qualname(expr) in _NO_GRAD:
                return
        fscope = ctx.model.scope_for(node)
        if fscope is None:
            return
        self._scope = fscope
        # pass 1: gradient use anywhere in the function, eval receivers in order
        walk = list(_walk(node.body, [node]))
        for n, _ in walk:
            if isinstance(n, cst.Call):
                if isinstance(n.func, cst.Attribute) and n.func.attr.value == "backward":
                    return
                if ctx.qualname_in(n.func, fscope) in _GRAD_CALLS:
                    return
        evaluated: list[cst.BaseExpression] = []
        seen_stmts: set[int] = set()
        for n, parents in walk:
            if not isinstance(n, cst.Call):
                continue
            func = n.func
            if isinstance(func, cst.Attribute) and func.attr.value == "eval" and not n.args:
                if _receiver(func.value):
                    evaluated.append(func.value)
                continue
            if isinstance(func, cst.Attribute) and func.attr.value == "train":
                # back in training mode: later forward calls are training steps
                evaluated = [e for e in evaluated if not ctx.equal(e, func.value)]
                continue
            receiver: cst.BaseExpression | None = None
            if _receiver(func):
                receiver = func
            elif isinstance(func, cst.Attribute) and func.attr.value in _FORWARD_METHODS:
                receiver = func.value
            if receiver is None or not any(ctx.equal(receiver, e) for e in evaluated):
                continue
            if self._under_no_grad(parents):
                continue
            stmt = _statement(parents)
            fix = None
            if stmt is not None and id(stmt) not in seen_stmts:
                seen_stmts.add(id(stmt))
                fix = self._fix(stmt, parents)
            m = ctx.snippet(receiver, 40)
            self.report(
                n,
                f"'{m}.eval()' does not disable autograd; this forward pass still records the "
                "graph — wrap inference in torch.inference_mode() (or torch.no_grad())",
                fix,
            )

    def _under_no_grad(self, parents: list[cst.CSTNode]) -> bool:
        ctx = self.ctx
        for p in parents:
            if not isinstance(p, cst.With):
                continue
            for item in p.items:
                expr = item.item
                if not isinstance(expr, cst.Call):
                    if ctx.qualname_in(expr, self._scope) in _NO_GRAD:
                        return True
                    continue
                q = ctx.qualname_in(expr.func, self._scope)
                if q in _NO_GRAD:
                    return True
                if q in _SET_GRAD and expr.args:
                    v = expr.args[0].value
                    if (isinstance(v, cst.Name) and v.value == "False") or int_value(v) == 0:
                        return True
        return False

    def _fix(self, stmt: cst.SimpleStatementLine, parents: list[cst.CSTNode]) -> Fix | None:
        ctx = self.ctx
        idx = next(i for i, p in enumerate(parents) if p is stmt)
        block = parents[idx - 1] if idx >= 1 else None
        if not isinstance(block, cst.IndentedBlock):
            return None
        plan = ctx.import_name("torch")
        if plan is None:
            return None
        outer = [*ctx.stack[:-1], *parents[:idx]]
        indents = block_indents(ctx.module, outer)
        inner = [*indents, ctx.module.default_indent]
        full = code_in_block(ctx.module, stmt, indents)
        rest = code_in_block(ctx.module, stmt.with_changes(leading_lines=()), indents)
        if not full.endswith(rest):  # pragma: no cover - defensive
            return None
        lead = full[: len(full) - len(rest)]
        body = code_in_block(ctx.module, stmt.with_changes(leading_lines=()), inner)
        newline = ctx.module.default_newline
        text = f"{lead}{''.join(indents)}with {plan.local}.inference_mode():{newline}{body}"
        return Fix(FixSafety.UNSAFE, [(stmt, text)], [plan])


def _receiver(expr: cst.BaseExpression) -> bool:
    """A name or ``<name>.<attr>`` (e.g. ``self.model``)."""
    if isinstance(expr, cst.Name):
        return True
    return isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name)


def _statement(parents: list[cst.CSTNode]) -> cst.SimpleStatementLine | None:
    for p in reversed(parents):
        if isinstance(p, cst.SimpleStatementLine):
            return p
        if isinstance(p, cst.BaseCompoundStatement):
            return None
    return None


def _walk(
    root: cst.CSTNode, parents: list[cst.CSTNode]
) -> list[tuple[cst.CSTNode, list[cst.CSTNode]]]:
    """Nodes under ``root`` in source order with their ancestors (``parents`` first), not
    entering nested functions, lambdas or classes."""
    out: list[tuple[cst.CSTNode, list[cst.CSTNode]]] = []
    stack: list[tuple[cst.CSTNode, list[cst.CSTNode]]] = [(root, parents)]
    while stack:
        node, ps = stack.pop()
        out.append((node, ps))
        if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            continue
        kids = list(child_nodes(node))
        kids.reverse()
        here = [*ps, node]
        for k in kids:
            stack.append((k, here))
    return out
