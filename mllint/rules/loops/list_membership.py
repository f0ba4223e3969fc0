"""ML601 list-membership-in-loop."""

from __future__ import annotations

import ast
import bisect
import builtins
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import libcst as cst

from mllint.prescan import COMPREHENSION_TYPES, Scan, terminal_name, walk
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block
from mllint.semantics.scopes import Scope
from mllint.semantics.walk import iter_descendants

#: list methods that change the elements
_MUTATORS = frozenset({"append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse"})
#: functions that change a list passed as their first argument
_MUTATING_FUNCS = frozenset(
    {
        "heapq.heappush",
        "heapq.heappop",
        "heapq.heapreplace",
        "heapq.heappushpop",
        "heapq.heapify",
        "bisect.insort",
        "bisect.insort_left",
        "bisect.insort_right",
        "random.shuffle",
    }
)
_BUILTIN_NAMES = frozenset(dir(builtins))
_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


class ListMembershipInLoop(Rule):
    """
    ## What it does
    Flags `x in <list>` / `x not in <list>` evaluated repeatedly inside a `for`/`while` body or
    a comprehension (its element, its conditions, its later `for` clauses), where the list is
    a list display, a list comprehension, or a name (or `self.<attr>`) that only ever holds a
    list and is not changed inside the loop.

    ## Why is this bad?
    A membership test on a list compares the probe with the elements one by one, so a test
    inside a loop over m items costs O(m·n): for a 50,000-word vocabulary and 1M tokens that is
    50 billion comparisons. A set (or dict) lookup is O(1) on average, and building the set
    once costs O(n). 5,000 by 5,000 tests took 117 ms against a list and 0.31 ms against a set.
    A list comprehension written inside the loop is also rebuilt on every test.

    ## Example
    ```python
    IMAGE_EXTS = [".jpg", ".jpeg", ".png", ".bmp"]

    def image_files(paths):
        return [p for p in paths if os.path.splitext(p)[1].lower() in IMAGE_EXTS]

    def events_of_known_users(events, users):
        known = [u.user_id for u in users]
        return [e for e in events if e.user_id in known]
    ```

    ## Use instead
    ```python
    IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp"})

    def events_of_known_users(events, users):
        known = {u.user_id for u in users}
        return [e for e in events if e.user_id in known]
    ```

    Sets, dicts, dict views, strings (substring tests), `range(...)`, tuples, DataFrame
    columns, names of unknown type, tests outside loops and lists that the loop itself changes
    (such as the order-preserving dedupe `if x not in out: out.append(x)`) are not flagged.

    ## Fix safety
    Unsafe: a set lookup raises `TypeError: unhashable type` for an unhashable probe (a list,
    a dict) where the list test returned False, and it matches by hash and equality instead of
    equality alone. A list display of hashable literals becomes a set literal (`[...]` →
    `{...}`); for a name, `<name>_set = set(<name>)` is inserted before the outermost loop that
    repeats the test (before the statement holding the comprehension when the comprehension
    is the loop) and the test uses it. The fix is skipped for list comprehensions, inside
    lambdas, and when the list is bound outside both the current function and the module.
    """

    code = "ML601"
    name = "list-membership-in-loop"
    summary = "`x in <list>` evaluated repeatedly inside a loop or comprehension (O(n) per test)"
    tier = 1
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = (" in",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # `x in C` / `x not in C` inside a loop body or comprehension, where C is a list
        # display, a list comprehension, or a name / `<name>.<attr>` that some assignment,
        # annotation or parameter of the file may make a list (see list_keys)
        keys: frozenset[str] | None = None
        selfs: frozenset[str] | None = None
        hits: list[ast.Compare] = []
        for cmp in scan.of(ast.Compare):
            for op, right in zip(cmp.ops, cmp.comparators, strict=False):
                if not isinstance(op, (ast.In, ast.NotIn)):
                    continue
                if isinstance(right, (ast.List, ast.ListComp)):
                    hits.append(cmp)
                    break
                if isinstance(right, ast.Name):
                    key = right.id
                elif isinstance(right, ast.Attribute) and isinstance(right.value, ast.Name):
                    if selfs is None:
                        selfs = self_names(scan)
                    if right.value.id not in selfs:
                        continue
                    key = right.attr
                else:
                    continue
                if keys is None:
                    keys = list_keys(scan)
                if key in keys:
                    hits.append(cmp)
                    break
        return within_loops(scan, hits)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._touch_cache: dict[tuple[int, str], bool] = {}

    def visit_Comparison(self, node: cst.Comparison) -> None:
        if not any(isinstance(t.operator, (cst.In, cst.NotIn)) for t in node.comparisons):
            return
        if not self.ctx.in_loop():
            return
        left = node.left
        for target in node.comparisons:
            right = target.comparator
            if isinstance(target.operator, (cst.In, cst.NotIn)) and self._check(
                node, left, right, target.operator
            ):
                return
            left = right

    # -- the trigger ---------------------------------------------------------------------
    def _check(
        self,
        node: cst.Comparison,
        probe: cst.BaseExpression,
        container: cst.BaseExpression,
        op: cst.BaseCompOp,
    ) -> bool:
        ctx = self.ctx
        op_text = "not in" if isinstance(op, cst.NotIn) else "in"
        test = f"'{ctx.snippet(probe, 40)} {op_text} {ctx.snippet(container, 40)}'"
        head = f"{test} scans the list on every iteration (O(len) per test)"
        if isinstance(container, cst.List):
            fix = self._literal_fix(container)
            self.report(node, f"{head}; use a set literal {{…}}", fix)
            return True
        if isinstance(container, cst.ListComp):
            self.report(
                node, f"{head} and rebuilds it on every test; build a set once before the loop"
            )
            return True
        key = _operand_key(container, ctx)
        if key is None or ctx.kind(container) != K.LIST:
            return False
        loops = ctx.enclosing_loops()
        chain: list[cst.CSTNode] = []
        for loop in reversed(loops):  # innermost first
            if self._touches(loop, container, key):
                break
            chain.append(loop)
        if not chain:
            return False  # the innermost loop rebinds or changes the list
        list_code = ctx.snippet(container, 40)
        fix, set_name = self._name_fix(container, key, chain[-1])
        message = f"{head}; build a set once before the loop: {set_name} = set({list_code})"
        self.report(node, message, fix)
        return True

    # -- fixes ---------------------------------------------------------------------------
    def _literal_fix(self, display: cst.List) -> Fix | None:
        if not display.elements or not all(
            isinstance(el, cst.Element) and _hashable_literal(el.value) for el in display.elements
        ):
            return None
        new = cst.Set(
            elements=display.elements,
            lbrace=cst.LeftCurlyBrace(whitespace_after=display.lbracket.whitespace_after),
            rbrace=cst.RightCurlyBrace(whitespace_before=display.rbracket.whitespace_before),
            lpar=display.lpar,
            rpar=display.rpar,
        )
        text = code_in_block(self.ctx.module, new, block_indents(self.ctx.module, self.ctx.stack))
        return Fix(FixSafety.UNSAFE, [(display, text)])

    def _name_fix(
        self, container: cst.BaseExpression, key: str, outer_loop: cst.CSTNode
    ) -> tuple[Fix | None, str]:
        """Insert ``<name>_set = set(<name>)`` before the statement that holds the outermost
        loop of the chain, and use it in the test."""
        ctx = self.ctx
        base = key.rsplit(".", 1)[-1] + "_set"
        stack = ctx.stack
        if any(isinstance(n, cst.Lambda) for n in stack):
            return None, base
        if not self._binding_is_local(container, key):
            return None, base
        # the statement to insert before: the loop statement, or the statement holding the
        # comprehension; it must sit directly in a block
        try:
            idx = next(i for i, n in enumerate(stack) if n is outer_loop)
        except StopIteration:  # pragma: no cover - the loop is an ancestor
            return None, base
        if isinstance(outer_loop, _COMPREHENSIONS):
            j = idx
            while j >= 0 and not isinstance(
                stack[j], (cst.SimpleStatementLine, cst.BaseCompoundStatement)
            ):
                j -= 1
            if j < 0:
                return None, base
            idx = j
        stmt = stack[idx]
        block = stack[idx - 1] if idx >= 1 else None
        if not isinstance(block, (cst.IndentedBlock, cst.Module)) or not any(
            s is stmt for s in block.body
        ):
            return None, base
        if self._touches(stmt, container, key):
            return None, base
        if not ctx.source.endswith(("\n", "\r")):
            return None, base
        container_code = ctx.code(container).strip()
        # reuse `<name>_set = set(<name>)` right before the statement (a previous fix)
        body = list(block.body)
        pos = next(i for i, s in enumerate(body) if s is stmt)
        if pos > 0:
            prev = _set_assignment(body[pos - 1], container, ctx)
            if prev is not None:
                return Fix(FixSafety.UNSAFE, [(container, prev)]), prev
        name = base
        n = 2
        while self._taken(name):
            name = f"{base}{n}"
            n += 1
        indents = block_indents(ctx.module, stack[:idx])
        indent = "".join(indents)
        assert isinstance(stmt, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
        full = code_in_block(ctx.module, stmt, indents)
        rest = code_in_block(ctx.module, stmt.with_changes(leading_lines=()), indents)
        if not full.endswith(rest):  # pragma: no cover - defensive
            return None, name
        lead = full[: len(full) - len(rest)]
        assert rest.startswith(indent)
        newline = ctx.module.default_newline
        new_text = f"{lead}{indent}{name} = set({container_code}){newline}{rest}"
        return Fix(FixSafety.UNSAFE, [(stmt, new_text), (container, name)]), name

    def _taken(self, name: str) -> bool:
        """``name`` is a builtin, bound at module level, or appears in the enclosing function
        (the whole module for module-level code)."""
        ctx = self.ctx
        if name in _BUILTIN_NAMES or ctx.model.module_scope.bindings.get(name):
            return True
        finfo = ctx.enclosing_function()
        text = ctx.code(finfo.node) if finfo is not None else ctx.source
        return re.search(rf"\b{re.escape(name)}\b", text) is not None

    def _binding_is_local(self, container: cst.BaseExpression, key: str) -> bool:
        """The list is bound in the enclosing function or at module level."""
        ctx = self.ctx
        home = _home_scope(ctx.scope)
        if isinstance(container, cst.Name):
            bindings = ctx.bindings(container.value)
            if not bindings:
                return False
            owner = bindings[0].scope
            return owner is home or (owner is not None and owner.kind == "module")
        # self.<attr>: every assignment in this very function
        finfo = ctx.enclosing_function()
        cls = ctx.enclosing_class()
        if finfo is None or cls is None:
            return False
        attr = key.rsplit(".", 1)[-1]
        stmts = cls.attr_bindings.get(attr)
        if not stmts:
            return False
        inside = {id(n) for n in iter_descendants(finfo.node.body, into_scopes=False)}
        return all(id(b.node) in inside for b in stmts)

    # -- changes to the list inside a node ------------------------------------------------
    def _touches(self, root: cst.CSTNode, container: cst.BaseExpression, key: str) -> bool:
        """Whether ``root`` rebinds the name or changes the list's elements."""
        cache_key = (id(root), key)
        cached = self._touch_cache.get(cache_key)
        if cached is not None:
            return cached
        result = self._scan(root, container)
        self._touch_cache[cache_key] = result
        return result

    def _scan(self, root: cst.CSTNode, container: cst.BaseExpression) -> bool:
        ctx = self.ctx

        def same(expr: cst.CSTNode) -> bool:
            if isinstance(container, cst.Name):
                return isinstance(expr, cst.Name) and expr.value == container.value
            return isinstance(expr, cst.Attribute) and ctx.equal(expr, container)

        def target_hits(target: cst.CSTNode) -> bool:
            if same(target):
                return True
            if isinstance(target, cst.Subscript) and same(target.value):
                return True
            if isinstance(target, (cst.Tuple, cst.List)):
                return any(target_hits(el.value) for el in target.elements)
            if isinstance(target, cst.StarredElement):
                return target_hits(target.value)
            return False

        for n in [root, *iter_descendants(root)]:
            if isinstance(n, cst.Call):
                func = n.func
                if (
                    isinstance(func, cst.Attribute)
                    and func.attr.value in _MUTATORS
                    and same(func.value)
                ):
                    return True
                if n.args and same(n.args[0].value) and ctx.qualname(func) in _MUTATING_FUNCS:
                    return True
            elif isinstance(n, (cst.Global, cst.Nonlocal)):
                if isinstance(container, cst.Name) and any(
                    x.name.value == container.value for x in n.names
                ):
                    return True
            elif any(target_hits(t) for t in _bound_targets(n)):
                return True
        return False


def _bound_targets(node: cst.CSTNode) -> list[cst.BaseExpression]:
    """The targets a statement or expression node assigns, deletes or binds."""
    if isinstance(node, cst.Assign):
        return [t.target for t in node.targets]
    if isinstance(node, (cst.AnnAssign, cst.AugAssign, cst.For, cst.NamedExpr, cst.Del)):
        return [node.target]
    if isinstance(node, cst.WithItem) and node.asname is not None:
        return [node.asname.name]
    return []


def _operand_key(node: cst.BaseExpression, ctx: object) -> str | None:
    """``name`` for a Name, ``self.attr`` for an attribute of the method's ``self``."""
    from mllint.semantics.context import FileContext

    assert isinstance(ctx, FileContext)
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
        finfo = ctx.enclosing_function()
        if finfo is not None and finfo.self_name == node.value.value:
            return f"{node.value.value}.{node.attr.value}"
    return None


def _home_scope(scope: Scope) -> Scope:
    s = scope
    while s.kind in ("lambda", "comprehension") and s.parent is not None:
        s = s.parent
    return s


def _hashable_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary)):
        return True
    if isinstance(node, cst.ConcatenatedString):
        return _hashable_literal(node.left) and _hashable_literal(node.right)
    if isinstance(node, cst.Name):
        return node.value in ("True", "False", "None")
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        return isinstance(node.expression, (cst.Integer, cst.Float, cst.Imaginary))
    if isinstance(node, cst.Tuple):
        return all(
            isinstance(el, cst.Element) and _hashable_literal(el.value) for el in node.elements
        )
    return False


