"""ML601 list-membership-in-loop."""

from __future__ import annotations

import builtins
import re

import libcst as cst

from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics import kinds as K
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
