"""ML210 iterrows-row-modified."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Rule
from mllint.rules.pandas.chained_assignment import (
    _assign_targets,
    _imports_pandas,
    _maybe_frame,
)
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import iter_names_in_target
from mllint.semantics.pandas_facts import (
    FRAME_NAME_PATTERN,
    is_frame,
    method_call,
    pandas_at_least,
    single_index,
)
from mllint.semantics.walk import iter_descendants

_ROW_NON_COLUMNS = K.DATAFRAME_NON_COLUMNS | frozenset({"name", "dtype"})


def iterrows_loop(node: cst.For) -> tuple[cst.BaseExpression, str | None, str] | None:
    """(frame, index name, row name) of ``for <idx>, <row> in <frame>.iterrows():``."""
    mc = method_call(node.iter)
    if mc is None or mc[1] != "iterrows":
        return None
    assert isinstance(node.iter, cst.Call)
    if node.iter.args:
        return None
    target = node.target
    if not isinstance(target, (cst.Tuple, cst.List)) or len(target.elements) != 2:
        return None
    idx, row = target.elements[0].value, target.elements[1].value
    if not isinstance(row, cst.Name):
        return None
    return mc[0], idx.value if isinstance(idx, cst.Name) else None, row.value


class IterrowsRowModified(Rule):
    """
    ## What it does
    Flags assignments to the `row` yielded by `for idx, row in df.iterrows():` —
    `row["col"] = v`, `row.col = v`, `row.loc[...] = v`, `row.at[...] = v` and augmented
    assignments — when `df` is known to be a DataFrame or is named like one. Loops that
    rebind `row` or hand it on (`rows.append(row)`, `yield row`, `return row`, `f(row)`)
    build new rows on purpose and are not reported.

    ## Why is this bad?
    Under pandas ≥ 3 the row is always a copy, so the write is lost. Under pandas < 3 the
    row of a frame with a single dtype is a view and the write *does* reach the frame, while
    a mixed-dtype frame's row is a copy — so the outcome depends on the dtypes and the pandas
    version.

    ## Example
    ```python
    for idx, row in df.iterrows():
        row["label"] = int(row["score"] > 0.5)
    ```

    ## Use instead
    ```python
    df["label"] = (df["score"] > 0.5).astype(int)
    # or, when a loop is unavoidable:
    for idx, row in df.iterrows():
        df.at[idx, "label"] = int(row["score"] > 0.5)
    ```

    ## Fix safety
    There is no fix: the intended target of the write is the author's decision.
    """

    code = "ML210"
    name = "iterrows-row-modified"
    summary = "Assigning to the `row` yielded by `DataFrame.iterrows()`"
    tier = 3
    requires_text = ("iterrows",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # pandas imported, `for i, row in <x>.iterrows():` and an (augmented) assignment to
        # `row[...]`, `row.loc|at[...]` or `row.<col>`
        if not _imports_pandas(scan):
            return False
        rows: set[str] = set()
        for loop in scan.of(ast.For, ast.AsyncFor):
            it, target = loop.iter, loop.target
            if (
                isinstance(it, ast.Call)
                and isinstance(it.func, ast.Attribute)
                and it.func.attr == "iterrows"
                and not it.args
                and not it.keywords
                and isinstance(target, (ast.Tuple, ast.List))
                and len(target.elts) == 2
                and isinstance(target.elts[1], ast.Name)
                and _maybe_frame(scan, it.func.value, FRAME_NAME_PATTERN)
            ):
                rows.add(target.elts[1].id)
        if not rows:
            return False
        for t in _assign_targets(scan):
            if isinstance(t, ast.Subscript):
                value = t.value
                if isinstance(value, ast.Attribute) and value.attr in ("loc", "at"):
                    value = value.value
                if isinstance(value, ast.Name) and value.id in rows:
                    return True
            elif (
                isinstance(t, ast.Attribute)
                and isinstance(t.value, ast.Name)
                and t.value.id in rows
                and t.attr not in _ROW_NON_COLUMNS
                and not t.attr.startswith("_")
            ):
                return True
        return False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._gate = self.ctx.imports("pandas")
        self._never = pandas_at_least(self.ctx, 3)
        #: per loop: (frame text, idx, row) or None when the loop is not judged
        self._loops: dict[int, tuple[str, str | None, str] | None] = {}

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._gate:
            for target in node.targets:
                self._check(target.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if self._gate:
            self._check(node.target)

    def _check(self, target: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._check(el.value)
            return
        name, col = self._row_write(target)
        if name is None:
            return
        for anc in self.ctx.ancestors():
            if isinstance(anc, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                return
            if isinstance(anc, cst.For):
                info = self._loop(anc)
                if info is not None and info[2] == name:
                    self._report(target, info, col)
                    return

    @staticmethod
    def _row_write(target: cst.BaseExpression) -> tuple[str | None, str | None]:
        """(row name, column text) of ``row[...]``, ``row.<col>``, ``row.loc/at[...]``."""
        if isinstance(target, cst.Subscript):
            value = target.value
            key = single_index(target)
            if isinstance(value, cst.Attribute) and value.attr.value in ("loc", "at"):
                value = value.value
            if isinstance(value, cst.Name):
                col = None
                if key is not None and isinstance(key, cst.SimpleString):
                    col = key.value
                return value.value, col
            return None, None
        if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name):
            attr = target.attr.value
            if attr in _ROW_NON_COLUMNS or attr.startswith("_"):
                return None, None
            return target.value.value, f'"{attr}"'
        return None, None

    def _loop(self, loop: cst.For) -> tuple[str, str | None, str] | None:
        key = id(loop)
        if key not in self._loops:
            info = iterrows_loop(loop)
            result = None
            if info is not None and is_frame(self.ctx, info[0]):
                frame, idx, row = info
                if not self._row_escapes(loop, row):
                    result = (self.ctx.snippet(frame), idx, row)
            self._loops[key] = result
        return self._loops[key]

    @staticmethod
    def _row_escapes(loop: cst.For, row: str) -> bool:
        """The loop rebinds ``row`` or hands the bare row on (the author builds new rows)."""
        for n in iter_descendants(loop.body):
            if isinstance(n, (cst.Assign, cst.AugAssign, cst.AnnAssign)):
                targets = [t.target for t in n.targets] if isinstance(n, cst.Assign) else [n.target]
                if any(nm.value == row for t in targets for nm in iter_names_in_target(t)):
                    return True
                if n.value is not None and _is_row(n.value, row):
                    return True  # `new_row = row` aliases it
            elif isinstance(n, (cst.For, cst.WithItem)):
                t = n.target if isinstance(n, cst.For) else (n.asname.name if n.asname else None)
                if t is not None and any(nm.value == row for nm in iter_names_in_target(t)):
                    return True
            elif isinstance(n, cst.Arg) and _is_row(n.value, row):
                return True
            elif isinstance(n, (cst.Return, cst.Yield)) and n.value is not None:
                if _is_row(n.value, row):
                    return True
            elif isinstance(n, cst.Element) and _is_row(n.value, row):
                return True
        return False

    def _report(
        self, target: cst.BaseExpression, info: tuple[str, str | None, str], col: str | None
    ) -> None:
        frame, idx, row = info
        how = "never updates" if self._never else "does not reliably update"
        idx_text = idx if idx is not None and idx != "_" else "idx"
        self.report(
            target,
            f"'{row}' is a per-row Series built by iterrows(); writing to it {how} "
            f"'{frame}' — write with {frame}.loc[{idx_text}, {col or 'col'}] = ... or vectorise",
        )


def _is_row(expr: cst.CSTNode | None, row: str) -> bool:
    return isinstance(expr, cst.Name) and expr.value == row
