"""ML904 wall-clock-duration."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.general.lru_cache_method import _import_locals, _root_name
from mllint.semantics import kinds as K
from mllint.semantics.context import FileContext, FileFacts
from mllint.semantics.cstutil import attr_name, call_arg, string_value
from mllint.semantics.scopes import ClassInfo, Scope
from mllint.semantics.walk import child_nodes, iter_descendants

_CLOCK = "time.time"
_MESSAGE = "time.time() is a wall clock (can jump, coarse); use time.perf_counter() for durations"
_CUDA = (
    " — and call torch.cuda.synchronize() before reading the clock, CUDA kernels run asynchronously"
)
#: calls that wait for the queued CUDA kernels (an explicit synchronize, or a device-to-host
#: copy: ``loss.item()``, ``.cpu()``, ``.tolist()``)
_SYNC_METHODS = frozenset({"synchronize", "item", "cpu", "tolist", "numpy"})
_BOUNDARIES = (cst.FunctionDef, cst.ClassDef)


def _clock_callee(func: ast.expr, bound: set[str]) -> bool:
    """``func`` can resolve to ``time.time``: a name an import binds to ``time.time`` (or to
    the ``time`` module), or an attribute chain ending in ``.time`` rooted at one."""
    if isinstance(func, ast.Name):
        return func.id in bound
    return isinstance(func, ast.Attribute) and func.attr == "time" and _root_name(func) in bound


@dataclass
class _Analysis:
    """Timer variables of one scope (names) or one class (``self`` attributes) and how they
    are used: which subtractions read them and whether anything else does."""

    timers: set[str]
    #: timer -> the ``time.time()`` calls it is bound from
    clock_calls: dict[str, list[cst.Call]] = field(default_factory=dict)
    #: every flagged-shape subtraction: (node, left clock call or None, left timer, right timer)
    subs: list[tuple[cst.BinaryOperation, cst.Call | None, str | None, str]] = field(
        default_factory=list
    )
    #: timers read somewhere other than as an operand of such a subtraction
    other_use: set[str] = field(default_factory=set)

    def component(self, seed: str) -> set[str]:
        comp = {seed}
        changed = True
        while changed:
            changed = False
            for _, _, left, right in self.subs:
                if left is None:
                    continue
                if (left in comp) != (right in comp):
                    comp |= {left, right}
                    changed = True
        return comp


class WallClockDuration(Rule):
    """
    ## What it does
    Flags a duration computed from `time.time()`: `time.time() - t0` or `t1 - t0`, where
    every binding of `t0` (and `t1`) in the same scope is `time.time()`, or where they are
    `self.<attr>` attributes that every method of the class sets only to `time.time()`
    (a timer started in `__enter__` or `on_epoch_begin` and read in `__exit__` or
    `on_epoch_end`).

    In a module that imports torch, the message also asks for `torch.cuda.synchronize()` when
    a call on a `torch.nn.Module`, a `.cuda()` or a `.to("cuda")` happens between the two
    clock reads and nothing in between synchronises (`torch.cuda.synchronize()`, or a
    device-to-host copy such as `loss.item()`, `.cpu()`, `.tolist()`).

    ## Why is this bad?
    `time.time()` follows the system clock, which NTP adjustments or a manual change can move
    backwards or forwards while the job runs, and its resolution is coarse on some platforms.
    `time.perf_counter()` is monotonic and high-resolution, made for measuring durations.
    CUDA calls return before their kernels finish, so a timing without synchronisation
    measures the launch overhead, not the work.

    ## Example
    ```python
    t0 = time.time()
    logits = model(batch)
    print(f"forward: {time.time() - t0:.3f}s")
    ```

    ## Use instead
    ```python
    t0 = time.perf_counter()
    logits = model(batch)
    torch.cuda.synchronize()
    print(f"forward: {time.perf_counter() - t0:.3f}s")
    ```

    ## Fix safety
    Unsafe: every `time.time()` call of the timer variables is replaced by
    `time.perf_counter()` (the start reads and the end reads, for all the subtractions that
    share a variable). The values become seconds since an arbitrary point instead of a Unix
    timestamp, so the fix is skipped when a timer variable is used in any other way in the
    file (logged, stored, compared with a timestamp, read in a nested function). A `self`
    attribute may still be read from outside the module. No synchronisation call is added.
    """

    code = "ML904"
    name = "wall-clock-duration"
    summary = "Durations measured with `time.time()` (and CUDA work timed without synchronisation)"
    tier = 3
    default_enabled = False
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("time",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # an argument-less call of `<name>` or `<name>...time` with the name bound by an
        # import of time(.time), and a subtraction `<call, name or attribute> - <name or name.attr>`
        bound = _import_locals(scan, facts, (_CLOCK,))
        if not bound:
            return False
        if not any(
            not call.args and not call.keywords and _clock_callee(call.func, bound)
            for call in scan.of(ast.Call)
        ):
            return False
        for op in scan.of(ast.BinOp):
            if not isinstance(op.op, ast.Sub):
                continue
            right = op.right
            if isinstance(right, ast.Attribute):
                right = right.value
            if isinstance(right, ast.Name) and isinstance(
                op.left, (ast.Call, ast.Name, ast.Attribute)
            ):
                return True
        return False

    def __init__(self, ctx: FileContext, options: Mapping[str, Any]) -> None:
        super().__init__(ctx, options)
        self._name_cache: dict[int, _Analysis] = {}
        self._attr_cache: dict[int, _Analysis] = {}
        self._order_cache: dict[int, dict[int, int]] = {}

    # -- recognition ---------------------------------------------------------------------
    def _is_clock(self, node: cst.CSTNode | None, scope: Scope) -> bool:
        return (
            isinstance(node, cst.Call)
            and not node.args
            and self.ctx.qualname_in(node.func, scope) == _CLOCK
        )

    def _home(self) -> Scope:
        s: Scope | None = self.ctx.scope
        while s is not None and s.kind in ("lambda", "comprehension"):
            s = s.parent
        return s or self.ctx.model.module_scope

    def _self_attr(self, expr: cst.BaseExpression) -> str | None:
        if not (isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name)):
            return None
        info = self.ctx.enclosing_function()
        if info is None or info.self_name != expr.value.value:
            return None
        s = self.ctx.scope
        while s.kind in ("lambda", "comprehension") and s.parent is not None:
            s = s.parent
        if s is not info.scope:
            return None  # `self` of an outer method read in a nested function
        return expr.attr.value

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, cst.Subtract):
            return
        home = self._home()
        right, left = node.right, node.left
        if isinstance(right, cst.Name):
            names = self._names(home)
            bindings = self.ctx.bindings(right.value)
            if right.value not in names.timers or not bindings or bindings[0].scope is not home:
                return
            left_clock = self._is_clock(left, home)
            if not left_clock and not (isinstance(left, cst.Name) and left.value in names.timers):
                return
            fix = self._fix(names, right.value)
            cuda = self.ctx.imports("torch") and self._cuda_unsynchronised(home, node, names)
            self.report(node, _MESSAGE + (_CUDA if cuda else ""), fix)
            return
        attr = self._self_attr(right)
        cls = self.ctx.enclosing_class()
        if attr is None or cls is None:
            return
        attrs = self._attrs(cls)
        if attr not in attrs.timers:
            return
        left_attr = self._self_attr(left)
        if not self._is_clock(left, home) and left_attr not in attrs.timers:
            return
        self.report(node, _MESSAGE, self._fix(attrs, attr))

    # -- analyses ------------------------------------------------------------------------
    def _names(self, home: Scope) -> _Analysis:
        cached = self._name_cache.get(id(home.node))
        if cached is not None:
            return cached
        a = _Analysis(set())
        for name, bindings in home.bindings.items():
            calls = [
                b.value for b in bindings if b.kind in ("assign", "annassign") and not b.unpacked
            ]
            if (
                calls
                and len(calls) == len(bindings)
                and all(self._is_clock(c, home) for c in calls)
                and name not in home.globals
                and name not in home.nonlocals
            ):
                a.timers.add(name)
                a.clock_calls[name] = [c for c in calls if isinstance(c, cst.Call)]
        if a.timers:
            body = home.node.body if isinstance(home.node, cst.FunctionDef) else home.node
            self._collect_names(body, home, a, escaped=False)
        self._name_cache[id(home.node)] = a
        return a

    def _collect_names(self, node: cst.CSTNode, home: Scope, a: _Analysis, escaped: bool) -> None:
        for child in child_nodes(node):
            if isinstance(child, cst.Name) and child.value in a.timers:
                if isinstance(node, (cst.AssignTarget, cst.AnnAssign)) and not escaped:
                    continue  # the binding itself
                a.other_use.add(child.value)
                continue
            if (
                not escaped
                and isinstance(child, cst.BinaryOperation)
                and isinstance(child.operator, cst.Subtract)
                and isinstance(child.right, cst.Name)
                and child.right.value in a.timers
            ):
                left = child.left
                if self._is_clock(left, home):
                    a.subs.append((child, left, None, child.right.value))  # type: ignore[arg-type]
                    continue
                if isinstance(left, cst.Name) and left.value in a.timers:
                    a.subs.append((child, None, left.value, child.right.value))
                    continue
            self._collect_names(child, home, a, escaped or isinstance(child, _BOUNDARIES))

    def _attrs(self, cls: ClassInfo) -> _Analysis:
        cached = self._attr_cache.get(id(cls.node))
        if cached is not None:
            return cached
        a = _Analysis(set())
        for attr, bindings in cls.attr_bindings.items():
            if bindings and all(
                b.scope is not None and self._is_clock(b.value, b.scope) for b in bindings
            ):
                a.timers.add(attr)
                a.clock_calls[attr] = [b.value for b in bindings if isinstance(b.value, cst.Call)]
        if a.timers:
            for stmt in iter_descendants(cls.node, into_scopes=False):
                if isinstance(stmt, cst.FunctionDef):
                    info = self.ctx.model.functions.get(id(stmt))
                    self_name = info.self_name if info is not None else None
                    scope = info.scope if info is not None else None
                    self._collect_attrs(stmt.body, self_name, scope, a, False)
        self._attr_cache[id(cls.node)] = a
        return a

    def _collect_attrs(
        self,
        node: cst.CSTNode,
        self_name: str | None,
        scope: Scope | None,
        a: _Analysis,
        escaped: bool,
    ) -> None:
        def timer(e: cst.BaseExpression) -> str | None:
            if (
                isinstance(e, cst.Attribute)
                and isinstance(e.value, cst.Name)
                and self_name is not None
                and e.value.value == self_name
                and e.attr.value in a.timers
            ):
                return e.attr.value
            return None

        for child in child_nodes(node):
            if isinstance(child, cst.Attribute):
                t = timer(child)
                if t is not None:
                    if not (isinstance(node, (cst.AssignTarget, cst.AnnAssign)) and not escaped):
                        a.other_use.add(t)
                    continue
            if (
                not escaped
                and scope is not None
                and isinstance(child, cst.BinaryOperation)
                and isinstance(child.operator, cst.Subtract)
            ):
                right = timer(child.right)
                if right is not None:
                    if self._is_clock(child.left, scope):
                        a.subs.append((child, child.left, None, right))  # type: ignore[arg-type]
                        continue
                    left = timer(child.left)
                    if left is not None:
                        a.subs.append((child, None, left, right))
                        continue
            self._collect_attrs(
                child, self_name, scope, a, escaped or isinstance(child, (*_BOUNDARIES, cst.Lambda))
            )

    # -- fix -----------------------------------------------------------------------------
    def _fix(self, a: _Analysis, seed: str) -> Fix | None:
        comp = a.component(seed)
        if comp & a.other_use:
            return None
        plan = self.ctx.import_name("time", "perf_counter")
        if plan is None:
            return None
        calls: list[cst.Call] = []
        for t in sorted(comp):
            calls.extend(a.clock_calls.get(t, []))
        for _, left_call, _, right in a.subs:
            if right in comp and left_call is not None:
                calls.append(left_call)
        fix = Fix(FixSafety.UNSAFE, imports=[plan])
        seen: set[int] = set()
        for call in calls:
            if id(call) not in seen:
                seen.add(id(call))
                fix.replace(call, f"{plan.local}()")
        return fix

    # -- CUDA ----------------------------------------------------------------------------
    def _order(self, home: Scope) -> dict[int, int]:
        order = self._order_cache.get(id(home.node))
        if order is None:
            order = {id(n): i for i, n in enumerate(iter_descendants(home.node, into_scopes=False))}
            self._order_cache[id(home.node)] = order
        return order

    def _cuda_unsynchronised(self, home: Scope, sub: cst.BinaryOperation, a: _Analysis) -> bool:
        order = self._order(home)
        end = order.get(id(sub))
        if end is None:
            return False
        assert isinstance(sub.right, cst.Name)
        start = self._last_read_before(a.clock_calls.get(sub.right.value, []), order, end)
        if isinstance(sub.left, cst.Name):
            end_read = self._last_read_before(a.clock_calls.get(sub.left.value, []), order, end)
            if end_read is None:
                return False
            end = end_read
        if start is None or start >= end:
            return False
        cuda = False
        for n in iter_descendants(home.node, into_scopes=False):
            idx = order.get(id(n), -1)
            if idx <= start or idx >= end or not isinstance(n, cst.Call):
                continue
            method = attr_name(n.func) if isinstance(n.func, cst.Attribute) else None
            if method in _SYNC_METHODS:
                return False
            if method == "cuda":
                cuda = True
            elif method == "to":
                target = call_arg(n, "device", 0)
                text = string_value(target.value) if target is not None else None
                cuda = cuda or (text is not None and text.startswith("cuda"))
            elif self.ctx.kind(n.func, home) == K.MODULE:
                cuda = True
        return cuda

    @staticmethod
    def _last_read_before(calls: list[cst.Call], order: dict[int, int], end: int) -> int | None:
        found = [order[id(c)] for c in calls if id(c) in order and order[id(c)] < end]
        return max(found) if found else None
