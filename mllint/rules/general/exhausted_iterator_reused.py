"""ML010 exhausted-iterator-reused."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from mllint.positions import LineIndex, node_offsets, trim_range
from mllint.rule import Rule
from mllint.semantics import kinds as K
from mllint.semantics.context import FileContext
from mllint.semantics.cstutil import positional_args, string_value
from mllint.semantics.scopes import Binding, Scope
from mllint.semantics.walk import iter_descendants

#: calls that iterate their first argument to the end
_FULL_CONSUMERS = frozenset(
    {
        "builtins.list", "builtins.tuple", "builtins.set", "builtins.dict", "builtins.frozenset",
        "builtins.sorted", "builtins.sum", "builtins.min", "builtins.max", "numpy.array",
        "numpy.fromiter", "numpy.concatenate", "numpy.stack", "numpy.vstack", "numpy.hstack",
        "torch.stack", "torch.cat", "pandas.DataFrame", "pandas.concat", "collections.Counter",
        "collections.deque",
    }
)  # fmt: skip
#: calls that take some items (allowed as the second use only)
_PARTIAL_CONSUMERS = frozenset(
    {"builtins.next", "itertools.islice", "builtins.any", "builtins.all"}
)
#: iterators that never run dry
_INFINITE = frozenset({"itertools.count", "itertools.cycle", "itertools.repeat"})
_BINDING_KINDS = frozenset({"assign", "annassign", "walrus", "with"})


@dataclass
class _Use:
    name: cst.Name
    binding: Binding
    full: bool
    what: str  # loop | call | unpacking | yield from
    stack: list[cst.CSTNode]
    loops: list[cst.CSTNode]
    construct: cst.CSTNode  # the For / call / comprehension doing the consumption
    for_with_break: bool


class ExhaustedIteratorReused(Rule):
    """
    ## What it does
    Flags a one-shot iterator (a generator expression, a call to a generator function of the
    same module, `map`/`filter`/`zip`/`enumerate`/`iter`/`reversed`, an `itertools` iterator,
    `csv.reader`, an `open(...)` file handle, `Path.glob`/`iterdir`, `iterrows()`, a chunked
    `pandas.read_*`) bound once to a name and then

    * consumed a second time in the same scope (`for … in g`, `list(g)`, `sum(g)`,
      `np.array(g)`, `torch.stack(g)`, `*g`, `yield from g`, ...; the second use may also be
      `next(g)`, `islice(g, …)`, `any(g)`/`all(g)`), or
    * created outside a `for`/`while` loop and fully consumed inside it (the "epoch" form).

    ## Why is this bad?
    Generators, `map`/`zip`/`filter` objects, file handles and `csv.reader` can be iterated
    once; afterwards they are silently empty. A generator created before
    `for epoch in range(2):` yields its items in epoch 0 and nothing in epoch 1, so training
    runs the later epochs on no data, and a second pass over the same iterator (to compute a
    mean, then to normalise) sees no items, without any error.

    ## Example
    ```python
    batches = (preprocess(b) for b in raw_batches)
    for epoch in range(num_epochs):
        for xb, yb in batches:
            train_step(xb, yb)
    ```

    ## Use instead
    ```python
    for epoch in range(num_epochs):
        for xb, yb in (preprocess(b) for b in raw_batches):
            train_step(xb, yb)
    ```

    Or materialise the items once with `list(...)` when they fit in memory. Not flagged:
    re-iterable objects (lists, DataFrames, `DataLoader`, `range`, arrays), iterators passed to
    `itertools.tee`, file handles that are rewound with `.seek()`, `for` loops that `break`
    (deliberate chunked reading), `next()`/`islice()` inside a loop, and `itertools.count`/
    `cycle`/`repeat`, which never run dry.

    ## Fix safety
    There is no fix: whether to materialise the items or to re-create the iterator depends on
    memory and on whether the source can be read twice.
    """

    code = "ML010"
    name = "exhausted-iterator-reused"
    summary = "A one-shot iterator is consumed again (second pass or next epoch sees nothing)"
    tier = 2

    def __init__(self, ctx: FileContext, options: Mapping[str, Any]) -> None:
        super().__init__(ctx, options)
        self._uses: dict[int, list[_Use]] = {}
        self._excluded: set[int] = set()

    # -- collection ------------------------------------------------------------------------
    def _binding(self, name: cst.Name) -> Binding | None:
        bindings = self.ctx.bindings(name.value)
        if len(bindings) != 1:
            return None
        b = bindings[0]
        if b.kind not in _BINDING_KINDS or b.unpacked or b.scope is None:
            return None
        if b.scope.kind not in ("function", "module"):
            return None
        # the use must be in the binding's own def (comprehensions in between are fine)
        s: Scope | None = self.ctx.scope
        while s is not None and s.kind == "comprehension":
            s = s.parent
        if s is not b.scope:
            return None
        if self.ctx.kind(name) != K.ITERATOR:
            return None
        if (
            isinstance(b.value, cst.Call)
            and self.ctx.qualname_in(b.value.func, b.scope) in _INFINITE
        ):
            return None
        return b

    def _use(self, name: cst.BaseExpression, full: bool, what: str, construct: cst.CSTNode) -> None:
        if not isinstance(name, cst.Name):
            return
        b = self._binding(name)
        if b is None:
            return
        for_with_break = isinstance(construct, cst.For) and _has_own_break(construct)
        self._uses.setdefault(id(b), []).append(
            _Use(
                name,
                b,
                full,
                what,
                list(self.ctx.stack),
                self.ctx.enclosing_loops(),
                construct,
                for_with_break,
            )
        )

    def visit_For(self, node: cst.For) -> None:
        self._use(node.iter, True, "loop", node)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._use(node.iter, True, "loop", node)

    def visit_Yield(self, node: cst.Yield) -> None:
        if isinstance(node.value, cst.From):
            self._use(node.value.item, True, "yield from", node)

    def visit_Call(self, node: cst.Call) -> None:
        for arg in node.args:
            if arg.star == "*":
                self._use(arg.value, True, "unpacking", node)
        func = node.func
        if isinstance(func, cst.Attribute):
            if func.attr.value == "seek" and isinstance(func.value, cst.Name):
                self._exclude(func.value)
                return
            if func.attr.value == "join" and string_value(func.value) is not None:
                pos = positional_args(node)
                if len(pos) == 1:
                    self._use(pos[0].value, True, "call", node)
                return
        q = self.ctx.qualname(func)
        if q is None:
            return
        pos = positional_args(node)
        if not pos:
            return
        if q == "itertools.tee":
            self._exclude(pos[0].value)
        elif q in _FULL_CONSUMERS:
            if q in ("builtins.min", "builtins.max") and len(pos) != 1:
                return
            self._use(pos[0].value, True, "call", node)
        elif q in _PARTIAL_CONSUMERS:
            self._use(pos[0].value, False, "call", node)

    def visit_StarredElement(self, node: cst.StarredElement) -> None:
        parent = self.ctx.parent
        if not isinstance(parent, (cst.List, cst.Tuple, cst.Set)):
            return
        grand = self.ctx.stack[-3] if len(self.ctx.stack) >= 3 else None
        if isinstance(grand, (cst.AssignTarget, cst.For, cst.CompFor, cst.WithItem, cst.AsName)):
            return  # an unpacking target, not an iteration
        self._use(node.value, True, "unpacking", node)

    def _exclude(self, expr: cst.BaseExpression) -> None:
        if isinstance(expr, cst.Name):
            for b in self.ctx.bindings(expr.value):
                self._excluded.add(id(b))

    # -- judgement -------------------------------------------------------------------------
    def finish(self) -> None:
        found: list[tuple[_Use, str, _Use | None]] = []
        for key, uses in self._uses.items():
            if key in self._excluded:
                continue
            for i, use in enumerate(uses):
                first = self._earlier_full(uses[:i], use)
                if first is not None:
                    found.append((use, "again", first))
                    continue
                if self._epoch(use):
                    found.append((use, "epoch", None))
        if not found:
            return
        lines: dict[int, int] = {}
        firsts = [f.name for _, _, f in found if f is not None]
        if firsts:
            offsets = node_offsets(self.ctx.module, firsts)
            index = LineIndex(self.ctx.source)
            for n in firsts:
                rng = offsets.get(id(n))
                if rng is not None:
                    start, _ = trim_range(self.ctx.source, *rng)
                    lines[id(n)] = index.position(start)[0]
        for use, form, first in found:
            g = use.name.value
            if form == "epoch":
                self.report(
                    use.name,
                    f"'{g}' is a one-shot iterator created outside this loop; it is empty after "
                    "the first iteration of the outer loop",
                )
            else:
                assert first is not None
                line = lines.get(id(first.name), 0)
                self.report(
                    use.name,
                    f"'{g}' is a one-shot iterator already consumed at line {line}; this "
                    f"{use.what} sees no items",
                )

    def _earlier_full(self, earlier: list[_Use], use: _Use) -> _Use | None:
        for prev in earlier:
            if not prev.full or prev.for_with_break:
                continue
            if any(n is prev.construct for n in use.stack):
                continue  # used inside the consuming loop itself (`for x in g: next(g)`)
            if _in_different_arms(prev.stack, use.stack):
                continue
            if _ends_branch(prev.stack, use.stack):
                continue
            return prev
        return None

    def _epoch(self, use: _Use) -> bool:
        if not use.full or use.for_with_break or not use.loops:
            return False
        bnode = use.binding.node
        for loop in use.loops:
            if loop is bnode or any(n is bnode for n in iter_descendants(loop, into_scopes=False)):
                return False  # bound inside the loop: a fresh iterator each pass
        return True


def _has_own_break(loop: cst.For) -> bool:
    stack: list[cst.CSTNode] = [loop.body]
    while stack:
        cur = stack.pop()
        if isinstance(cur, cst.Break):
            return True
        if isinstance(cur, (cst.For, cst.While, cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        stack.extend(cur.children)
    return False


def _divergence(a: list[cst.CSTNode], b: list[cst.CSTNode]) -> int:
    k = 0
    while k < len(a) and k < len(b) and a[k] is b[k]:
        k += 1
    return k


def _in_different_arms(a: list[cst.CSTNode], b: list[cst.CSTNode]) -> bool:
    """Two uses in different arms of the same if/try/match/ternary are never ordered."""
    k = _divergence(a, b)
    if k == 0 or k >= len(a) or k >= len(b):
        return False
    common = a[k - 1]
    return isinstance(common, (cst.If, cst.Try, cst.TryStar, cst.Match, cst.IfExp))


def _ends_branch(first: list[cst.CSTNode], second: list[cst.CSTNode]) -> bool:
    """The first use sits in a block (not containing the second) that ends with
    return/raise/continue/break: the second use runs only when the first did not."""
    k = _divergence(first, second)
    for node in first[k:]:
        if isinstance(node, cst.IndentedBlock) and node.body:
            last = node.body[-1]
            if isinstance(last, cst.SimpleStatementLine) and any(
                isinstance(s, (cst.Return, cst.Raise, cst.Continue, cst.Break)) for s in last.body
            ):
                return True
    return False
