"""ML010 exhausted-iterator-reused."""

from __future__ import annotations

import ast
import bisect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from mllint.positions import LineIndex, node_offsets, trim_range
from mllint.prescan import COMPREHENSION_TYPES, Scan, absolute_module, assign_pairs
from mllint.prescan import start_pos as _pos
from mllint.rule import Rule
from mllint.semantics import kinds as K
from mllint.semantics.context import FileContext, FileFacts
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

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a name bound (=, :=, annotated =, with ... as) to an iterator-shaped value, then
        # consumed twice (once fully) or fully consumed inside a loop body
        sites = _iterator_names(scan, facts)
        return bool(sites) and _reused(scan, sites)

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


# -- the ast pre-scan (ast_gate) ---------------------------------------------------------------
#: terminal names of the calls kinds.py types as one-shot iterators (builtins, csv, os, io,
#: gzip, bz2, lzma, pathlib and DataFrame methods, itertools.chain.from_iterable); other
#: itertools functions are found by import
_ITER_CALLS = frozenset(
    {
        "map", "filter", "zip", "iter", "reversed", "enumerate", "open", "reader", "DictReader",
        "scandir", "glob", "rglob", "iterdir", "iterrows", "itertuples", "from_iterable",
    }
)  # fmt: skip
#: keywords that make a ``pandas.read_*`` call return an iterator
_ITER_KEYWORDS = frozenset({"chunksize", "iterator"})
#: terminal names of the consuming calls (_FULL_CONSUMERS, _PARTIAL_CONSUMERS, str.join)
_FULL_NAMES = frozenset(q.rpartition(".")[2] for q in _FULL_CONSUMERS) | {"join"}
_PARTIAL_NAMES = frozenset(q.rpartition(".")[2] for q in _PARTIAL_CONSUMERS)


_AST_DISPLAYS = (ast.Tuple, ast.List)


def _iterator_names(scan: Scan, facts: FileFacts) -> list[ast.Name]:
    """The ``Name`` targets of the bindings (``=``, ``:=``, annotated ``=``, ``with ... as``)
    whose value may have the one-shot iterator kind: an iterator-shaped value, or a name or
    attribute (``self.x``) bound to one elsewhere, followed to a fixed point."""
    bare = set(scan.import_aliases(_ITER_CALLS))
    attr_names = _ITER_CALLS
    modules: set[str] = set()  # local names of the itertools module
    for imp in scan.of(ast.Import):
        for a in imp.names:
            if a.name == "itertools":
                modules.add(a.asname or a.name)
    for imp_from in scan.of(ast.ImportFrom):
        if imp_from.module == "itertools" or (
            imp_from.level
            and absolute_module(imp_from.module, imp_from.level, facts.package) == "itertools"
        ):
            bare.update(a.asname or a.name for a in imp_from.names)
    if scan.has(ast.Yield, ast.YieldFrom):
        # local generator functions: a def whose lines hold a yield (nested ones too: broader)
        lines = sorted(y.lineno for y in scan.of(ast.Yield, ast.YieldFrom))
        for fn in scan.functions():
            i = bisect.bisect_left(lines, fn.lineno)
            if i < len(lines) and lines[i] <= (fn.end_lineno or fn.lineno):
                bare.add(fn.name)

    keywords = any(k.arg in _ITER_KEYWORDS for k in scan.of(ast.keyword))
    if not (
        keywords
        or modules
        or scan.has(ast.GeneratorExp)
        or not scan.called().isdisjoint(bare | attr_names)
    ):
        return []

    def producer(v: ast.AST | None) -> bool:
        if v.__class__ is ast.GeneratorExp:
            return True
        if v.__class__ is not ast.Call:
            return False
        f = v.func
        if f.__class__ is ast.Name:
            if f.id in bare:
                return True
        elif f.__class__ is ast.Attribute and (
            f.attr in attr_names or (f.value.__class__ is ast.Name and f.value.id in modules)
        ):
            return True
        return keywords and any(k.arg in _ITER_KEYWORDS for k in v.keywords)

    found: set[str] = set()  # names and attribute names bound to an iterator shape
    sites: list[ast.Name] = []
    pending: list[tuple[list[ast.expr], ast.expr]] = []

    def add(targets: list[ast.expr]) -> None:
        for t in targets:
            if isinstance(t, ast.Name):
                found.add(t.id)
                sites.append(t)
            elif isinstance(t, ast.Attribute):
                found.add(t.attr)

    for node in scan.of(ast.Assign):
        v = node.value
        targets = node.targets
        if any(t.__class__ in _AST_DISPLAYS for t in targets):
            # `a, b = x, y` binds element-wise (scopes.assign_target)
            pairs: list[tuple[ast.expr, ast.expr]] = []
            for t in targets:
                assign_pairs(t, v, pairs)
            for t, v in pairs:
                if isinstance(v, (ast.Name, ast.Attribute)):
                    pending.append(([t], v))
                elif producer(v):
                    add([t])
        elif isinstance(v, (ast.Name, ast.Attribute)):
            pending.append((targets, v))
        elif producer(v):
            add(targets)
    for ann in scan.of(ast.AnnAssign, ast.NamedExpr):
        v2 = ann.value
        if isinstance(v2, (ast.Name, ast.Attribute)):
            pending.append(([ann.target], v2))
        elif producer(v2):
            add([ann.target])
    for item in scan.of(ast.withitem):
        if item.optional_vars is not None and producer(item.context_expr):
            add([item.optional_vars])
    changed = bool(found)
    while changed and pending:
        changed = False
        rest: list[tuple[list[ast.expr], ast.expr]] = []
        for targets, value in pending:
            ref = value.id if isinstance(value, ast.Name) else getattr(value, "attr", "")
            if ref in found:
                add(targets)
                changed = True
            else:
                rest.append((targets, value))
        pending = rest
    return sites


