"""ML508 set-order-dependent-ids."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import libcst as cst

from mllint.prescan import Scan, qualified_names, terminal_name, walk
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.sklearn.unseeded_split import (
    _unstar,
    _walk_local,
)
from mllint.semantics import kinds as K
from mllint.semantics.cstutil import positional_args, string_value
from mllint.semantics.size_checks import size_checked
from mllint.semantics.walk import iter_descendants

if TYPE_CHECKING:
    from mllint.semantics.context import FileContext, FileFacts

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

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a set-shaped expression (display, set()/frozenset(), set operation, a name that may
        # be bound to one, or a name bound to list(<set>)/[*<set>]) in one of the
        # order-sensitive positions the rule checks
        return _SetGate(scan, facts).run()

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


# -- the ast pre-scan -------------------------------------------------------------------------
_AST_SET_OPS = (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor)
_SET_WORDS = frozenset({"set", "frozenset", "Set"})
_BUILTIN_SETS = frozenset({"builtins.set", "builtins.frozenset"})
#: assigned values _SetGate._collect looks at besides calls
_BINDING_VALUES = frozenset({ast.Name, ast.Attribute, ast.BinOp, ast.Set, ast.SetComp, ast.List})
_USE_CALLS = frozenset(
    {"enumerate", "zip", "next", "choice", "array", "asarray", "dump", "dumps", "save"}
)


class _SetGate:
    """Names that may hold a set (``kinds``: a binding from a set display, ``set(...)``, a
    set operation, another such name or ``self.<attr>``, or a ``set``/``Set`` annotation), and
    the order-sensitive uses of the rule over them. Errs towards "maybe" everywhere."""

    def __init__(self, scan: Scan, facts: FileFacts) -> None:
        self.scan = scan
        self.bindings = scan.import_bindings(facts.package)
        names = scan.names() | scan.attrs()
        self.set_words = scan.import_aliases(_SET_WORDS)
        #: callee names that may resolve to builtins.set/frozenset
        self.set_callees = scan.import_aliases(frozenset({"set", "frozenset"}))
        #: callee names that may resolve to builtins.list
        self.list_callees = scan.import_aliases(frozenset({"list"}))
        self.annotations_name_sets = bool(self.set_words & names) or self._string_annotations()
        self.sets: set[str] = set()
        self.set_lists: set[str] = set()

    def _string_annotations(self) -> bool:
        anns: list[ast.expr | None] = [a.annotation for a in self.scan.of(ast.arg)]
        anns.extend(a.annotation for a in self.scan.of(ast.AnnAssign))
        for ann in anns:
            if ann is None or isinstance(ann, (ast.Name, ast.Attribute)):
                continue
            for n in walk(ann):
                if _ast_mentions_set(n):
                    return True
        return False

    def setish(self, expr: ast.AST | None, depth: int = 0) -> bool:
        if expr is None or depth > 6:
            return False
        if isinstance(expr, (ast.Set, ast.SetComp)):
            return True
        if isinstance(expr, ast.Name):
            return expr.id in self.sets
        if isinstance(expr, ast.Call):
            # `set(...)`/`frozenset(...)` unbound (builtins) or through an import
            func = expr.func
            if isinstance(func, ast.Name):
                if func.id in ("set", "frozenset"):
                    return True
                if func.id not in self.set_callees:
                    return False
            elif not (isinstance(func, ast.Attribute) and func.attr in ("set", "frozenset")):
                return False
            return not _BUILTIN_SETS.isdisjoint(qualified_names(func, self.bindings))
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, _AST_SET_OPS):
            return any(
                self.setish(side, depth + 1) or _ast_keys_call(side)
                for side in (expr.left, expr.right)
            )
        return False

    def _annotated_set(self, ann: ast.expr | None) -> bool:
        if ann is None or not self.annotations_name_sets:
            return False
        for n in walk(ann):
            if isinstance(n, ast.Name) and n.id in self.set_words:
                return True
            if isinstance(n, ast.Attribute) and n.attr in self.set_words:
                return True
            if _ast_mentions_set(n):
                return True
        return False

    def _bind(self, target: ast.expr) -> bool:
        """Names and attributes share one set: a class-level ``x: set[str]`` is read as
        ``self.x``, and a name bound from ``self.x`` takes its kind."""
        key = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
        if key is None or key in self.sets:
            return False
        self.sets.add(key)
        return True

    def _collect(self) -> None:
        scan = self.scan
        if self.annotations_name_sets:
            for a in scan.of(ast.arg):
                if a.annotation is not None and self._annotated_set(a.annotation):
                    self.sets.add(a.arg)
        # values that depend on other bindings are revisited until nothing changes
        dependent: list[tuple[ast.expr, ast.expr]] = []
        #: (name, S) for `name = <call>(S)` / `name = [*S]`
        listed: list[tuple[str, ast.expr]] = []

        def consider(target: ast.expr, value: ast.expr) -> None:
            if not isinstance(target, (ast.Name, ast.Attribute)):
                return
            if isinstance(value, (ast.Name, ast.Attribute, ast.BinOp)):
                dependent.append((target, value))
            elif isinstance(value, ast.Call):
                if self.setish(value):
                    self._bind(target)
                elif (
                    isinstance(target, ast.Name)
                    and len(value.args) == 1
                    and not value.keywords
                    and terminal_name(value.func) in self.list_callees
                ):
                    listed.append((target.id, value.args[0]))
            elif isinstance(value, (ast.Set, ast.SetComp)):
                self._bind(target)
            elif (
                isinstance(value, ast.List)
                and isinstance(target, ast.Name)
                and len(value.elts) == 1
                and isinstance(value.elts[0], ast.Starred)
            ):
                listed.append((target.id, value.elts[0].value))

        set_callees = self.set_callees
        for assign in scan.of(ast.Assign):
            value = assign.value
            if type(value) is ast.Call:
                # the common case, kept cheap: only set(...) and one-argument calls matter
                func = value.func
                callee = func.id if type(func) is ast.Name else getattr(func, "attr", None)
                if callee not in set_callees and len(value.args) != 1:
                    continue
            elif type(value) not in _BINDING_VALUES:
                continue
            for t in assign.targets:
                consider(t, value)
        for named in scan.of(ast.NamedExpr):
            consider(named.target, named.value)
        for ann in scan.of(ast.AnnAssign):
            if self._annotated_set(ann.annotation):
                self._bind(ann.target)
            elif ann.value is not None:
                consider(ann.target, ann.value)
        changed = bool(dependent)
        rounds = 0
        while changed and rounds < 8:
            changed = False
            rounds += 1
            for target, value in dependent:
                if self.setish(value) or (
                    isinstance(value, ast.Attribute) and value.attr in self.sets
                ):
                    changed = self._bind(target) or changed
        for name, inner in listed:
            if self.setish(inner):
                self.set_lists.add(name)

    def run(self) -> bool:
        scan = self.scan
        if not (
            scan.has(ast.Set, ast.SetComp)
            or self.annotations_name_sets
            or any(
                isinstance(b.op, _AST_SET_OPS)
                and (_ast_keys_call(b.left) or _ast_keys_call(b.right))
                for b in scan.of(ast.BinOp)
            )
        ):
            return False
        self._collect()
        return self._uses()

    def _listish(self, expr: ast.expr) -> bool:
        """``list(<set>)`` or a name bound to one (``_flag_list_of``)."""
        if isinstance(expr, ast.Name):
            return expr.id in self.set_lists
        return isinstance(expr, ast.Call) and len(expr.args) == 1 and self.setish(expr.args[0])

    def _uses(self) -> bool:
        scan = self.scan
        setish, listish = self.setish, self._listish
        for k in scan.of(ast.keyword):
            if k.arg in _ORDER_KEYWORDS and listish(k.value):
                return True
        for call in scan.calls(*scan.import_aliases(_USE_CALLS)):
            pos = [a for a in call.args if not isinstance(a, ast.Starred)]
            if any(setish(a) or listish(a) for a in pos):
                return True
            if pos and isinstance(pos[0], ast.Call):
                inner = [a for a in pos[0].args if not isinstance(a, ast.Starred)]
                if inner and setish(inner[0]):
                    return True  # next(iter(S))
        for call in scan.calls("index", "pop", "join"):
            func = call.func
            if not isinstance(func, ast.Attribute):
                continue
            recv = func.value
            name = func.attr
            if name == "index" and isinstance(recv, ast.Name) and recv.id in self.set_lists:
                return True
            if name == "pop" and setish(recv):
                return True
            if name == "join" and any(
                setish(a) for a in call.args if not isinstance(a, ast.Starred)
            ):
                return True
        list_calls = {
            id(c)
            for c in scan.calls(*scan.import_aliases(frozenset({"list", "tuple"})))
            if len(c.args) == 1 and setish(c.args[0])
        }
        if not (self.set_lists or list_calls):
            return self._loops()
        for sub in scan.of(ast.Subscript):
            value = sub.value
            if isinstance(value, ast.Name) and value.id in self.set_lists:
                key = sub.slice
                if not (
                    isinstance(key, ast.Constant)
                    and isinstance(key.value, int)
                    and not isinstance(key.value, bool)
                ) and not (
                    isinstance(key, ast.UnaryOp)
                    and isinstance(key.op, ast.USub)
                    and isinstance(key.operand, ast.Constant)
                    and isinstance(key.operand.value, int)
                    and not isinstance(key.operand.value, bool)
                ):
                    return True
            if id(value) in list_calls:
                return True
        return self._loops()

    def _loops(self) -> bool:
        scan, setish = self.scan, self.setish
        returned: set[str] | None = None
        for loop in scan.of(ast.For, ast.AsyncFor):
            if isinstance(loop.target, ast.Name) and (
                setish(loop.iter)
                or (isinstance(loop.iter, ast.Name) and loop.iter.id in self.set_lists)
            ):
                if returned is None:
                    returned = {
                        r.value.id for r in scan.of(ast.Return) if isinstance(r.value, ast.Name)
                    }
                if _ast_loop_builds_ids(loop, loop.target.id, returned):
                    return True
        return False


def _ast_loop_builds_ids(loop: ast.For | ast.AsyncFor, var: str, returned: set[str]) -> bool:
    """:meth:`SetOrderDependentIds._loop_builds_ids`, with ``returned`` the names some
    ``return`` of the file returns (the rule looks in the enclosing function only)."""
    counters: set[str] = set()
    id_assigns: list[ast.Assign] = []
    for sub in _walk_local(loop.body):
        if isinstance(sub, ast.AugAssign) and isinstance(sub.op, ast.Add):
            if isinstance(sub.target, ast.Name) and isinstance(sub.value, ast.Constant):
                counters.add(sub.target.id)
        elif isinstance(sub, ast.Assign):
            id_assigns.append(sub)
        elif (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr == "append"
            and isinstance(sub.func.value, ast.Name)
            and sub.func.value.id in returned
        ):
            return True
    for assign in id_assigns:
        for target in assign.targets:
            if not (
                isinstance(target, ast.Subscript)
                and isinstance(target.value, ast.Name)
                and isinstance(target.slice, ast.Name)
                and target.slice.id == var
            ):
                continue
            value = assign.value
            if isinstance(value, ast.Name) and value.id in counters:
                return True
            if (
                isinstance(value, ast.Call)
                and len(value.args) == 1
                and isinstance(arg := _unstar(value.args[0]), ast.Name)
                and arg.id == target.value.id
            ):
                return True  # d[x] = len(d)
    return False


def _ast_mentions_set(node: ast.AST) -> bool:
    """A string (annotation) that may name ``set``/``Set``."""
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and "set" in node.value.lower()
    )


def _ast_keys_call(expr: ast.AST) -> bool:
    return (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr == "keys"
        and not expr.args
        and not expr.keywords
    )


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
