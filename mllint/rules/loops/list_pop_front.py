"""ML603 list-pop-front-in-loop."""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, int_literal
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.loops.list_membership import list_keys, within_loops
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import code_in_block, int_value
from mllint.semantics.scopes import Binding, Scope
from mllint.semantics.walk import child_nodes, iter_descendants

#: list methods a deque also has with the same meaning
_DEQUE_METHODS = frozenset({"append", "extend", "clear", "count", "copy"})
_TRUTH_PARENTS = (cst.If, cst.While, cst.Assert, cst.IfExp)


class ListPopFrontInLoop(Rule):
    """
    ## What it does
    Flags `L.pop(0)`, `L.insert(0, x)` and `del L[0]` inside a loop (or comprehension) when
    `L` is a list: every binding of it is a list display, a list comprehension, `list(...)`,
    or it is annotated `list`.

    ## Why is this bad?
    Removing or inserting at the front of a Python list moves every remaining element, so a
    queue drained with `pop(0)` costs O(n²). Draining 20,000 items took 27.4 ms with
    `list.pop(0)` and 0.77 ms with `deque.popleft()`. For sliding windows,
    `deque(maxlen=N)` evicts old items automatically.

    ## Example
    ```python
    queue = list(seed_nodes)
    while queue:
        node = queue.pop(0)
        queue.extend(children(node))
    ```

    ## Use instead
    ```python
    from collections import deque

    queue = deque(seed_nodes)
    while queue:
        node = queue.popleft()
        queue.extend(children(node))
    ```

    `dict.pop(0)`, values of unknown type, `pop()`/`pop(-1)` and deques are not flagged.

    ## Fix safety
    Unsafe (a deque is not a list: slicing, sorting and `+` with a list stop working). Applied
    only when every use of `L` in its scope works on a deque too (iteration, `len`, truth
    tests, `append`, `extend`, `pop()`, `pop(0)`, `insert(0, …)`, `L[0]`, `L[-1]`, `in`) and
    `L` is not returned or passed to another function: the binding becomes
    `collections.deque(<original>)` (`[]` → `collections.deque()`), `L.pop(0)` →
    `L.popleft()`, `L.insert(0, x)` → `L.appendleft(x)` and `del L[0]` → `L.popleft()`.
    """

    code = "ML603"
    name = "list-pop-front-in-loop"
    summary = "`list.pop(0)` / `list.insert(0, x)` / `del list[0]` inside a loop (O(n) each)"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("pop(0", "insert(0", "[0]")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # `L.pop(0)`, `L.insert(0, x)` or `del L[0]` on a name L that some binding of the file
        # may make a list (see list_keys), inside a loop body or comprehension
        found: list[tuple[ast.Call | ast.Delete, str]] = []
        for call in scan.calls("pop", "insert"):
            func = call.func
            if not isinstance(func, ast.Attribute) or not isinstance(func.value, ast.Name):
                continue
            args = call.args
            n = len(args) + len(call.keywords)
            if func.attr == "pop":
                ok = n == 1 and len(args) == 1 and int_literal(args[0]) == 0
            else:
                ok = (
                    n == 2
                    and len(args) == 2
                    and int_literal(args[0]) == 0
                    and not isinstance(args[1], ast.Starred)
                )
            if ok:
                found.append((call, func.value.id))
        for d in scan.of(ast.Delete):
            for t in d.targets:
                if (
                    isinstance(t, ast.Subscript)
                    and isinstance(t.value, ast.Name)
                    and int_literal(t.slice) == 0
                ):
                    found.append((d, t.value.id))
        if not found:
            return False
        keys = list_keys(scan)
        found = [(node, name) for node, name in found if name in keys]
        if not found:
            return False
        return within_loops(scan, [node for node, _ in found])

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute) or not isinstance(func.value, cst.Name):
            return
        method = func.attr.value
        args = node.args
        if (
            method == "pop"
            and len(args) == 1
            and int_value(args[0].value) == 0
            and args[0].keyword is None
        ):
            what = "pop(0)"
        elif (
            method == "insert"
            and len(args) == 2
            and int_value(args[0].value) == 0
            and all(a.keyword is None and not a.star for a in args)
        ):
            what = "insert(0, …)"
        else:
            return
        self._check(node, func.value, f"{func.value.value}.{what}")

    def visit_Del(self, node: cst.Del) -> None:
        t = node.target
        if (
            isinstance(t, cst.Subscript)
            and isinstance(t.value, cst.Name)
            and len(t.slice) == 1
            and isinstance(t.slice[0].slice, cst.Index)
            and int_value(t.slice[0].slice.value) == 0
        ):
            self._check(node, t.value, f"del {t.value.value}[0]")

    def _check(self, node: cst.CSTNode, name: cst.Name, what: str) -> None:
        ctx = self.ctx
        if not ctx.in_loop() or ctx.kind(name) != K.LIST:
            return
        message = (
            f"{what} shifts every element (O(n)); use collections.deque with popleft()/appendleft()"
        )
        self.report(node, message, self._fix(name))

    # -- fix -------------------------------------------------------------------------------------
    def _fix(self, name: cst.Name) -> Fix | None:
        ctx = self.ctx
        bindings = ctx.bindings(name.value)
        if not bindings:
            return None
        scope = bindings[0].scope
        if scope is None or scope.kind not in ("function", "module"):
            return None
        if name.value in scope.globals or name.value in scope.nonlocals:
            return None
        for b in bindings:
            if not _convertible_binding(b, ctx.qualname_in):
                return None
        plan = ctx.import_name("collections", "deque")
        if plan is None:
            return None
        deque = plan.local
        root: cst.CSTNode = scope.node
        parents: dict[int, cst.CSTNode] = {}
        for n in iter_descendants(root):
            for child in child_nodes(n):
                parents[id(child)] = n
        binding_targets = {id(b.node) for b in bindings}
        replacements: list[tuple[cst.CSTNode, cst.CSTNode | str]] = []
        indents_module = ctx.module
        for b in bindings:
            value = b.value
            assert value is not None
            if isinstance(value, cst.List) and not value.elements:
                new_text = f"{deque}()"
            elif (
                isinstance(value, cst.Call)
                and len(value.args) == 1
                and value.args[0].keyword is None
                and not value.args[0].star
            ):
                # list(x) -> deque(x)
                inner = value.args[0].value
                new_text = f"{deque}({code_in_block(indents_module, inner, [])})"
            else:
                new_text = f"{deque}({code_in_block(indents_module, value, [])})"
            replacements.append((value, new_text))
        for n in iter_descendants(root):
            if not (isinstance(n, cst.Name) and n.value == name.value):
                continue
            parent = parents.get(id(n))
            if parent is None:
                return None
            if (
                isinstance(parent, cst.AssignTarget)
                and id(parents.get(id(parent))) in binding_targets
            ):
                continue
            if _inside_nested_scope(n, root, parents):
                return None
            edit = self._use(n, parent, parents)
            if edit is False:
                return None
            if edit is not True:
                replacements.append(edit)
        return Fix(FixSafety.UNSAFE, replacements, [plan])

    def _use(
        self, n: cst.Name, parent: cst.CSTNode, parents: dict[int, cst.CSTNode]
    ) -> bool | tuple[cst.CSTNode, str]:
        """True: deque-compatible as is; False: not; (node, text): rewrite needed."""
        ctx = self.ctx
        grand = parents.get(id(parent))
        if isinstance(parent, cst.For) and parent.iter is n:
            # a deque raises RuntimeError when it is changed while being iterated
            return not any(
                isinstance(x, cst.Name) and x.value == n.value
                for x in iter_descendants(parent.body)
            )
        if isinstance(parent, cst.CompFor) and parent.iter is n:
            return True
        if isinstance(parent, _TRUTH_PARENTS) and getattr(parent, "test", None) is n:
            return True
        if isinstance(parent, cst.UnaryOperation) and isinstance(parent.operator, cst.Not):
            return True
        if isinstance(parent, cst.BooleanOperation):
            return True
        if isinstance(parent, cst.ComparisonTarget) and parent.comparator is n:
            return isinstance(parent.operator, (cst.In, cst.NotIn))
        if isinstance(parent, cst.Arg) and isinstance(grand, cst.Call):
            return (
                ctx.qualname(grand.func) in ("builtins.len", "builtins.bool")
                and len(grand.args) == 1
            )
        if isinstance(parent, cst.Subscript) and parent.value is n:
            if len(parent.slice) != 1 or not isinstance(parent.slice[0].slice, cst.Index):
                return False
            idx = int_value(parent.slice[0].slice.value)
            if idx not in (0, -1):
                return False
            # `del L[0]` -> `L.popleft()`
            del_node = parents.get(id(parent))
            if isinstance(del_node, cst.Del):
                if idx != 0:
                    return False
                return (del_node, f"{n.value}.popleft()")
            return True
        if (
            isinstance(parent, cst.Attribute)
            and parent.value is n
            and isinstance(grand, cst.Call)
            and grand.func is parent
        ):
            method = parent.attr.value
            args = grand.args
            if method in _DEQUE_METHODS:
                return True
            if method == "pop":
                if not args:
                    return True
                if len(args) == 1 and int_value(args[0].value) == 0:
                    return (grand, f"{n.value}.popleft()")
                return False
            if method == "insert" and len(args) == 2 and int_value(args[0].value) == 0:
                value = ctx.code(args[1].value).strip()
                return (grand, f"{n.value}.appendleft({value})")
            return False
        return False


def _convertible_binding(
    b: Binding, qualname_in: Callable[[cst.CSTNode | None, Scope], str | None]
) -> bool:
    if b.kind != "assign" or b.unpacked or b.value is None or b.scope is None:
        return False
    v = b.value
    if isinstance(v, (cst.List, cst.ListComp)):
        return True
    return isinstance(v, cst.Call) and qualname_in(v.func, b.scope) == "builtins.list"


def _inside_nested_scope(
    n: cst.CSTNode, root: cst.CSTNode, parents: dict[int, cst.CSTNode]
) -> bool:
    cur = parents.get(id(n))
    while cur is not None and cur is not root:
        if isinstance(cur, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            return True
        cur = parents.get(id(cur))
    return False
