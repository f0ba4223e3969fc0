"""ML305 missing-zero-grad."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.sklearn.unseeded_split import _walk_local
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block, dotted_name
from mllint.semantics.general_facts import annotation_elements
from mllint.semantics.scopes import Binding, ClassInfo, Scope
from mllint.semantics.walk import iter_descendants

_LOOPS = (cst.For, cst.While)
#: torch.optim sub-modules that hold no optimizers (lr schedulers also have .step())
_NOT_OPTIMIZERS = ("torch.optim.lr_scheduler.", "torch.optim.swa_utils.")


class MissingZeroGrad(Rule):
    """
    ## What it does
    Flags a `for`/`while` loop whose body (at any depth, not inside nested functions) calls
    `<x>.backward(...)` and `<opt>.step()`, where `<opt>` is a name or `self.<attr>` bound
    from a `torch.optim.*` optimizer (or a same-module subclass of `torch.optim.Optimizer`),
    a parameter annotated with `torch.optim.Optimizer` (or a `torch.optim` optimizer class),
    or an unannotated parameter or attribute with an optimizer's conventional name
    (`optimizer`, `opt`, `optim`, `<prefix>_optimizer`, `self.optimizer`) that no other
    binding makes something else, but never clears gradients: no `<anything>.zero_grad(...)` call, no `<p>.grad = None`,
    no `<p>.grad.zero_()`, and no call to a function whose name contains `zero_grad` or to a
    same-module function/method that calls `zero_grad`. When nested loops both match, only
    the innermost one is reported.

    ## Why is this bad?
    `backward()` adds to `.grad`; without clearing, each step uses the sum of all previous
    gradients (`.grad` reaches 3.0 after three identical steps of gradient 1.0). Training
    diverges or behaves like an unintended, ever-growing momentum.

    ## Example
    ```python
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    for xb, yb in loader:
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
    ```

    ## Use instead
    ```python
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
    ```

    Gradient accumulation (`step()` and `zero_grad()` every k batches) is not flagged, since
    `zero_grad` is present. Lr-scheduler `.step()` calls do not count as optimizer steps.

    ## Fix safety
    Unsafe: `<opt>.zero_grad()` is inserted as the first statement of the reported loop's
    body. Training changes (which is the intent). Loops whose body is on the header line have
    no fix.
    """

    code = "ML305"
    name = "missing-zero-grad"
    summary = "A training loop calls `backward()` and `step()` but never clears gradients"
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("backward",)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._helper_cache: dict[int, bool] = {}

    @classmethod
    def can_match(cls, source: str) -> bool:
        return "torch" in source and ".step(" in source

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # torch imported; a loop whose body (not nested scopes) calls `.backward(...)` and
        # `.step(...)` and no callee named like zero_grad, and sets no `<x>.grad = ...`
        attrs = scan.attrs()
        if "backward" not in attrs or "step" not in attrs or not scan.imports_any("torch"):
            return False
        seen: set[str] = set()
        for c in scan.in_loops(ast.Call):
            func = c.func
            if isinstance(func, ast.Attribute) and func.attr in ("backward", "step"):
                seen.add(func.attr)
        if len(seen) != 2:
            return False
        if not any("zero_grad" in n for n in scan.called()) and "grad" not in attrs:
            return True
        return any(_ast_loop_may_match(loop) for loop in scan.of(ast.For, ast.AsyncFor, ast.While))

    def visit_For(self, node: cst.For) -> None:
        self._check(node)

    def visit_While(self, node: cst.While) -> None:
        self._check(node)

    def _check(self, loop: cst.For | cst.While) -> None:
        if not self.ctx.imports("torch"):
            return
        opt = self._matches(loop.body)
        if opt is None:
            return
        # only the innermost matching loop
        for inner in iter_descendants(loop.body, into_scopes=False):
            if isinstance(inner, _LOOPS) and self._matches(inner.body) is not None:
                return
        opt_code = self.ctx.snippet(opt, 40)
        backward = self._backward_receiver(loop.body)
        self.report(
            loop,
            f"This loop calls {backward}.backward() and {opt_code}.step() but never "
            f"{opt_code}.zero_grad(): gradients accumulate across iterations",
            self._fix(loop, opt_code),
        )

    def _backward_receiver(self, body: cst.BaseSuite) -> str:
        for n in iter_descendants(body, into_scopes=False):
            if (
                isinstance(n, cst.Call)
                and isinstance(n.func, cst.Attribute)
                and n.func.attr.value == "backward"
            ):
                return self.ctx.snippet(n.func.value, 30)
        return "loss"  # pragma: no cover - _matches found one

    def _matches(self, body: cst.BaseSuite) -> cst.BaseExpression | None:
        """The optimizer expression when ``body`` backpropagates and steps without clearing."""
        has_backward = False
        opt: cst.BaseExpression | None = None
        for n in iter_descendants(body, into_scopes=False):
            if isinstance(n, cst.Call):
                func = n.func
                name = func.attr.value if isinstance(func, cst.Attribute) else None
                if isinstance(func, cst.Name):
                    name = func.value
                if name is None:
                    continue
                if "zero_grad" in name:
                    return None
                if name == "zero_" and isinstance(func, cst.Attribute) and _mentions_grad(func):
                    return None
                if name == "backward" and isinstance(func, cst.Attribute):
                    has_backward = True
                elif (
                    name == "step"
                    and isinstance(func, cst.Attribute)
                    and opt is None
                    and self._is_optimizer(func.value)
                ):
                    opt = func.value
                elif self._helper_clears(func):
                    return None
            elif isinstance(n, (cst.Assign, cst.Del)):
                targets = [t.target for t in n.targets] if isinstance(n, cst.Assign) else [n.target]
                if any(isinstance(t, cst.Attribute) and t.attr.value == "grad" for t in targets):
                    return None
        return opt if has_backward else None

    # -- optimizers ------------------------------------------------------------------------
    def _is_optimizer(self, expr: cst.BaseExpression) -> bool:
        ctx = self.ctx
        if isinstance(expr, cst.Name):
            bindings = ctx.bindings(expr.value)
            return bool(bindings) and all(self._optimizer_binding(b) for b in bindings)
        if (
            isinstance(expr, cst.Attribute)
            and isinstance(expr.value, cst.Name)
            and (finfo := ctx.enclosing_function()) is not None
            and finfo.self_name == expr.value.value
            and (cls := ctx.enclosing_class()) is not None
        ):
            found = cls.attr_bindings.get(expr.attr.value) or []
            if _optimizer_name(expr.attr.value):
                return bool(found) and all(self._optimizer_attr_binding(b) for b in found)
            return bool(found) and all(self._optimizer_binding(b) for b in found)
        return False

    def _optimizer_binding(self, b: Binding) -> bool:
        value = b.value
        scope = b.scope or self.ctx.scope
        if b.kind == "param" and isinstance(b.node, cst.Param):
            if b.annotation is not None:
                return self._optimizer_annotation(b.annotation, scope)
            # unannotated: only a conventional optimizer name, defaulting to nothing or None
            return _optimizer_name(b.name) and (
                value is None or (isinstance(value, cst.Name) and value.value == "None")
            )
        if b.kind not in ("assign", "attr", "annassign") or b.unpacked:
            return False
        if b.kind == "annassign" and b.annotation is not None and value is None:
            return self._optimizer_annotation(b.annotation, scope)
        if not isinstance(value, cst.Call):
            return False
        return self._optimizer_class(value.func, scope)

    def _optimizer_attr_binding(self, b: Binding) -> bool:
        """``self.<opt> = ...`` where ``<opt>`` is a conventional optimizer name: any value
        except one resolving to something that is not a ``torch.optim`` optimizer."""
        if self._optimizer_binding(b):
            return True
        value = b.value
        if value is None:
            return False
        if isinstance(value, cst.Name) and value.value == "None":
            return True  # ``self.optimizer = None`` until set up elsewhere
        scope = b.scope or self.ctx.scope
        if isinstance(value, cst.Name):
            # ``self.optimizer = optimizer``: the parameter (or local) must qualify itself
            found = self.ctx.bindings(value.value, scope)
            return bool(found) and all(self._optimizer_binding(x) for x in found)
        if isinstance(value, cst.Call):
            func = value.func
            if self.ctx.qualname_in(func, scope) is not None:
                return False  # a call of a known library function or class, not an optimizer
            # a same-module class that is not an Optimizer subclass does not count;
            # e.g. ``self.build_optimizer()`` does: the name decides
            return not (
                isinstance(func, cst.Name) and self.ctx.kinds.local_class(func.value, scope)
            )
        return False

    def _optimizer_annotation(self, ann: cst.BaseExpression, scope: Scope) -> bool:
        """``torch.optim.Optimizer`` (or a torch.optim optimizer class), also as a string,
        ``Optional[...]`` or ``... | None``: exactly one alternative besides None."""
        elements = annotation_elements(self.ctx, ann, scope)
        return (
            len(elements) == 1
            and isinstance(elements[0], (cst.Name, cst.Attribute))
            and self._optimizer_class(elements[0], scope)
        )

    def _optimizer_class(self, func: cst.BaseExpression, scope: Scope) -> bool:
        ctx = self.ctx
        q = ctx.qualname_in(func, scope)
        if q is not None:
            if not q.startswith("torch.optim.") or q.startswith(_NOT_OPTIMIZERS):
                return False
            last = q.rsplit(".", 1)[-1]
            return last[:1].isupper()
        if isinstance(func, cst.Name):
            cls = ctx.kinds.local_class(func.value, scope)
            return cls is not None and self._optimizer_subclass(cls)
        return False

    def _optimizer_subclass(self, cls: ClassInfo) -> bool:
        return any(
            q.startswith("torch.optim.") and not q.startswith(_NOT_OPTIMIZERS)
            for q in self.ctx.class_bases(cls)
        )

    # -- helpers that clear gradients -------------------------------------------------------
    def _helper_clears(self, func: cst.BaseExpression) -> bool:
        """``helper(...)`` / ``self.helper(...)`` defined in this module and calling
        ``zero_grad`` (or setting ``.grad``) somewhere in its body."""
        ctx = self.ctx
        target: cst.CSTNode | None = None
        if isinstance(func, cst.Name):
            bindings = ctx.bindings(func.value)
            if bindings and all(b.kind == "def" for b in bindings):
                target = bindings[0].node
        elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
            finfo = ctx.enclosing_function()
            cls = ctx.enclosing_class()
            if finfo is not None and cls is not None and finfo.self_name == func.value.value:
                target = cls.methods.get(func.attr.value)
        if not isinstance(target, cst.FunctionDef):
            return False
        cached = self._helper_cache.get(id(target))
        if cached is None:
            text = ctx.code(target)
            cached = "zero_grad" in text or ".grad = None" in text or ".grad.zero_(" in text
            self._helper_cache[id(target)] = cached
        return cached

    # -- the fix ---------------------------------------------------------------------------
    def _fix(self, loop: cst.For | cst.While, opt_code: str) -> Fix | None:
        body = loop.body
        if not isinstance(body, cst.IndentedBlock) or not body.body:
            return None
        if "\n" in opt_code or "#" in opt_code:
            return None
        first = body.body[0]
        ctx = self.ctx
        indents = block_indents(ctx.module, [*ctx.stack, body])
        indent = "".join(indents)
        full = code_in_block(ctx.module, first, indents)
        rest = code_in_block(ctx.module, first.with_changes(leading_lines=()), indents)
        if not full.endswith(rest):  # pragma: no cover - defensive
            return None
        lead = full[: len(full) - len(rest)]
        newline = ctx.module.default_newline
        text = f"{indent}{opt_code}.zero_grad(){newline}{lead}{rest}"
        return Fix(FixSafety.UNSAFE, [(first, text)])


def _ast_loop_may_match(loop: ast.For | ast.AsyncFor | ast.While) -> bool:
    """The loop's body calls ``.backward`` and ``.step`` and clears no gradients in a way
    :meth:`MissingZeroGrad._matches` surely sees."""
    backward = step = False
    for n in _walk_local(loop.body):
        if isinstance(n, ast.Call):
            name = terminal_name(n.func)
            if name is None:
                continue
            if "zero_grad" in name:
                return False
            if isinstance(n.func, ast.Attribute):
                backward = backward or name == "backward"
                step = step or name == "step"
        elif isinstance(n, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr == "grad" for t in n.targets
        ):
            return False
    return backward and step


def _mentions_grad(func: cst.Attribute) -> bool:
    """``<p>.grad.zero_()`` / ``<p>.grad.data.zero_()``."""
    name = dotted_name(func.value) or ""
    return ".grad" in f".{name}" or (
        isinstance(func.value, cst.Attribute) and func.value.attr.value in ("grad", "data")
    )


def _optimizer_name(name: str) -> bool:
    """The conventional names of an optimizer: ``optimizer``, ``opt``, ``optim``,
    ``<prefix>_optimizer`` (``g_optimizer``, ``self.optimizer``)."""
    return name in ("optimizer", "opt", "optim") or (
        name.endswith("_optimizer") and len(name) > len("_optimizer")
    )