def _set_assignment(stmt: cst.CSTNode, container: cst.BaseExpression, ctx: object) -> str | None:
    """``<name>`` when ``stmt`` is ``<name> = set(<container>)``."""
    from mllint.semantics.context import FileContext

    assert isinstance(ctx, FileContext)
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    assign = stmt.body[0]
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    value = assign.value
    if not isinstance(target, cst.Name) or not isinstance(value, cst.Call):
        return None
    if not (
        isinstance(value.func, cst.Name) and value.func.value == "set" and len(value.args) == 1
    ):
        return None
    if not ctx.equal(value.args[0].value, container):
        return None
    if not target.value.startswith(_base_name(container) + "_set"):
        return None
    return target.value


def _base_name(container: cst.BaseExpression) -> str:
    if isinstance(container, cst.Attribute):
        return container.attr.value
    assert isinstance(container, cst.Name)
    return container.value


# -- the ast pre-scan (ast_gate), shared with ML603 ----------------------------------------------
#: terminal names of the calls kinds.py types as a list: ``list``/``sorted`` and the methods
#: ``tolist``/``split``/``splitlines``/``readlines``/``rsplit``
_LIST_CALLS = frozenset({"list", "sorted", "tolist", "split", "splitlines", "readlines", "rsplit"})
#: names whose annotation makes a list (``list``, ``List[...]``, ``typing.List``)
_LIST_ANNOTATIONS = frozenset({"list", "List"})
_LIST_KEYS_CACHE = "ML601.list_keys"
#: `<list> * n`, `<list> + <list>`: the kind of the left operand
_LIST_BINOPS = (ast.Mult, ast.Add)


