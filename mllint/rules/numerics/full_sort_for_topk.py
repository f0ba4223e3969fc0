"""ML913 full-sort-for-topk."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, int_literal
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.numerics.float_equality import _calls_named, _imports_of
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg, int_value, positional_args


def _slice(sub: cst.Subscript) -> cst.Slice | None:
    if len(sub.slice) != 1:
        return None
    s = sub.slice[0].slice
    return s if isinstance(s, cst.Slice) else None


def _is_head(s: cst.Slice) -> bool:
    """``[:k]`` / ``[0:k]``."""
    return (s.lower is None or int_value(s.lower) == 0) and s.upper is not None and s.step is None


def _is_tail(s: cst.Slice) -> bool:
    """``[-k:]``."""
    if s.upper is not None or s.step is not None or s.lower is None:
        return False
    low = s.lower
    return isinstance(low, cst.UnaryOperation) and isinstance(low.operator, cst.Minus)


def _is_reverse(s: cst.Slice | None) -> bool:
    return (
        s is not None
        and s.lower is None
        and s.upper is None
        and s.step is not None
        and int_value(s.step) == -1
    )


def _true(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "True"


class FullSortForTopk(Rule):
    """
    ## What it does
    Flags sorting a whole sequence to keep its first k items: `sorted(x, ...)[:k]`,
    `np.argsort(a)[::-1][:k]`, `np.argsort(a)[-k:]`, `np.argsort(-a)[:k]`,
    `np.sort(a)[-k:]` (and the `a.argsort()` / `a.sort()` method forms of NumPy arrays),
    `torch.sort(x, descending=True)[0][:k]` and `x.argsort(descending=True)[:k]`.

    ## Why is this bad?
    A full sort costs O(n log n). `heapq.nlargest`/`nsmallest` cost O(n log k),
    `np.argpartition` is O(n), and `torch.topk` avoids the full sort. The difference matters
    when n is much larger than k (ranking millions of candidates to keep ten).

    ## Example
    ```python
    best = sorted(scores, key=lambda s: s.auc, reverse=True)[:10]
    top = np.argsort(probs)[::-1][:5]
    ```

    ## Use instead
    ```python
    best = heapq.nlargest(10, scores, key=lambda s: s.auc)
    part = np.argpartition(probs, -5)[-5:]
    top = part[np.argsort(probs[part])[::-1]]
    ```

    ## Fix safety
    `sorted(x, key=f, reverse=True)[:k]` becomes `heapq.nlargest(k, x, key=f)` and
    `sorted(x, key=f)[:k]` becomes `heapq.nsmallest(k, x, key=f)` (adding `import heapq`).
    The fix is safe when `k` is a non-negative integer literal and `reverse` is absent or a
    literal: the `heapq` documentation defines these functions as equivalent to the
    sorted-and-sliced forms, ties included. It is unsafe when `k` is an expression (a
    negative `k` slices differently). The NumPy and PyTorch forms have no fix:
    `np.argpartition` returns the top k unordered.
    """

    code = "ML913"
    name = "full-sort-for-topk"
    summary = "Sorting everything to take the top k"
    tier = 2
    default_enabled = False
    fix_safety = (FixSafety.SAFE, FixSafety.UNSAFE)
    requires_text = ("sort",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a head `[:k]`/`[0:k]` or tail `[-k:]` slice of a call that may be sorted,
        # np.sort/np.argsort/torch.sort or `.argsort(...)`, directly or, for a head, through
        # one more subscript (`np.argsort(a)[::-1][:k]`, `torch.sort(x, ...)[0][:k]`)
        sorts = _imports_of(scan, facts)
        calls = {
            id(c)
            for c in _calls_named(scan, _AST_SORT_NAMES)
            if (isinstance(c.func, ast.Attribute) and c.func.attr == "argsort")
            or sorts.may_be(c.func, _AST_SORT_QUALNAMES)
        }
        if not calls:
            return False
        for sub in scan.of(ast.Subscript):
            s = sub.slice
            if not isinstance(s, ast.Slice) or s.step is not None:
                continue
            head = s.upper is not None and (s.lower is None or int_literal(s.lower) == 0)
            tail = (
                s.upper is None
                and isinstance(s.lower, ast.UnaryOp)
                and isinstance(s.lower.op, ast.USub)
            )
            if not (head or tail):
                continue
            value = sub.value
            if id(value) in calls:
                return True  # sorted(x)[:k], np.argsort(a)[-k:], x.argsort(...)[:k]
            if head and isinstance(value, ast.Subscript) and id(value.value) in calls:
                return True  # np.argsort(a)[::-1][:k], torch.sort(x, ...)[0][:k]
        return False

    def visit_Subscript(self, node: cst.Subscript) -> None:
        s = _slice(node)
        if s is None:
            return
        value = node.value
        if (
            isinstance(value, cst.Call)
            and _is_head(s)
            and self.ctx.qualname(value.func) == "builtins.sorted"
        ):
            self._sorted(node, value, s)
            return
        np_call = self._numpy_sort(value, s)
        if np_call is not None:
            k = self._k_text(s)
            self.report(
                node,
                f"Sorting all len({self.ctx.snippet(np_call, 30)}) items to keep {k}: use "
                "np.argpartition",
            )
            return
        if _is_head(s):
            sorted_x = self._torch_sort(value)
            if sorted_x is not None:
                self.report(
                    node,
                    f"Sorting all len({self.ctx.snippet(sorted_x, 30)}) items to keep "
                    f"{self._k_text(s)}: use torch.topk",
                )

    def _k_text(self, s: cst.Slice) -> str:
        if s.upper is not None:
            return self.ctx.snippet(s.upper, 20)
        low = s.lower
        if isinstance(low, cst.UnaryOperation):
            return self.ctx.snippet(low.expression, 20)
        return "k"

    # -- sorted(...)[:k] -----------------------------------------------------------------------
    def _sorted(self, node: cst.Subscript, call: cst.Call, s: cst.Slice) -> None:
        pos = positional_args(call)
        if len(pos) != 1 or any(
            a.keyword is not None and a.keyword.value not in ("key", "reverse") for a in call.args
        ):
            return
        reverse = call_arg(call, "reverse")
        if reverse is None:
            which: str | None = "nsmallest"
        elif _true(reverse.value):
            which = "nlargest"
        elif isinstance(reverse.value, cst.Name) and reverse.value.value == "False":
            which = "nsmallest"
        else:
            which = None
        assert s.upper is not None
        k = s.upper
        shown = f"heapq.{which}" if which else "heapq.nlargest / heapq.nsmallest"
        self.report(
            node,
            f"Sorting all len({self.ctx.snippet(pos[0].value, 30)}) items to keep "
            f"{self.ctx.snippet(k, 20)}: use {shown}",
            self._fix(node, call, pos[0].value, k, which),
        )

    def _fix(
        self,
        node: cst.Subscript,
        call: cst.Call,
        x: cst.BaseExpression,
        k: cst.BaseExpression,
        which: str | None,
    ) -> Fix | None:
        if which is None:
            return None
        kv = int_value(k)
        safety = FixSafety.SAFE if kv is not None and kv >= 0 else FixSafety.UNSAFE
        if kv is not None and kv < 0:
            return None
        plan = self.ctx.import_name("heapq", which)
        if plan is None:
            return None
        key = call_arg(call, "key")
        parts = [self.ctx.code(k).strip(), self.ctx.code(x).strip()]
        if key is not None:
            parts.append(f"key={self.ctx.code(key.value).strip()}")
        if any("\n" in p for p in parts):
            return None
        text = f"{plan.local}({', '.join(parts)})"
        return Fix(safety, [(node, text)], [plan])

    # -- NumPy ----------------------------------------------------------------------------------
    def _numpy_sort(self, value: cst.BaseExpression, s: cst.Slice) -> cst.CSTNode | None:
        """The sorted array expression for the NumPy top-k shapes."""
        if not self.ctx.imports("numpy"):
            return None
        # np.argsort(a)[::-1][:k]
        if _is_head(s) and isinstance(value, cst.Subscript) and _is_reverse(_slice(value)):
            inner = self._argsort_operand(value.value, allow_sort=False)
            if inner is not None:
                return inner
        # np.argsort(a)[-k:] / np.sort(a)[-k:]
        if _is_tail(s):
            inner = self._argsort_operand(value, allow_sort=True)
            if inner is not None:
                return inner
        # np.argsort(-a)[:k]
        if _is_head(s):
            inner = self._argsort_operand(value, allow_sort=False)
            if isinstance(inner, cst.UnaryOperation) and isinstance(inner.operator, cst.Minus):
                return inner.expression
        return None

    def _argsort_operand(
        self, call: cst.BaseExpression, allow_sort: bool
    ) -> cst.BaseExpression | None:
        if not isinstance(call, cst.Call):
            return None
        q = self.ctx.qualname(call.func)
        names = ("numpy.argsort", "numpy.sort") if allow_sort else ("numpy.argsort",)
        if q in names:
            pos = positional_args(call)
            if len(pos) == 1 and len(call.args) == 1:
                return pos[0].value
            return None
        # `a.sort()` sorts in place and returns None: only argsort has a method form
        if (
            q is None
            and isinstance(call.func, cst.Attribute)
            and not call.args
            and call.func.attr.value == "argsort"
        ):
            recv = call.func.value
            if self.ctx.kind(recv) == K.NDARRAY:
                return recv
            if isinstance(recv, cst.UnaryOperation) and self.ctx.kind(recv.expression) == K.NDARRAY:
                return recv
        return None

    # -- torch ----------------------------------------------------------------------------------
    def _torch_sort(self, value: cst.BaseExpression) -> cst.BaseExpression | None:
        """The tensor sorted in descending order by ``value``, for the torch top-k shapes."""
        if not self.ctx.imports("torch"):
            return None
        # torch.sort(x, descending=True)[0]
        if isinstance(value, cst.Subscript) and len(value.slice) == 1:
            idx = value.slice[0].slice
            inner = value.value
            if (
                isinstance(idx, cst.Index)
                and int_value(idx.value) == 0
                and isinstance(inner, cst.Call)
                and self.ctx.qualname(inner.func) == "torch.sort"
            ):
                d = call_arg(inner, "descending")
                pos = positional_args(inner)
                if d is not None and _true(d.value) and pos:
                    return pos[0].value
            return None
        # x.argsort(descending=True) / torch.argsort(x, descending=True)
        if (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Attribute)
            and value.func.attr.value == "argsort"
        ):
            q = self.ctx.qualname(value.func)
            d = call_arg(value, "descending")
            if d is None or not _true(d.value):
                return None
            if q is None:
                return value.func.value
            pos = positional_args(value)
            if q == "torch.argsort" and pos:
                return pos[0].value
        return None


_AST_SORT_NAMES = frozenset({"sorted", "sort", "argsort"})
_AST_SORT_QUALNAMES = frozenset(
    {"builtins.sorted", "numpy.argsort", "numpy.sort", "torch.sort", "torch.argsort"}
)
