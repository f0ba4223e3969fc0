"""ML011 groupby-group-escapes-loop."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import expression_names, positional_args
from mllint.semantics.walk import iter_descendants

_STORE_METHODS = frozenset({"append", "add", "insert", "appendleft", "put", "put_nowait"})
_MATERIALISERS = frozenset({"builtins.dict", "builtins.list", "builtins.tuple", "builtins.set"})
_GROUPBY = frozenset({"groupby"})
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


def _is_name(node: cst.CSTNode, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def _direct_occurrences(expr: cst.CSTNode, name: str) -> list[cst.Name]:
    """``G`` itself, or ``G`` as an element of a tuple/list display (``(K, G)``, ``[G]``)."""
    if isinstance(expr, cst.Name):
        return [expr] if expr.value == name else []
    if isinstance(expr, (cst.Tuple, cst.List)):
        out: list[cst.Name] = []
        for el in expr.elements:
            if not isinstance(el, cst.StarredElement):
                out.extend(_direct_occurrences(el.value, name))
        return out
    return []


class GroupbyGroupEscapesLoop(Rule):
    """
    ## What it does
    Flags a group yielded by `itertools.groupby` that escapes the iteration lazily: stored in
    a container (`d[key] = group`, `lst.append((key, group))`, the element or value of a
    comprehension over `groupby(...)`), assigned to a name that is read after the loop, or
    handed to `executor.submit(...)` / `threading.Thread(args=...)`; also
    `dict(groupby(...))` / `list(groupby(...))`.

    ## Why is this bad?
    The groups share the underlying iterator with `groupby`: advancing to the next key
    exhausts the previous group. `{k: g for k, g in groupby(data)}` holds only empty
    iterators once the comprehension is done, so every stored group is silently empty.

    ## Example
    ```python
    groups = {label: rows for label, rows in itertools.groupby(records, key=get_label)}
    ```

    ## Use instead
    ```python
    groups = {label: list(rows) for label, rows in itertools.groupby(records, key=get_label)}
    ```

    Consuming the group inside the loop (`list(group)`, `for x in group`, `sum(...)`) is
    fine and never flagged. Groups that a generator `yield`s are not flagged either: that
    passes `groupby`'s own contract on to the consumer.

    ## Fix safety
    Unsafe: the escaping occurrence is wrapped in `list(...)` (`d[k] = list(g)`,
    `{k: list(g) for ...}`, `dict(groupby(x))` becomes `{k: list(g) for k, g in groupby(x)}`).
    The stored value becomes a list and the whole group is materialised in memory. No fix
    when `list` is rebound in the file.
    """

    code = "ML011"
    name = "groupby-group-escapes-loop"
    summary = "An `itertools.groupby` group is stored and used after the iterator has moved on"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("groupby",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a call of itertools.groupby: `groupby(...)`/`gb(...)` imported by name, or
        # `itertools.groupby(...)` through a local name of the itertools module
        bare = scan.import_aliases(_GROUPBY)
        modules = {
            a.asname or a.name
            for imp in scan.of(ast.Import)
            for a in imp.names
            if a.name == "itertools"
        }
        for call in scan.calls(*bare):
            f = call.func
            if isinstance(f, ast.Name):
                return True
            if (
                isinstance(f, ast.Attribute)
                and f.attr == "groupby"
                and isinstance(f.value, ast.Name)
                and f.value.id in modules
            ):
                return True
        return False

    def _is_groupby(self, expr: cst.BaseExpression) -> bool:
        return isinstance(expr, cst.Call) and self.ctx.qualname(expr.func) == "itertools.groupby"

    def _group_name(self, target: cst.BaseExpression) -> str | None:
        if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
            g = target.elements[1].value
            if isinstance(g, cst.Name) and not isinstance(target.elements[1], cst.StarredElement):
                return g.value
        return None

    def _list_ok(self) -> bool:
        return not self.ctx.bindings("list")

    def _report(self, occ: cst.Name, group: str) -> None:
        fix = None
        if self._list_ok():
            fix = Fix(FixSafety.UNSAFE, [(occ, f"list({occ.value})")])
        self.report(
            occ,
            f"Group '{group}' from itertools.groupby is consumed lazily; after the loop advances "
            f"it is empty — store list({group})",
            fix,
        )

    # -- for loops -------------------------------------------------------------------------
    def visit_For(self, node: cst.For) -> None:
        if not self._is_groupby(node.iter):
            return
        g = self._group_name(node.target)
        if g is None:
            return
        body = list(iter_descendants(node.body, into_scopes=False))
        # the group rebound in the body (`rows = list(rows)`): leave it alone
        for n in body:
            if isinstance(n, cst.AssignTarget) and g in expression_names(n.target):
                return
            if isinstance(n, (cst.For, cst.CompFor)) and g in expression_names(n.target):
                return
        hits: list[cst.Name] = []
        escaped_names: list[tuple[str, cst.Name]] = []
        for n in body:
            if isinstance(n, cst.Assign):
                for t in n.targets:
                    if isinstance(t.target, cst.Subscript):
                        hits.extend(_direct_occurrences(n.value, g))
                    elif isinstance(t.target, cst.Name):
                        for occ in _direct_occurrences(n.value, g):
                            escaped_names.append((t.target.value, occ))
                    elif isinstance(t.target, cst.Attribute):
                        hits.extend(_direct_occurrences(n.value, g))
            elif isinstance(n, cst.Call):
                hits.extend(self._call_escapes(n, g))
        if escaped_names:
            after = self._names_after(node)
            hits.extend(occ for name, occ in escaped_names if name in after)
        seen: set[int] = set()
        for occ in hits:
            if id(occ) not in seen:
                seen.add(id(occ))
                self._report(occ, g)

    def _call_escapes(self, call: cst.Call, g: str) -> list[cst.Name]:
        func = call.func
        out: list[cst.Name] = []
        if isinstance(func, cst.Attribute) and func.attr.value in _STORE_METHODS:
            for arg in positional_args(call):
                out.extend(_direct_occurrences(arg.value, g))
        elif isinstance(func, cst.Attribute) and func.attr.value == "submit":
            for arg in positional_args(call)[1:]:
                if _is_name(arg.value, g):
                    out.append(arg.value)  # type: ignore[arg-type]
        elif self.ctx.qualname(func) in ("threading.Thread", "multiprocessing.Process"):
            for arg in call.args:
                if arg.keyword is not None and arg.keyword.value == "args":
                    out.extend(_direct_occurrences(arg.value, g))
        return out

    def _names_after(self, loop: cst.For) -> set[str]:
        """Names read in the statements after ``loop`` in its enclosing blocks."""
        stack = self.ctx.stack
        names: set[str] = set()
        child: cst.CSTNode = loop
        for anc in reversed(stack[:-1]):
            if isinstance(anc, (cst.FunctionDef, cst.ClassDef, cst.Module)):
                body = anc.body if isinstance(anc, cst.Module) else None
                if body is not None:
                    names |= _names_in_following(body, child)
                break
            if isinstance(anc, cst.IndentedBlock):
                names |= _names_in_following(anc.body, child)
            child = anc
        return names

    # -- comprehensions --------------------------------------------------------------------
    def _comprehension(self, node: cst.CSTNode, elements: list[cst.BaseExpression]) -> None:
        comp: cst.CompFor = node.for_in  # type: ignore[attr-defined]
        if not self._is_groupby(comp.iter) or comp.inner_for_in is not None:
            return
        g = self._group_name(comp.target)
        if g is None:
            return
        for el in elements:
            for occ in _direct_occurrences(el, g):
                self._report(occ, g)

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._comprehension(node, [node.value])

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._comprehension(node, [node.elt])

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._comprehension(node, [node.elt])

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        # a generator of (key, group) pairs escapes only when materialised at once
        parent = self.ctx.stack[-3] if len(self.ctx.stack) >= 3 else None
        if isinstance(parent, cst.Call) and self.ctx.qualname(parent.func) in _MATERIALISERS:
            self._comprehension(node, [node.elt])

    # -- dict(groupby(...)) ----------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        q = self.ctx.qualname(node.func)
        if q not in _MATERIALISERS or len(node.args) != 1:
            return
        arg = node.args[0]
        if arg.keyword is not None or arg.star or not self._is_groupby(arg.value):
            return
        fix = None
        if self._list_ok():
            inner = self.ctx.code(arg.value)
            if q == "builtins.dict":
                text = f"{{k: list(g) for k, g in {inner}}}"
            elif q == "builtins.set":
                text = ""
            else:
                text = f"[(k, list(g)) for k, g in {inner}]"
                if q == "builtins.tuple":
                    text = f"tuple({text})"
            if text:
                fix = Fix(FixSafety.UNSAFE, [(node, text)])
        shown = "dict" if q == "builtins.dict" else q.rpartition(".")[2]
        self.report(
            node,
            f"Group 'g' from itertools.groupby is consumed lazily; after the loop advances it is "
            f"empty — store list(g) ({shown}(groupby(...)) keeps only exhausted groups)",
            fix,
        )


def _names_in_following(body: object, child: cst.CSTNode) -> set[str]:
    names: set[str] = set()
    seen = False
    for stmt in body:  # type: ignore[attr-defined]
        if seen:
            names |= expression_names(stmt)
        elif stmt is child:
            seen = True
    return names