def within_loops(scan: Scan, nodes: Sequence[ast.expr | ast.stmt]) -> bool:
    """Whether one of ``nodes`` starts, by position, inside a loop: between the first body
    statement and the end of a ``for``/``async for`` (body and ``else``), anywhere in a
    ``while`` (its test too) or in a comprehension (its first iterable too). A superset of
    :meth:`Scan.in_loops` that costs a sort of the loops and a bisection per node instead
    of a walk of every loop body."""
    if not nodes:
        return False
    far = (sys.maxsize, 0)
    spans: list[tuple[tuple[int, int], tuple[int, int]]] = []
    for loop in scan.of(ast.For, ast.AsyncFor):
        first = loop.body[0]
        end = (loop.end_lineno, loop.end_col_offset or 0) if loop.end_lineno else far
        spans.append(((first.lineno, first.col_offset), end))
    for other in (*scan.of(ast.While), *scan.of(*COMPREHENSION_TYPES)):
        assert isinstance(other, ast.expr | ast.stmt)
        end = (other.end_lineno, other.end_col_offset or 0) if other.end_lineno else far
        spans.append(((other.lineno, other.col_offset), end))
    if not spans:
        return False
    spans.sort()
    starts = [start for start, _ in spans]
    #: the furthest end among the spans starting at or before each one
    reach: list[tuple[int, int]] = []
    furthest = (0, 0)
    for _, end in spans:
        furthest = max(furthest, end)
        reach.append(furthest)
    for n in nodes:
        pos = (n.lineno, n.col_offset)
        i = bisect.bisect_right(starts, pos) - 1
        if i >= 0 and reach[i] >= pos:
            return True
    return False


