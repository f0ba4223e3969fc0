"""ML508 set-order-dependent-ids."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics import kinds as K
from mllint.semantics.cstutil import positional_args, string_value
from mllint.semantics.size_checks import size_checked
from mllint.semantics.walk import iter_descendants

if TYPE_CHECKING:
    from mllint.semantics.context import FileContext

_IDS = "ids built from it change"
_PICK = "the element taken from it changes"
_SET_OPS = (cst.BitOr, cst.BitAnd, cst.Subtract, cst.BitXor)
_ORDER_KEYWORDS = frozenset({"columns", "categories", "classes", "labels"})
_SERIALISERS = frozenset(
    {"numpy.array", "numpy.asarray", "json.dump", "json.dumps", "pickle.dump", "torch.save"}
)


class SetOrderDependentIds(Rule):
    """
    ## What it does
    Flags a set (a set display or comprehension, `set(...)`, `frozenset(...)`, a set
    operation such as `a | b`, `a & b`, `a - b`, `a ^ b` or `d.keys() - other`, or a name
    bound only to sets) whose iteration order is used to build ids, indices or column
    orders: `enumerate(S)`, `zip(S, ...)` (including `dict(zip(S, ...))`), `list(S)[i]` /
    `tuple(S)[i]`, `list(S)` passed as `columns=`/`categories=`/`classes=`/`labels=` or to
    `np.array`/`json.dump`/`pickle.dump`/`torch.save`, `S.pop()`, `next(iter(S))`,
    `random.choice(list(S))`, `"".join(S)`, and `for x in S:` loops that assign incrementing
    ids (`d[x] = len(d)`, `d[x] = i` with `i += 1`) or append to a list the function returns.
    A name bound once to `list(S)`, `[*S]` or `list({...})` (and never `.sort()`-ed) carries
    the set order: `labels = list(set(df.label))` is reported (at the set) when `labels` is
    used the same ways, or as `labels.index(x)` or `labels[i]` (not `labels[0]`).

    `sorted(S)` is never flagged, nor are sets whose elements are provably integers
    (`set(range(n))`, sets of int literals, whose order is deterministic in CPython), nor
    order-insensitive uses (membership tests, `len`, set algebra, loops without ids).

    ## Why is this bad?
    Hashes of `str` and `bytes` are randomised per process (`PYTHONHASHSEED`), so a set of
    strings iterates in a different order in every process of the same interpreter: three
    hash seeds gave three different orders of `{'cat', 'dog', 'bird', 'fish'}`. A label-to-id
    map built this way in the training process silently disagrees with the one built in the
    serving process, and column orders and saved vocabularies change from run to run.

    ## Example
    ```python
    label2id = {label: i for i, label in enumerate(set(labels))}
    ```

    ## Use instead
    ```python
    label2id = {label: i for i, label in enumerate(sorted(set(labels)))}
    # or, for first-occurrence order:
    label2id = {label: i for i, label in enumerate(dict.fromkeys(labels))}
    ```

    ## Fix safety
    Unsafe: `enumerate(S)`, `zip(S, ...)` and `list(S)` (also `[*S]` in a binding) become
    `enumerate(sorted(S))`, `zip(sorted(S), ...)` and `sorted(S)`. The ids or the order change (as intended, once),
    and `sorted` raises `TypeError` for sets mixing unorderable elements. Other shapes have no
    fix.
    """

    code = "ML508"
    name = "set-order-dependent-ids"
    summary = "Ids, indices or column orders built by iterating a set of strings"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("set", "{", "keys")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._set_list_reported: set[int] = set()
        #: id(scope node) -> names sorted in place (``labels.sort()``) in that scope
        self._unsorted_checked: dict[int, set[str]] = {}

    # -- set-typed expressions -----------------------------------------------------------
    def _is_set(self, expr: cst.CSTNode, depth: int = 0) -> bool:
        if depth > 4:
            return False
        ctx = self.ctx
        if isinstance(expr, (cst.Set, cst.SetComp)):
            return True
        if isinstance(expr, cst.Call):
            return ctx.qualname(expr.func) in ("builtins.set", "builtins.frozenset")
        if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, _SET_OPS):
            return any(
                self._is_set(side, depth + 1) or _is_keys_call(side)
                for side in (expr.left, expr.right)
            )
        if isinstance(expr, cst.Name):
            if ctx.kind(expr) == K.SET:
                return True
            bindings = ctx.bindings(expr.value)
            return bool(bindings) and all(
                b.kind in ("assign", "annassign")
                and not b.unpacked
                and b.value is not None
                and isinstance(b.value, cst.BinaryOperation)
                and self._is_set(b.value, depth + 1)
                for b in bindings
            )
        return False

    def _provably_ints(self, expr: cst.CSTNode, depth: int = 0) -> bool:
        """Sets whose elements are certainly ints (their iteration order is deterministic)."""
        if depth > 4:
            return False
        ctx = self.ctx
        if isinstance(expr, cst.Set):
            return all(
                isinstance(el, cst.Element) and _int_literal(el.value) for el in expr.elements
            )
        if isinstance(expr, cst.SetComp):
            return _iter_is_range(ctx, expr.for_in.iter) and _is_loop_var(expr.elt, expr.for_in)
        if isinstance(expr, cst.Call):
            q = ctx.qualname(expr.func)
            if q in ("builtins.set", "builtins.frozenset"):
                pos = positional_args(expr)
                if not pos:
                    return True  # an empty set
                arg = pos[0].value
                if isinstance(arg, (cst.List, cst.Tuple, cst.Set)):
                    return all(
                        isinstance(el, cst.Element) and _int_literal(el.value)
                        for el in arg.elements
                    )
                return _iter_is_range(ctx, arg)
            return False
        if isinstance(expr, cst.BinaryOperation):
            if _is_keys_call(expr.left) or _is_keys_call(expr.right):
                return False
            left = self._is_set(expr.left, depth + 1)
            right = self._is_set(expr.right, depth + 1)
            if not (left or right):
                return False
            if isinstance(expr.operator, (cst.BitAnd, cst.Subtract)) and left:
                return self._provably_ints(expr.left, depth + 1)
            return (not left or self._provably_ints(expr.left, depth + 1)) and (
                not right or self._provably_ints(expr.right, depth + 1)
            )
        if isinstance(expr, cst.Name):
            bindings = ctx.bindings(expr.value)
            return bool(bindings) and all(
                b.kind in ("assign", "annassign")
                and not b.unpacked
                and b.value is not None
                and self._provably_ints(b.value, depth + 1)
                for b in bindings
            )
        return False

    def _candidate(self, expr: cst.CSTNode) -> bool:
        return self._is_set(expr) and not self._provably_ints(expr)

    # -- order-sensitive uses ------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        func = node.func
        q = ctx.qualname(func)
        pos = positional_args(node)
        if q == "builtins.enumerate" and pos:
            self._flag(pos[0].value, _IDS, self._sorted_fix(pos[0].value))
            self._flag_set_list(pos[0].value, _IDS)
            return
        if q == "builtins.zip":
            for arg in pos:
                self._flag(arg.value, _IDS, self._sorted_fix(arg.value))
                self._flag_set_list(arg.value, _IDS)
            return
        if q == "builtins.next" and len(pos) >= 1:
            inner = pos[0].value
            if isinstance(inner, cst.Call) and ctx.qualname(inner.func) == "builtins.iter":
                ipos = positional_args(inner)
                if ipos:
                    self._flag_pick(ipos[0].value, _PICK)
            return
        if q == "random.choice" and pos:
            self._flag_list_of(pos[0].value, _PICK)
            return
        if q in _SERIALISERS and pos:
            self._flag_list_of(pos[0].value, "the order saved from it changes")
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value in _ORDER_KEYWORDS:
                self._flag_list_of(
                    arg.value, f"the {arg.keyword.value} order built from it changes"
                )
        if isinstance(func, cst.Attribute):
            if func.attr.value == "index" and len(pos) == 1 and len(node.args) == 1:
                self._flag_set_list(func.value, _IDS)
            if func.attr.value == "pop" and not node.args:
                self._flag_pick(func.value, "the element popped from it changes")
            elif func.attr.value == "join" and string_value(func.value) == "" and len(pos) == 1:
                self._flag(pos[0].value, "the string joined from it changes", None)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        value = node.value
        if isinstance(value, cst.Name) and len(node.slice) == 1:
            key = node.slice[0].slice
            # `labels[pred]`: an id looked up in the set order (`uniq[0]` is usually the
            # only element, and a slice is not an id)
            if (
                isinstance(key, cst.Index)
                and not _int_literal(key.value)
                and self._set_list(value) is not None  # cheap: one binding lookup
                and not size_checked(self.ctx, value.value)  # walks the function body
            ):
                self._flag_set_list(value, _IDS)
        if isinstance(value, cst.Call) and self.ctx.qualname(value.func) in (
            "builtins.list",
            "builtins.tuple",
        ):
            pos = positional_args(value)
            if len(pos) == 1 and len(value.args) == 1:
                fix = None
                if self.ctx.qualname(value.func) == "builtins.list":
                    fix = self._list_fix(value, pos[0].value)
                self._flag_pick(pos[0].value, "the element at each index changes", fix)

    def visit_For(self, node: cst.For) -> None:
        if not isinstance(node.target, cst.Name):
            return
        if not self._candidate(node.iter):
            if self._set_list(node.iter) is not None and self._loop_builds_ids(
                node, node.target.value
            ):
                self._flag_set_list(node.iter, _IDS)
            return
        var = node.target.value
        if self._loop_builds_ids(node, var):
            self._flag(node.iter, _IDS, None)

    def _flag_list_of(self, expr: cst.CSTNode, what: str) -> None:
        """``list(S)`` (or a name bound once to it) used where its order matters."""
        self._flag_set_list(expr, what)
        if isinstance(expr, cst.Call) and self.ctx.qualname(expr.func) == "builtins.list":
            pos = positional_args(expr)
            if len(pos) == 1 and len(expr.args) == 1:
                self._flag(pos[0].value, what, self._list_fix(expr, pos[0].value))

    def _flag_pick(self, expr: cst.CSTNode, what: str, fix: Fix | None = None) -> None:
        """Taking one element (``S.pop()``, ``next(iter(S))``, ``list(S)[0]``) is usually the
        extraction of the only element of a set known to hold one: only a named set whose size
        is never compared in the scope is flagged."""
        if not isinstance(expr, cst.Name) or not self._candidate(expr):
            return
        if size_checked(self.ctx, expr.value):
            return
        self._flag(expr, what, fix)

    def _flag(self, expr: cst.CSTNode, what: str, fix: Fix | None) -> None:
        if not self._candidate(expr):
            return
        shown = self.ctx.snippet(expr, 50)
        self.report(
            expr,
            f"Iteration order of set '{shown}' differs between processes for str elements "
            f"(hash randomisation); {what} from run to run — use "
            "sorted(...) or dict.fromkeys(...)",
            fix,
        )

    # -- names bound to a list in set order ---------------------------------------------
    def _set_list(self, expr: cst.CSTNode) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
        """``labels`` bound once to ``list(S)``, ``[*S]`` or ``list({...})`` (S a set that is
        not provably of ints) and never sorted in place: (the binding's value, S)."""
        if not isinstance(expr, cst.Name):
            return None
        ctx = self.ctx
        bindings = ctx.bindings(expr.value)
        if len(bindings) != 1:
            return None
        b = bindings[0]
        value = b.value
        if b.kind != "assign" or b.unpacked or value is None or b.scope is None:
            return None
        inner: cst.BaseExpression | None = None
        if isinstance(value, cst.Call) and ctx.qualname_in(value.func, b.scope) == "builtins.list":
            pos = positional_args(value)
            if len(pos) == 1 and len(value.args) == 1:
                inner = pos[0].value
        elif (
            isinstance(value, cst.List)
            and len(value.elements) == 1
            and isinstance(value.elements[0], cst.StarredElement)
        ):
            inner = value.elements[0].value
        if inner is None or not self._candidate(inner):
            return None
        if id(b.scope.node) not in self._unsorted_checked:
            self._unsorted_checked[id(b.scope.node)] = _sorted_in_place(b.scope.node)
        if expr.value in self._unsorted_checked[id(b.scope.node)]:
            return None
        return value, inner

    def _flag_set_list(self, expr: cst.CSTNode, what: str) -> None:
        """Report at the set inside the binding of ``expr`` (once), with the fix
        ``labels = sorted(S)``."""
        found = self._set_list(expr)
        if found is None:
            return
        value, inner = found
        if id(inner) in self._set_list_reported:
            return
        self._set_list_reported.add(id(inner))
        assert isinstance(expr, cst.Name)
        fix = None
        if self.ctx.qualname(cst.Name("sorted")) == "builtins.sorted":
            code = self.ctx.code(inner).strip()
            if "\n" not in code and "#" not in code:
                fix = Fix(FixSafety.UNSAFE, [(value, f"sorted({code})")])
        shown = self.ctx.snippet(inner, 50)
        self.report(
            inner,
            f"Iteration order of set '{shown}' differs between processes for str elements "
            f"(hash randomisation); {what.replace(' from it', f' from it (as {expr.value!r})')} "
            "from run to run — use sorted(...) or dict.fromkeys(...)",
            fix,
        )

    # -- loops that number their elements -----------------------------------------------
    def _loop_builds_ids(self, loop: cst.For, var: str) -> bool:
        counters: set[str] = set()
        id_assigns: list[cst.Assign] = []
        appended: set[str] = set()
        for sub in iter_descendants(loop.body, into_scopes=False):
            if isinstance(sub, cst.AugAssign) and isinstance(sub.operator, cst.AddAssign):
                if isinstance(sub.target, cst.Name) and isinstance(sub.value, cst.Integer):
                    counters.add(sub.target.value)
            elif isinstance(sub, cst.Assign):
                id_assigns.append(sub)
            elif (
                isinstance(sub, cst.Call)
                and isinstance(sub.func, cst.Attribute)
                and sub.func.attr.value == "append"
                and isinstance(sub.func.value, cst.Name)
            ):
                appended.add(sub.func.value.value)
        for assign in id_assigns:
            for t in assign.targets:
                target = t.target
                if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name)):
                    continue
                if len(target.slice) != 1 or not isinstance(target.slice[0].slice, cst.Index):
                    continue
                key = target.slice[0].slice.value
                if not (isinstance(key, cst.Name) and key.value == var):
                    continue
                value = assign.value
                if (
                    isinstance(value, cst.Call)
                    and self.ctx.qualname(value.func) == "builtins.len"
                    and len(value.args) == 1
                    and isinstance(value.args[0].value, cst.Name)
                    and value.args[0].value.value == target.value.value
                ):
                    return True
                if isinstance(value, cst.Name) and value.value in counters:
                    return True
        if appended:
            finfo = self.ctx.enclosing_function()
            if finfo is not None:
                for sub in iter_descendants(finfo.node.body, into_scopes=False):
                    if (
                        isinstance(sub, cst.Return)
                        and isinstance(sub.value, cst.Name)
                        and sub.value.value in appended
                    ):
                        return True
        return False

    # -- fixes -----------------------------------------------------------------------------
    def _sorted_fix(self, expr: cst.CSTNode) -> Fix | None:
        if self.ctx.qualname(cst.Name("sorted")) != "builtins.sorted":
            return None
        code = self.ctx.code(expr).strip()
        if "\n" in code or "#" in code:
            return None
        return Fix(FixSafety.UNSAFE, [(expr, f"sorted({code})")])

    def _list_fix(self, list_call: cst.Call, expr: cst.CSTNode) -> Fix | None:
        if self.ctx.qualname(cst.Name("sorted")) != "builtins.sorted":
            return None
        code = self.ctx.code(expr).strip()
        if "\n" in code or "#" in code:
            return None
        return Fix(FixSafety.UNSAFE, [(list_call, f"sorted({code})")])


