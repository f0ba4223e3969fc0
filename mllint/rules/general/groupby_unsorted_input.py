"""ML901 groupby-unsorted-input."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import (
    attr_name,
    call_arg,
    cst_equal,
    expression_names,
    identifier_tokens,
    is_string_like,
    iter_names_in_target,
    string_value,
)
from mllint.semantics.scopes import Scope
from mllint.semantics.walk import iter_descendants

#: calls whose result is sorted (by their ``key=``, when they take one)
_SORTING_CALLS = frozenset(
    {"builtins.sorted", "numpy.unique", "numpy.sort", "heapq.nsmallest", "heapq.nlargest"}
)
_SORTING_METHODS = frozenset({"sort_values", "sort_index"})
_ORDER_PRESERVING = frozenset(
    {"itertuples", "iterrows", "items", "tolist", "to_list", "to_numpy", "to_records"}
)
_GETTERS = frozenset({"operator.itemgetter", "operator.attrgetter"})
#: identifiers that announce run-length grouping (consecutive runs are the point)
_RLE_TOKENS = frozenset({"runs", "rle", "consecutive", "streak", "streaks"})
#: iterables whose consecutive runs are the point (`groupby(enumerate(xs), key=...)` finds
#: runs of consecutive integers; `range` is already ordered)
_RUN_SOURCES = frozenset({"builtins.enumerate", "builtins.range"})
_PARAM = "__mllint_key_param__"
_WORD_RE = re.compile(r"[A-Za-z_]+")


class _Rename(cst.CSTTransformer):
    def __init__(self, old: str) -> None:
        super().__init__()
        self.old = old

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        if updated_node.value == self.old:
            return updated_node.with_changes(value=_PARAM)
        return updated_node


class GroupbyUnsortedInput(Rule):
    """
    ## What it does
    Flags `itertools.groupby(iterable, key=...)` (keyword or positional key) when the iterable
    is not visibly sorted: it is not a `sorted(...)` call, not `np.unique(...)`/`np.sort(...)`/
    `heapq.nsmallest(...)`/`.sort_values(...)` (or `.itertuples()`/`.values`/`.tolist()` of
    one), not a name whose every binding in the scope is one of those (or whose last
    top-level rebinding before the call is, as in `data = sorted(data, key=k)` at the top of
    a function), not a name that had `.sort(...)` called on it earlier in the scope, and not a name or a call of a function
    whose name says it is sorted (`sorted_rows`, `natsorted(...)`). When the input is sorted with
    a lambda/`itemgetter`/`attrgetter` key and `groupby` uses such a key too, the two keys must
    be the same expression (after renaming the lambda parameter; `itemgetter(0)` counts as
    `lambda r: r[0]`).

    Run-length grouping is legitimate and never flagged: a string (literal or `str` kind)
    input, `enumerate(...)`/`range(...)` inputs (runs of consecutive integers, chunking), and
    code whose names mention `runs`, `rle`, `consecutive` or `streak` (the iterable, the key,
    the loop targets or the enclosing function, or a comment on the statement's own or
    preceding lines). `groupby(xs)` without a key is not checked.

    ## Why is this bad?
    Unlike SQL `GROUP BY` or `DataFrame.groupby`, `itertools.groupby` only groups
    *consecutive* elements with equal keys: `groupby(["a", "b", "a"])` yields three groups
    `a, b, a`. On unsorted input one label produces several groups, and a dict built from
    the groups silently keeps only the last one.

    ## Example
    ```python
    for label, rows in itertools.groupby(records, key=get_label):
        per_label[label] = list(rows)
    ```

    ## Use instead
    ```python
    for label, rows in itertools.groupby(sorted(records, key=get_label), key=get_label):
        per_label[label] = list(rows)
    ```

    Or collect with a `collections.defaultdict(list)` (no sort needed), or use pandas
    `DataFrame.groupby`.

    ## Fix safety
    Unsafe: the iterable is wrapped as `sorted(<iterable>, key=<key>)` when the key is a name
    or an attribute (a lambda or a call is not repeated). This materialises the whole input,
    costs O(n log n), raises `TypeError` when the keys are not orderable, and changes the
    result when the run-by-run grouping was intended. No fix when the iterable is already a
    `sorted(...)` call with a different key, or when `sorted` is rebound in the file.
    """

    code = "ML901"
    name = "groupby-unsorted-input"
    summary = "`itertools.groupby` over input that is not visibly sorted by the same key"
    tier = 2
    default_enabled = False
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("groupby",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # itertools imported (possibly relatively), and `groupby(it, key)` /
        # `<module>.groupby(it, key=...)` / `<alias>(...)` with a key argument
        if not any("itertools" in m for m in scan.imported_modules()):
            return False
        names = {"groupby"}
        for imp in scan.of(ast.ImportFrom, ast.Import):
            for a in imp.names:
                if a.asname is not None and a.name.rpartition(".")[2] == "groupby":
                    names.add(a.asname)
        for call in scan.calls(*names):
            if isinstance(call.func, ast.Attribute) and call.func.attr != "groupby":
                continue
            if len(call.args) >= 2 or any(kw.arg == "key" for kw in call.keywords):
                return True
        return False

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.qualname(node.func) != "itertools.groupby":
            return
        it_arg = call_arg(node, "iterable", 0)
        key_arg = call_arg(node, "key", 1)
        if it_arg is None or key_arg is None or it_arg.star or key_arg.star:
            return
        it, key = it_arg.value, key_arg.value
        if isinstance(key, cst.Name) and key.value == "None":
            return
        if self._run_length(node, it, key):
            return
        sorted_key = self._sorted_by(node, it)
        if sorted_key is not None and not _keys_differ(self, sorted_key, key):
            return
        self.report(
            node,
            f"itertools.groupby only groups consecutive equal keys; '{self.ctx.snippet(it)}' is "
            "not sorted by the same key here, so one key can produce several groups",
            self._fix(it, key, sorted_key is not None),
        )

    # -- never flag ----------------------------------------------------------------------
    def _run_length(self, call: cst.Call, it: cst.BaseExpression, key: cst.BaseExpression) -> bool:
        if is_string_like(it) or self.ctx.kind(it) == K.STR:
            return True
        if isinstance(it, cst.Call) and self.ctx.qualname(it.func) in _RUN_SOURCES:
            return True
        names = expression_names(it) | expression_names(key)
        for anc in reversed(self.ctx.stack[:-1]):
            if isinstance(anc, (cst.For, cst.CompFor)):
                names |= {n.value for n in iter_names_in_target(anc.target)}
            elif isinstance(anc, cst.Assign):
                for t in anc.targets:
                    names |= {n.value for n in iter_names_in_target(t.target)}
            elif isinstance(anc, cst.FunctionDef):
                names.add(anc.name.value)
        if any(_rle_name(n) for n in names):
            return True
        stmt = self.ctx.statement()
        if stmt is None:
            return False
        comments = [
            line.comment.value for line in getattr(stmt, "leading_lines", ()) if line.comment
        ]
        trailing = getattr(stmt, "trailing_whitespace", None)
        if trailing is not None and trailing.comment is not None:
            comments.append(trailing.comment.value)
        body = getattr(stmt, "body", None)
        if isinstance(body, cst.IndentedBlock) and body.header.comment is not None:
            comments.append(body.header.comment.value)
        return any(_rle_name(w) for c in comments for w in _WORD_RE.findall(c))

    # -- sortedness ----------------------------------------------------------------------
    def _sorted_by(
        self, call: cst.Call, it: cst.BaseExpression
    ) -> cst.BaseExpression | bool | None:
        """None: not visibly sorted. Otherwise the sort key expression, or True when the
        sort key is unknown or absent (sorted, but nothing to compare)."""
        found = self._sorting_key(it, self.ctx.scope)
        if found is not None:
            return found
        if not isinstance(it, cst.Name):
            return None
        if _is_sorted_name(it.value):
            return True
        bindings = self.ctx.bindings(it.value)
        if bindings and all(
            b.kind in ("assign", "annassign") and not b.unpacked and b.value is not None
            for b in bindings
        ):
            keys = [
                self._sorting_key(b.value, b.scope or self.ctx.scope)
                for b in bindings
                if b.value is not None
            ]
            if all(k is not None for k in keys):
                return keys[0] if len(keys) == 1 else True
        if self._sorted_in_place_before(it.value, call):
            return True
        return self._rebound_sorted_before(it.value, call)

    def _rebound_sorted_before(self, name: str, call: cst.Call) -> cst.BaseExpression | bool | None:
        """`data = sorted(data, key=k)` as the last top-level rebinding of the name before
        the statement holding the call (a parameter sorted at the top of the function)."""
        home = self.ctx.function_scope() or self.ctx.model.module_scope
        body = getattr(home.node, "body", None)
        if isinstance(body, cst.IndentedBlock):
            stmts: Sequence[cst.BaseStatement] = body.body
        elif isinstance(home.node, cst.Module):
            stmts = home.node.body
        else:
            return None
        index = next(
            (
                i
                for i, st in enumerate(stmts)
                if any(n is call for n in iter_descendants(st, into_scopes=False))
            ),
            None,
        )
        if index is None:
            return None
        for st in reversed(stmts[:index]):
            if (
                isinstance(st, cst.SimpleStatementLine)
                and len(st.body) == 1
                and isinstance(st.body[0], cst.Assign)
                and len(st.body[0].targets) == 1
                and isinstance(st.body[0].targets[0].target, cst.Name)
                and st.body[0].targets[0].target.value == name
            ):
                return self._sorting_key(st.body[0].value, home)
            if name in _bound_names(st):
                return None
        return None

    def _sorting_key(
        self, expr: cst.BaseExpression, scope: Scope
    ) -> cst.BaseExpression | bool | None:
        # `df.sort_values(...).itertuples()`, `sorted_frame.values`: order-preserving views
        while True:
            if (
                isinstance(expr, cst.Call)
                and isinstance(expr.func, cst.Attribute)
                and expr.func.attr.value in _ORDER_PRESERVING
            ):
                expr = expr.func.value
            elif isinstance(expr, cst.Attribute) and expr.attr.value == "values":
                expr = expr.value
            else:
                break
        if isinstance(expr, cst.Name) and _is_sorted_name(expr.value):
            return True
        if not isinstance(expr, cst.Call):
            return None
        q = self.ctx.qualname_in(expr.func, scope)
        if q in _SORTING_CALLS:
            arg = call_arg(expr, "key")
            return arg.value if arg is not None else True
        if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _SORTING_METHODS:
            return True
        callee = attr_name(expr.func)
        if callee is not None and _is_sorted_name(callee):
            return True  # `sorted_by_time(events)`, `natsorted(paths)`
        return None

    def _sorted_in_place_before(self, name: str, call: cst.Call) -> bool:
        home = self.ctx.function_scope() or self.ctx.model.module_scope
        for n in iter_descendants(home.node, into_scopes=False):
            if n is call:
                return False
            if (
                isinstance(n, cst.Call)
                and isinstance(n.func, cst.Attribute)
                and n.func.attr.value == "sort"
                and isinstance(n.func.value, cst.Name)
                and n.func.value.value == name
            ):
                return True
        return False

    # -- fix -----------------------------------------------------------------------------
    def _fix(
        self, it: cst.BaseExpression, key: cst.BaseExpression, sorted_input: bool
    ) -> Fix | None:
        if sorted_input or self.ctx.bindings("sorted"):
            return None
        if not isinstance(key, (cst.Name, cst.Attribute)):
            return None
        text = f"sorted({self.ctx.code(it)}, key={self.ctx.code(key)})"
        return Fix(FixSafety.UNSAFE, [(it, text)])


def _bound_names(stmt: cst.CSTNode) -> set[str]:
    """Names (re)bound anywhere in the statement, not entering nested scopes."""
    out: set[str] = set()
    for n in (stmt, *iter_descendants(stmt, into_scopes=False)):
        if isinstance(
            n, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.CompFor, cst.NamedExpr)
        ):
            out |= {t.value for t in iter_names_in_target(n.target)}
        elif isinstance(n, cst.WithItem) and n.asname is not None:
            out |= {t.value for t in iter_names_in_target(n.asname.name)}
    return out


def _rle_name(identifier: str) -> bool:
    lowered = identifier.lower()
    if "runlength" in lowered or "run_length" in lowered:
        return True
    return any(t in _RLE_TOKENS for t in identifier_tokens(identifier))


def _is_sorted_name(identifier: str) -> bool:
    return any(t.endswith("sorted") for t in identifier_tokens(identifier))


def _keys_differ(rule: Rule, sort_key: cst.BaseExpression | bool, key: cst.BaseExpression) -> bool:
    """True only when both keys are lambdas/getters and are different expressions."""
    if isinstance(sort_key, bool):
        return False
    a = _as_lambda_body(rule, sort_key)
    b = _as_lambda_body(rule, key)
    if a is None or b is None:
        return False
    return not cst_equal(a, b)


def _as_lambda_body(rule: Rule, key: cst.BaseExpression) -> cst.BaseExpression | None:
    """The key as the body of a one-parameter lambda whose parameter is renamed to a fixed
    name; ``itemgetter(i)`` becomes ``p[i]`` and ``attrgetter("a")`` becomes ``p.a``."""
    if isinstance(key, cst.Lambda):
        params = key.params
        if len(params.params) != 1 or params.posonly_params or params.kwonly_params:
            return None
        if params.star_arg is not None and not isinstance(params.star_arg, cst.MaybeSentinel):
            return None
        old = params.params[0].name.value
        renamed = key.body.visit(_Rename(old))
        return renamed if isinstance(renamed, cst.BaseExpression) else None
    if isinstance(key, cst.Call) and rule.ctx.qualname(key.func) in _GETTERS:
        if len(key.args) != 1 or key.args[0].keyword is not None or key.args[0].star:
            return None
        p = cst.Name(_PARAM)
        if attr_name(key.func) == "itemgetter":
            return cst.Subscript(p, [cst.SubscriptElement(cst.Index(key.args[0].value))])
        dotted = string_value(key.args[0].value)
        if dotted is None or not all(part.isidentifier() for part in dotted.split(".")):
            return None
        out: cst.BaseExpression = p
        for part in dotted.split("."):
            out = cst.Attribute(out, cst.Name(part))
        return out
    return None