def _list_annotation(ann: ast.AST, names: frozenset[str]) -> bool:
    """An annotation that may name a list: ``list``/``List`` (or an alias of them) anywhere
    in it, also inside a string annotation."""
    for n in walk(ann):
        if isinstance(n, ast.Name):
            if n.id in names:
                return True
        elif isinstance(n, ast.Attribute):
            if n.attr in names:
                return True
        elif (
            isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and any(x in n.value for x in names)
        ):
            return True
    return False


def self_names(scan: Scan) -> frozenset[str]:
    """The first parameter's name of every function defined directly in a class body (the
    only names whose attributes kinds.py types: ``self.<attr>``)."""
    out: set[str] = set()
    for _, fn in scan.methods():
        params = (*fn.args.posonlyargs, *fn.args.args)
        if params:
            out.add(params[0].arg)
    return frozenset(out)


def list_keys(scan: Scan) -> frozenset[str]:
    """Names and attribute names (``self.<attr>``: the attribute's name, for the
    :func:`self_names`) that kinds.py may type as a list somewhere in the file: bound (``=``,
    ``:=``, annotated, parameter) to a list display, a list comprehension, a list-returning
    call, ``<list> * n`` / ``<list> + ...``, a list annotation, or - to a fixed point -
    another such name or attribute. Scopes are ignored (broader)."""
    return scan.memo(_LIST_KEYS_CACHE, lambda: _list_keys(scan))


