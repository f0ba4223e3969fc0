"""ML204 subset-modified-without-copy."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.pandas.chained_assignment import (
    _assign_targets,
    _ast_is_mask,
    _imports_pandas,
    _inplace_calls,
    _maybe_frame,
)
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import iter_names_in_target
from mllint.semantics.kinds import is_mask_expression
from mllint.semantics.pandas_facts import (
    FRAME_NAME_PATTERN,
    INPLACE_METHODS,
    inplace_true_arg,
    is_frame,
    method_call,
    pandas_at_least,
    single_index,
)
from mllint.semantics.scopes import Binding

_WRITE_ACCESSORS = frozenset({"loc", "iloc", "at", "iat"})


@dataclass
class _Subset:
    value: cst.BaseExpression  # the creating expression
    base: cst.BaseExpression
    form: str  # mask | columns | query | loc | iloc
    reported: bool = False


class SubsetModifiedWithoutCopy(Rule):
    """
    ## What it does
    Flags the first write to a subset of a DataFrame that was created without `.copy()`:
    `s = df[mask]`, `s = df[["a", "b"]]`, `s = df[cols]` (with `cols` bound only to a list
    display, a list comprehension, `list(...)` or `.tolist()`), `s = df.loc[...]`,
    `s = df.iloc[...]` or `s = df.query(...)`, followed in the same scope (without rebinding `s`) by
    `s[key] = ...`, `s[key] += ...`, `s.loc/.iloc/.at/.iat[...] = ...` or an `inplace=True`
    method call on `s`. The rule is inactive when the project requires pandas ≥ 3, where the
    warning no longer exists; `df = df[mask]` (the frame is replaced by its subset) is not
    reported.

    ## Why is this bad?
    A boolean-mask or column-list subset is already a copy: pandas < 3 tracks it and emits
    `SettingWithCopyWarning` on the first write, and the original frame is never modified.
    The warning is the most common pandas noise in ML code, and the code does not say
    whether the author wanted to modify the original frame. `.loc`/`.iloc` row selections may
    even be views in pandas < 3, so whether the original changes depends on the selection.

    ## Example
    ```python
    late = orders[orders["days_late"] > 30]
    late["flag"] = True
    ```

    ## Use instead
    ```python
    late = orders[orders["days_late"] > 30].copy()
    late["flag"] = True
    # or, to change `orders` itself:
    orders.loc[orders["days_late"] > 30, "flag"] = True
    ```

    ## Fix safety
    The fix appends `.copy()` to the expression that creates the subset. It is safe for
    boolean-mask (`df[mask]`), column-list (`df[[...]]`, `df[cols]`) and `query(...)` subsets: these
    already returned a copy, so only the warning disappears. It is unsafe for `.loc`/`.iloc`
    selections, which can be views in pandas < 3.
    """

    code = "ML204"
    name = "subset-modified-without-copy"
    summary = (
        "A filtered subset is modified without `.copy()` (SettingWithCopyWarning; ambiguous intent)"
    )
    tier = 2
    fix_safety = (FixSafety.SAFE, FixSafety.UNSAFE)
    requires_text = ("pandas",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # pandas imported, `s = <frame>[mask | [cols] | name]` / `<frame>.loc|iloc[...]` /
        # `<frame>.query(...)`, and a write to `s[...]`, `s.loc|iloc|at|iat[...]` or an
        # `s.<m>(..., inplace=True)` statement; never when the project requires pandas >= 3
        version = (facts.library_versions or {}).get("pandas")
        if (version is not None and version[:1] >= (3,)) or not _imports_pandas(scan):
            return False
        subsets: set[str] = set()
        for node in scan.of(ast.Assign, ast.AnnAssign):
            if isinstance(node, ast.Assign):
                if len(node.targets) != 1:
                    continue
                target = node.targets[0]
            else:
                target = node.target
            if not isinstance(target, ast.Name) or node.value is None:
                continue
            base = _subset_base(node.value)
            if base is None or (isinstance(base, ast.Name) and base.id == target.id):
                continue
            if _maybe_frame(scan, base, FRAME_NAME_PATTERN):
                subsets.add(target.id)
        if not subsets:
            return False
        targets = _assign_targets(scan)
        targets.extend(n.target for n in scan.of(ast.AnnAssign))
        for t in targets:
            if isinstance(t, ast.Subscript):
                value = t.value
                if isinstance(value, ast.Attribute) and value.attr in _WRITE_ACCESSORS:
                    value = value.value
                if isinstance(value, ast.Name) and value.id in subsets:
                    return True
        calls = _inplace_calls(scan)
        if calls:
            statements = {id(stmt.value) for stmt in scan.of(ast.Expr)}
            for c in calls:
                recv = c.func.value  # type: ignore[attr-defined]
                if id(c) in statements and isinstance(recv, ast.Name) and recv.id in subsets:
                    return True
        return False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._active = self.ctx.imports("pandas") and not pandas_at_least(self.ctx, 3)
        #: (id(scope), name) -> the pending subset bound to that name
        self._subsets: dict[tuple[int, str], _Subset] = {}

    # -- bindings ------------------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        if not self._active:
            return
        for target in node.targets:
            self._check_write(target.target, node)
        subset = None
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            subset = self._subset(node.value, node.targets[0].target.value)
        for target in node.targets:
            for name in iter_names_in_target(target.target):
                self._rebind(name.value, subset)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if not self._active:
            return
        self._check_write(node.target, node)
        if isinstance(node.target, cst.Name) and node.value is not None:
            self._rebind(node.target.value, self._subset(node.value, node.target.value))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if not self._active:
            return
        self._check_write(node.target, node)
        if isinstance(node.target, cst.Name):
            self._rebind(node.target.value, None)

    def visit_For(self, node: cst.For) -> None:
        if self._active:
            for name in iter_names_in_target(node.target):
                self._rebind(name.value, None)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if self._active and node.asname is not None:
            for name in iter_names_in_target(node.asname.name):
                self._rebind(name.value, None)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if self._active and isinstance(node.target, cst.Name):
            self._rebind(node.target.value, None)

    def visit_Del(self, node: cst.Del) -> None:
        if self._active:
            for name in iter_names_in_target(node.target):
                self._rebind(name.value, None)

    def visit_Expr(self, node: cst.Expr) -> None:
        if not self._active:
            return
        mc = method_call(node.value)
        if mc is None or mc[1] not in INPLACE_METHODS:
            return
        assert isinstance(node.value, cst.Call)
        if inplace_true_arg(node.value) is None or not isinstance(mc[0], cst.Name):
            return
        self._report(mc[0].value, node.value)

    def _rebind(self, name: str, subset: _Subset | None) -> None:
        key = (id(self.ctx.scope), name)
        if subset is None:
            self._subsets.pop(key, None)
        else:
            self._subsets[key] = subset

    # -- subsets and writes ------------------------------------------------------------------
    def _subset(self, value: cst.BaseExpression, name: str) -> _Subset | None:
        form: str | None = None
        base: cst.BaseExpression | None = None
        if isinstance(value, cst.Subscript):
            inner = value.value
            if isinstance(inner, cst.Attribute) and inner.attr.value in ("loc", "iloc"):
                form, base = inner.attr.value, inner.value
            else:
                key = single_index(value)
                if key is None:
                    return None
                if isinstance(key, cst.List) or self._is_column_list_name(key):
                    form = "columns"
                elif self._is_mask(key):
                    form = "mask"
                else:
                    return None
                base = inner
        else:
            mc = method_call(value)
            if mc is None or mc[1] != "query":
                return None
            assert isinstance(value, cst.Call)
            if inplace_true_arg(value) is not None:
                return None
            form, base = "query", mc[0]
        if isinstance(base, cst.Name) and base.value == name:
            return None  # `df = df[mask]`: the frame is replaced by its subset
        if not is_frame(self.ctx, base):
            return None
        return _Subset(value, base, form)

    def _is_mask(self, key: cst.BaseExpression) -> bool:
        if is_mask_expression(key):
            return True
        if isinstance(key, cst.Name):
            bindings = self.ctx.bindings(key.value)
            return bool(bindings) and all(
                b.kind in ("assign", "annassign")
                and not b.unpacked
                and b.value is not None
                and is_mask_expression(b.value)
                for b in bindings
            )
        return False

    def _is_column_list_name(self, key: cst.BaseExpression) -> bool:
        """``features`` bound only to a list of column names: a list display, a list
        comprehension, ``list(...)`` or ``<...>.tolist()`` (``+=`` of such a list too). A name
        of any other or unknown type (``df[key]`` with a str key is a column) does not count."""
        if not isinstance(key, cst.Name):
            return False
        bindings = self.ctx.bindings(key.value)
        return bool(bindings) and all(
            b.kind in ("assign", "annassign", "augassign")
            and not b.unpacked
            and b.value is not None
            and self._list_valued(b.value, b)
            for b in bindings
        )

    def _list_valued(self, value: cst.BaseExpression, b: Binding) -> bool:
        if isinstance(value, (cst.List, cst.ListComp)):
            return True
        if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Add):
            # `feats + ["b"]`: list + list (anything else would raise)
            return isinstance(value.left, (cst.List, cst.ListComp)) or isinstance(
                value.right, (cst.List, cst.ListComp)
            )
        if not isinstance(value, cst.Call):
            return False
        func = value.func
        if isinstance(func, cst.Attribute):
            return func.attr.value == "tolist" and not value.args
        return self.ctx.qualname_in(func, b.scope or self.ctx.scope) == "builtins.list"

    def _check_write(self, target: cst.BaseExpression, stmt: cst.CSTNode) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._check_write(el.value, stmt)
            return
        if not isinstance(target, cst.Subscript):
            return
        value = target.value
        if isinstance(value, cst.Attribute) and value.attr.value in _WRITE_ACCESSORS:
            value = value.value
        if isinstance(value, cst.Name):
            self._report(value.value, target)

    def _report(self, name: str, node: cst.CSTNode) -> None:
        subset = self._subsets.get((id(self.ctx.scope), name))
        if subset is None or subset.reported:
            return
        subset.reported = True
        df = self.ctx.snippet(subset.base)
        if subset.form in ("loc", "iloc"):
            effect = f"does not reliably update '{df}' (never under pandas ≥ 3)"
            safety = FixSafety.UNSAFE
        else:
            effect = f"never updates '{df}'"
            safety = FixSafety.SAFE
        fix = Fix(safety, [(subset.value, self._with_copy(subset.value))])
        self.report(
            node,
            f"'{name}' is a subset of '{df}' created without .copy(); writing to it triggers "
            f"SettingWithCopyWarning (pandas < 3) and {effect} — add .copy() if you mean the "
            f"subset, or use {df}.loc[...] = ... to change {df}",
            fix,
        )

    @staticmethod
    def _with_copy(value: cst.BaseExpression) -> cst.BaseExpression:
        return cst.Call(func=cst.Attribute(value=value, attr=cst.Name("copy")))


def _subset_base(value: ast.expr) -> ast.expr | None:
    """``F`` of a subset-creating ``F[key]``, ``F.loc/.iloc[...]`` or ``F.query(...)``."""
    if isinstance(value, ast.Subscript):
        inner = value.value
        if isinstance(inner, ast.Attribute) and inner.attr in ("loc", "iloc"):
            return inner.value
        key = value.slice
        if isinstance(key, (ast.List, ast.Name)) or _ast_is_mask(key):
            return inner
        return None
    if (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr == "query"
    ):
        return value.func.value
    return None
