"""ML013 yielded-list-cleared."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import expression_names
from mllint.semantics.walk import iter_descendants

_APPENDERS = frozenset({"append", "extend", "insert", "__iadd__"})


def _full_slice(sub: cst.BaseExpression, name: str) -> bool:
    if not (isinstance(sub, cst.Subscript) and isinstance(sub.value, cst.Name)):
        return False
    if sub.value.value != name or len(sub.slice) != 1:
        return False
    s = sub.slice[0].slice
    return isinstance(s, cst.Slice) and s.lower is None and s.upper is None and s.step is None


def _yields(node: cst.CSTNode, name: str) -> bool:
    """``yield B`` / ``yield (k, B)`` / ``yield [B, ...]``."""
    if not isinstance(node, cst.Yield) or node.value is None or isinstance(node.value, cst.From):
        return False
    v = node.value
    if isinstance(v, cst.Name):
        return v.value == name
    if isinstance(v, (cst.Tuple, cst.List)):
        return any(isinstance(el.value, cst.Name) and el.value.value == name for el in v.elements)
    return False


def _appends(node: cst.CSTNode, name: str) -> bool:
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in _APPENDERS
        and isinstance(node.func.value, cst.Name)
        and node.func.value.value == name
    ):
        return True
    if isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
        return node.target.value == name
    if isinstance(node, cst.Assign):
        return any(isinstance(t.target, cst.Name) and t.target.value == name for t in node.targets)
    return False


class YieldedListCleared(Rule):
    """
    ## What it does
    Flags, in a generator function, `B.clear()`, `del B[:]` or `B[:] = []` on a list `B`
    that the same loop body yielded earlier (`yield B`, `yield key, B`) with nothing appended
    to it in between.

    ## Why is this bad?
    `yield` hands the consumer a reference to the same list object. Clearing it when the
    generator resumes empties what the consumer holds: `list(batch_rows(range(5), 2))` returns
    the same list three times, holding only the last item (`[[4], [4], [4]]`). Prefetch
    queues, `zip(gen, gen)` and asynchronous writers lose data; consumers that copy at once
    (`pd.DataFrame(chunk)`) hide the bug. `list.clear()` is not a cheaper alternative to
    `B = []` either: it is O(n), while rebinding is O(1).

    ## Example
    ```python
    def batch_rows(rows, n):
        batch = []
        for r in rows:
            batch.append(r)
            if len(batch) == n:
                yield batch
                batch.clear()
    ```

    ## Use instead
    ```python
    def batch_rows(rows, n):
        batch = []
        for r in rows:
            batch.append(r)
            if len(batch) == n:
                yield batch
                batch = []
    ```

    ## Fix safety
    Safe: the clearing statement becomes `B = []`, only when `B` is a plain local variable
    (not a parameter, not `global`/`nonlocal`, not assigned to another name, not used by a
    nested function or lambda). The only behaviour that changes is that lists already handed
    to the consumer are no longer emptied afterwards, which no correct consumer can depend on.
    """

    code = "ML013"
    name = "yielded-list-cleared"
    summary = "A generator yields a list and then clears that same list in place"
    tier = 3
    fix_safety = (FixSafety.SAFE,)
    requires_text = ("yield",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # `B.clear()` / `del B[:]` / `B[:] = []` on a name B that some `yield` hands out
        # (`yield B`, `yield k, B`, `yield [B, ...]`)
        yielded: set[str] = set()
        for y in scan.of(ast.Yield):
            v = y.value
            if isinstance(v, ast.Name):
                yielded.add(v.id)
            elif isinstance(v, (ast.Tuple, ast.List)):
                for el in v.elts:
                    if isinstance(el, ast.Starred):  # `yield *B, k`: the rule reads el.value
                        el = el.value
                    if isinstance(el, ast.Name):
                        yielded.add(el.id)
        if not yielded:
            return False
        for call in scan.calls("clear"):
            f = call.func
            if (
                isinstance(f, ast.Attribute)
                and isinstance(f.value, ast.Name)
                and f.value.id in yielded
            ):
                return True
        for d in scan.of(ast.Delete):
            for t in d.targets:
                if _ast_sliced_name(t) in yielded:
                    return True
        for a in scan.of(ast.Assign):
            if (
                len(a.targets) == 1
                and isinstance(a.value, ast.List)
                and not a.value.elts
                and _ast_sliced_name(a.targets[0]) in yielded
            ):
                return True
        return False

    def _target(self, small: cst.CSTNode) -> str | None:
        """The list name a clearing statement empties."""
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            f = call.func
            if (
                isinstance(f, cst.Attribute)
                and f.attr.value == "clear"
                and isinstance(f.value, cst.Name)
                and not call.args
            ):
                return f.value.value
        if (
            isinstance(small, cst.Del)
            and isinstance(small.target, cst.Subscript)
            and isinstance(small.target.value, cst.Name)
            and _full_slice(small.target, small.target.value.value)
        ):
            return small.target.value.value
        if (
            isinstance(small, cst.Assign)
            and len(small.targets) == 1
            and isinstance(small.value, cst.List)
            and not small.value.elements
        ):
            t = small.targets[0].target
            if (
                isinstance(t, cst.Subscript)
                and isinstance(t.value, cst.Name)
                and _full_slice(t, t.value.value)
            ):
                return t.value.value
        return None

    def visit_Expr(self, node: cst.Expr) -> None:
        self._check(node)

    def visit_Del(self, node: cst.Del) -> None:
        self._check(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        self._check(node)

    def _check(self, small: cst.Expr | cst.Del | cst.Assign) -> None:
        name = self._target(small)
        if name is None:
            return
        func = self.ctx.enclosing_function()
        if func is None or not func.is_generator or self.ctx.scope.kind != "function":
            return
        if self.ctx.kind(cst.Name(name)) != K.LIST:
            return
        region: cst.CSTNode = func.node.body
        for anc in reversed(self.ctx.stack[:-1]):
            if isinstance(anc, (cst.For, cst.While)):
                region = anc.body
                break
            if isinstance(anc, cst.FunctionDef):
                break
        previous: list[cst.CSTNode] = []
        for n in iter_descendants(region, into_scopes=False):
            if n is small:
                break
            previous.append(n)
        else:
            return
        for n in reversed(previous):
            if _appends(n, name):
                return
            if _yields(n, name):
                break
        else:
            return
        self.report(
            small,
            f"'{name}' was yielded and is then cleared in place; the consumer's list is "
            f"emptied too — rebind with {name} = [] instead",
            self._fix(small, name),
        )

    def _fix(self, small: cst.Expr | cst.Del | cst.Assign, name: str) -> Fix | None:
        func = self.ctx.enclosing_function()
        assert func is not None
        scope = func.scope
        if name in scope.globals or name in scope.nonlocals:
            return None
        bindings = scope.bindings.get(name, [])
        if not bindings or any(b.kind not in ("assign", "annassign") for b in bindings):
            return None
        for n in iter_descendants(func.node.body, into_scopes=True):
            if isinstance(n, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
                if name in expression_names(n):
                    return None  # captured by a nested scope
            elif isinstance(n, (cst.Assign, cst.NamedExpr)) and _aliases(n.value, name):
                return None
        new = cst.Assign(
            targets=[cst.AssignTarget(target=cst.Name(name))],
            value=cst.List(elements=[]),
            semicolon=small.semicolon,
        )
        return Fix(FixSafety.SAFE, [(small, new)])


def _aliases(value: cst.BaseExpression, name: str) -> bool:
    """``other = B`` / ``other = (k, B)``: another name now holds the same list."""
    if isinstance(value, cst.Name):
        return value.value == name
    if isinstance(value, (cst.Tuple, cst.List)):
        return any(_aliases(el.value, name) for el in value.elements)
    return False


def _ast_sliced_name(node: ast.expr) -> str | None:
    """``B`` for ``B[:]`` (the ast form of :func:`_full_slice`)."""
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and isinstance(node.slice, ast.Slice)
        and node.slice.lower is None
        and node.slice.upper is None
        and node.slice.step is None
    ):
        return node.value.id
    return None