class _Owners:
    """The scope a node belongs to, by position: the innermost def or class body or lambda
    body holding it (0: the module). A def's decorators, defaults and annotations fall
    outside its body, in the enclosing scope, as in the rule's FileContext."""

    def __init__(self, scan: Scan) -> None:
        spans: list[tuple[tuple[int, int], tuple[int, int], int]] = []
        for node in scan.of(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            first = node.body[0]
            end = (node.end_lineno or 0, node.end_col_offset or 0)
            spans.append(((first.lineno, first.col_offset), end, id(node)))
        for lam in scan.of(ast.Lambda):
            end = (lam.end_lineno or 0, lam.end_col_offset or 0)
            spans.append(((lam.body.lineno, lam.body.col_offset), end, id(lam)))
        spans.sort()
        self._spans = spans
        self._starts = [sp[0] for sp in spans]

    def __call__(self, node: ast.expr) -> int:
        pos = (node.lineno, node.col_offset)
        i = bisect.bisect_right(self._starts, pos)
        spans = self._spans
        while i:
            i -= 1
            if pos <= spans[i][1]:
                return spans[i][2]  # spans nest: the latest start holding pos is innermost
        return 0


def _reused(scan: Scan, sites: list[ast.Name]) -> bool:
    """A bound name used, in the same scope as its binding, twice (once fully) as the rule
    counts uses, or fully consumed inside a loop body."""
    names = {n.id for n in sites}
    full: list[ast.Name] = []
    partial: list[ast.Name] = []
    for loop in scan.of(ast.For, ast.AsyncFor, ast.comprehension):
        it = loop.iter
        if isinstance(it, ast.Name) and it.id in names:
            full.append(it)
    for node in scan.of(ast.YieldFrom, ast.Starred):
        v = node.value
        if isinstance(v, ast.Name) and v.id in names:
            full.append(v)
    consumers_full = scan.import_aliases(_FULL_NAMES)
    consumers_partial = scan.import_aliases(_PARTIAL_NAMES)
    for call in scan.of(ast.Call):
        args = call.args
        if not args:
            continue
        first = args[0]
        if isinstance(first, ast.Starred):
            first = next((a for a in args if not isinstance(a, ast.Starred)), first)
        if not (isinstance(first, ast.Name) and first.id in names):
            continue
        f = call.func
        callee = f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)
        if callee in consumers_full:
            full.append(first)
        elif callee in consumers_partial:
            partial.append(first)
    if not full:
        return False
    # the rule wants the use in the binding's own def (global/nonlocal names: any scope)
    owner = _Owners(scan)
    shared = {n for node in scan.of(ast.Global, ast.Nonlocal) for n in node.names}

    def key(n: ast.Name) -> tuple[str, int]:
        return (n.id, -1 if n.id in shared else owner(n))

    bound = {key(n) for n in sites}
    full = [n for n in full if key(n) in bound]
    if not full:
        return False
    # the rule wants the name bound once in its scope: drop names that statements bind twice
    wanted = {n.id for n in full} - shared
    if wanted:
        twice = _bound_twice(scan, wanted, owner)
        full = [n for n in full if key(n) not in twice]
        if not full:
            return False
    counts: dict[tuple[str, int], int] = {}
    for n in (*full, *partial):
        k = key(n)
        counts[k] = counts.get(k, 0) + 1
    if any(counts[key(n)] >= 2 for n in full):
        return True
    # the "epoch" form: one full use inside a loop body (or a comprehension's repeated part)
    return any(in_loop_by_position(scan, n) for n in full)


def _bound_twice(scan: Scan, names: set[str], owner: _Owners) -> set[tuple[str, int]]:
    """(name, scope) pairs that assignment, annotated/augmented assignment, for and with
    statements bind at least twice: each is a binding of the semantic model
    (scopes._Builder binds every Name of these targets; walrus and comprehension targets
    are left out, so the count never exceeds the model's)."""
    seen: set[tuple[str, int]] = set()
    twice: set[tuple[str, int]] = set()

    def count(target: ast.expr) -> None:
        if target.__class__ is ast.Name:
            if target.id in names:
                k = (target.id, owner(target))
                if k in seen:
                    twice.add(k)
                seen.add(k)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for el in target.elts:
                count(el)
        elif isinstance(target, ast.Starred):
            count(target.value)

    for a in scan.of(ast.Assign):
        for t in a.targets:
            count(t)
    for one in scan.of(ast.AugAssign, ast.AnnAssign):
        count(one.target)
    for loop in scan.of(ast.For, ast.AsyncFor):
        count(loop.target)
    for item in scan.of(ast.withitem):
        if item.optional_vars is not None:
            count(item.optional_vars)
    return twice


def _end(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0)


def in_loop_by_position(scan: Scan, use: ast.expr | ast.stmt) -> bool:
    """By position (cheaper than Scan.loop_bodies for a few nodes, and broader): inside a
    for loop's body or else, a while loop, or a comprehension but not its first iterable."""
    pos = _pos(use)
    for loop in scan.of(ast.For, ast.AsyncFor):
        if _pos(loop.body[0]) <= pos <= _end(loop):
            return True
    for wloop in scan.of(ast.While):
        if _pos(wloop) <= pos <= _end(wloop):
            return True
    for comp in scan.of(*COMPREHENSION_TYPES):
        if _pos(comp) <= pos <= _end(comp):
            first = comp.generators[0].iter  # type: ignore[attr-defined]
            if not _pos(first) <= pos <= _end(first):
                return True
    return False