def _sorted_in_place(scope_node: cst.CSTNode) -> set[str]:
    """Names ``n`` with an ``n.sort(...)`` call in the scope (nested scopes included)."""
    return {
        sub.func.value.value
        for sub in iter_descendants(scope_node)
        if isinstance(sub, cst.Call)
        and isinstance(sub.func, cst.Attribute)
        and sub.func.attr.value == "sort"
        and isinstance(sub.func.value, cst.Name)
    }


def _is_keys_call(expr: cst.CSTNode) -> bool:
    return (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value == "keys"
        and not expr.args
    )


def _int_literal(expr: cst.CSTNode) -> bool:
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        expr = expr.expression
    return isinstance(expr, cst.Integer)


def _iter_is_range(ctx: FileContext, expr: cst.CSTNode) -> bool:
    """``range(...)`` or ``np.arange(...)`` (integer arguments), directly or through a name
    bound only to one."""
    if isinstance(expr, cst.Name):
        bindings = ctx.bindings(expr.value)
        return bool(bindings) and all(
            b.kind == "assign"
            and not b.unpacked
            and b.value is not None
            and isinstance(b.value, cst.Call)
            and _iter_is_range(ctx, b.value)
            for b in bindings
        )
    if not isinstance(expr, cst.Call):
        return False
    q = ctx.qualname(expr.func)
    if q == "builtins.range":
        return True
    return q == "numpy.arange" and all(
        isinstance(a.value, (cst.Integer, cst.Name, cst.Subscript, cst.Attribute, cst.Call))
        and not isinstance(a.value, cst.Float)
        and a.keyword is None
        for a in expr.args
    )


def _is_loop_var(elt: cst.CSTNode, comp: cst.CompFor) -> bool:
    return (
        isinstance(elt, cst.Name)
        and isinstance(comp.target, cst.Name)
        and elt.value == comp.target.value
        and comp.inner_for_in is None
    )