def _list_keys(scan: Scan) -> frozenset[str]:
    calls = scan.import_aliases(_LIST_CALLS)
    anns = scan.import_aliases(_LIST_ANNOTATIONS)
    selfs = self_names(scan)
    keys: set[str] = set()
    #: source key -> target keys bound to it (`a = b`, `a = self.b`)
    deps: dict[str, list[str]] = {}

    def source(value: ast.expr) -> str | bool:
        """True: a list; a key: whatever that name/attribute is; False: never a list."""
        while isinstance(value, ast.BinOp) and isinstance(value.op, _LIST_BINOPS):
            value = value.left
        if isinstance(value, ast.Call):
            name = terminal_name(value.func)
            return name is not None and name in calls
        if isinstance(value, ast.Name):
            return value.id
        if isinstance(value, ast.Attribute):
            # `self.<attr>`: only a method's first parameter gives an attribute a kind
            base = value.value
            return isinstance(base, ast.Name) and base.id in selfs and value.attr
        return isinstance(value, (ast.List, ast.ListComp))

    def bind(target: ast.expr, value: ast.expr, src: str | bool) -> None:
        if isinstance(target, ast.Name):
            key = target.id
        elif isinstance(target, ast.Attribute):
            base = target.value
            if not isinstance(base, ast.Name) or base.id not in selfs:
                return
            key = target.attr
        elif isinstance(target, (ast.Tuple, ast.List)):
            # `a, b = [1], x` binds element by element; other unpackings give no kind
            elts = target.elts
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(elts):
                for el, v in zip(elts, value.elts, strict=True):
                    if not isinstance(el, ast.Starred) and not isinstance(v, ast.Starred):
                        bind(el, v, source(v))
            return
        else:
            return
        if src is True:
            keys.add(key)
        elif src:
            deps.setdefault(src, []).append(key)

    for a in scan.of(ast.Assign):
        value = a.value
        src = source(value)
        if src is False and not isinstance(value, ast.Tuple):
            continue  # (a tuple display may still unpack a list into a name)
        for target in a.targets:
            bind(target, value, src)
    for w in scan.of(ast.NamedExpr):
        bind(w.target, w.value, source(w.value))
    for an in scan.of(ast.AnnAssign):
        target = an.target
        if isinstance(target, ast.Attribute):
            if not isinstance(target.value, ast.Name) or target.value.id not in selfs:
                continue
            if _list_annotation(an.annotation, anns):
                keys.add(target.attr)
                continue
        elif isinstance(target, ast.Name) and _list_annotation(an.annotation, anns):
            keys.add(target.id)
            continue
        if an.value is not None:
            bind(target, an.value, source(an.value))
    for arg in scan.of(ast.arg):
        if arg.annotation is not None and _list_annotation(arg.annotation, anns):
            keys.add(arg.arg)
    todo = list(keys)
    while todo:
        for dependent in deps.pop(todo.pop(), ()):
            if dependent not in keys:
                keys.add(dependent)
                todo.append(dependent)
    out = frozenset(keys)
    return out
